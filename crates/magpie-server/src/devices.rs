//! The devices service: a user's signed-in devices (one per login token),
//! signing one out from another, and the session policy for platforms.
//!
//! The policy: each platform the operator lists as exclusive
//! (`exclusive_platforms`, default `mobile`) keeps one signed-in device
//! per user. Logging in on it signs the user's other devices of that
//! platform out: their tokens are revoked and their connections, on every
//! node, get `goaway` with reason `replaced`. That is the rule QQ and
//! TeamTalk users know: a new phone login ends the old phone's session,
//! while desktops, browsers and bots sign in side by side (bounded by
//! `max_sessions_per_user` and `max_tokens_per_user`).

use crate::error::from_store;
use crate::router::{KickReason, Router, token_tag};
use magpie_proto::{Device, DevicesOk, Empty, ErrorBody, ErrorCode, Platform, UserId};
use magpie_store::Store;
use std::sync::Arc;

/// The devices service.
#[derive(Debug)]
pub struct Devices {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    exclusive: Vec<Platform>,
}

/// A device's public id: its token's tag in hex. The tag is the first
/// 8 bytes of the SHA-256 of a 256-bit random token: it identifies the
/// token and reveals nothing that helps forge one.
fn device_id(token_hash: &[u8; 32]) -> String {
    format!("{:016x}", token_tag(token_hash))
}

impl Devices {
    pub fn new(
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        exclusive: Vec<Platform>,
    ) -> Devices {
        Devices {
            store,
            router,
            exclusive,
        }
    }

    /// `devices`: the caller's signed-in devices, newest first.
    pub async fn list(
        &self,
        me: UserId,
        current: &[u8; 32],
        now: i64,
    ) -> Result<DevicesOk, ErrorBody> {
        let records = self.store.devices(me, now).await.map_err(from_store)?;
        let online = self.router.online_tokens(me).await;
        let devices = records
            .into_iter()
            .map(|r| Device {
                id: device_id(&r.token_hash),
                online: online.contains(&token_tag(&r.token_hash)),
                current: &r.token_hash == current,
                name: r.name,
                platform: r.platform,
                created_at: r.created_at,
                last_seen: r.last_seen,
            })
            .collect();
        Ok(DevicesOk { devices })
    }

    /// `device_revoke`: sign one of the caller's devices out. Only the
    /// caller's own devices are looked at, so another user's id is simply
    /// unknown.
    pub async fn revoke(&self, me: UserId, id: &str, now: i64) -> Result<Empty, ErrorBody> {
        let records = self.store.devices(me, now).await.map_err(from_store)?;
        let record = records
            .iter()
            .find(|r| device_id(&r.token_hash) == id)
            .ok_or_else(|| {
                ErrorBody::new(ErrorCode::UnknownDevice, "you have no device with this id")
            })?;
        self.sign_out(me, &record.token_hash, KickReason::Revoked)
            .await
    }

    /// After a login of `platform`: apply the exclusive-platform rule.
    pub async fn logged_in(
        &self,
        me: UserId,
        token_hash: &[u8; 32],
        platform: Platform,
        now: i64,
    ) -> Result<(), ErrorBody> {
        if !self.exclusive.contains(&platform) {
            return Ok(());
        }
        let records = self.store.devices(me, now).await.map_err(from_store)?;
        // Only devices older than this login go: two logins racing each
        // other must not sign each other out (the newer one stays).
        let Some(mine) = records.iter().find(|r| &r.token_hash == token_hash) else {
            return Ok(());
        };
        let key = |r: &magpie_store::DeviceRecord| (r.created_at, r.token_hash);
        for old in records
            .iter()
            .filter(|r| r.platform == platform && key(r) < key(mine))
        {
            self.sign_out(me, &old.token_hash, KickReason::Replaced)
                .await?;
        }
        Ok(())
    }

    /// Revoke a token and close its connections everywhere.
    async fn sign_out(
        &self,
        me: UserId,
        token_hash: &[u8; 32],
        reason: KickReason,
    ) -> Result<Empty, ErrorBody> {
        self.store
            .revoke_token(token_hash)
            .await
            .map_err(from_store)?;
        self.router
            .kick_token(me, token_tag(token_hash), None, reason);
        Ok(Empty {})
    }

    /// Note that a device was seen now (best effort, in the background).
    pub fn touch(&self, token_hash: [u8; 32], now: i64) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(&token_hash, now).await {
                tracing::debug!(error = %e, "last_seen not updated");
            }
        });
    }
}
