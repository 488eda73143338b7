//! Devices: the login tokens of a user, seen as signed-in devices (name,
//! platform, when last seen). Revoking one is
//! [`crate::AccountStore::revoke_token`].

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{Platform, UserId};

/// Most devices [`DeviceStore::devices`] returns (the newest).
pub const DEVICES_LISTED: u32 = 1000;

/// One live token, as a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub token_hash: [u8; 32],
    pub name: String,
    pub platform: Platform,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

/// Signed-in devices.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Record a login session of `platform` under its token hash.
    #[allow(clippy::too_many_arguments)]
    async fn create_device_token(
        &self,
        token_hash: &[u8],
        user: UserId,
        name: &str,
        platform: Platform,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;

    /// `user`'s unexpired tokens at `now`, newest first, at most
    /// [`DEVICES_LISTED`].
    async fn devices(&self, user: UserId, now: i64) -> Result<Vec<DeviceRecord>>;

    /// Note that the device with this token was seen at `now`.
    async fn touch_token(&self, token_hash: &[u8], now: i64) -> Result<()>;
}
