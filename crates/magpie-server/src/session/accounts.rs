//! Requests of the accounts area: register, login, resume, logout, and
//! what logging in and out does to the session (router registration, the
//! session slot, the deadline timer).

use super::{Authed, Handled, Session};
use crate::auth::LoggedIn;
use crate::clock::now_ms;
use crate::messages::Actor;
use crate::router::{KickReason, SessionHandle, token_tag};
use magpie_proto::response::encode_ok;
use magpie_proto::{Authenticated, Empty, ErrorBody, Login, Register, Registered, Resume};

impl Session {
    pub(super) async fn register(&mut self, id: u64, r: Register) -> Result<Handled, ErrorBody> {
        self.require_anonymous()?;
        let (user_id, user) = self.state.auth.register(&r.user, &r.password).await?;
        Ok(Handled::Reply(encode_ok(id, &Registered { user_id, user })))
    }

    pub(super) async fn login(&mut self, id: u64, l: Login) -> Result<Handled, ErrorBody> {
        self.require_anonymous()?;
        let platform = l.platform.unwrap_or_default();
        let result = self
            .state
            .auth
            .login(&l.user, &l.password, l.device.as_deref(), platform)
            .await;
        let authenticated = self.logged_in(result)?;
        // The platform policy signs older devices out; the new login
        // stands even if that fails (it is retried at the next login).
        if let Some(authed) = &self.authed
            && let Err(e) = self
                .state
                .devices
                .logged_in(authed.actor.user_id, &authed.token_hash, platform, now_ms())
                .await
        {
            tracing::warn!(error = %e, "platform session policy not applied");
        }
        Ok(Handled::Reply(encode_ok(id, &authenticated)))
    }

    pub(super) async fn resume(&mut self, id: u64, r: Resume) -> Result<Handled, ErrorBody> {
        self.require_anonymous()?;
        let result = self.state.auth.resume(&r.token).await;
        let authenticated = self.logged_in(result)?;
        if let Some(authed) = &self.authed {
            self.state.devices.touch(authed.token_hash, now_ms());
        }
        Ok(Handled::Reply(encode_ok(id, &authenticated)))
    }

    /// Revoke this session's token and close its other connections, here
    /// and (through the router) on every node.
    pub(super) async fn logout(&mut self, id: u64) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let authed = self.authed()?;
        state.auth.logout(&authed.token_hash).await?;
        let tag = token_tag(&authed.token_hash);
        state
            .router
            .kick_token(authed.actor.user_id, tag, Some(self.id), KickReason::Logout);
        self.logged_out();
        Ok(Handled::Reply(encode_ok(id, &Empty {})))
    }

    /// Finish a login or resume: count it, and on success register the
    /// connection with the router so pushes start flowing.
    pub(super) fn logged_in(
        &mut self,
        result: Result<LoggedIn, ErrorBody>,
    ) -> Result<Authenticated, ErrorBody> {
        let metrics = &self.state.metrics;
        let login = result.inspect_err(|_| {
            metrics.login_failures.inc();
        })?;
        let ticket = self
            .state
            .throttle
            .admit_session(
                login.user_id,
                login.token_hash,
                login.expires_at,
                self.id,
                self.kick.clone(),
            )
            .inspect_err(|_| {
                // Nobody will ever hold the token this login just created.
                if login.token.is_some() {
                    let (state, hash) = (self.state.clone(), login.token_hash);
                    tokio::spawn(async move { state.auth.logout(&hash).await });
                }
            })?;
        metrics.logins.inc();
        let actor = Actor {
            user_id: login.user_id,
            username: login.username.clone(),
            session: self.id,
        };
        let here = self.state.router.session_opened(
            actor.user_id,
            SessionHandle {
                id: self.id,
                token_tag: token_tag(&login.token_hash),
                outbox: self.outbox.clone(),
                kick: self.kick.clone(),
            },
        );
        if here == 1 {
            self.state.presence.came_online(actor.user_id);
        }
        self.authed = Some(Authed {
            actor,
            token_hash: login.token_hash,
            ticket,
        });
        self.auth_changed = true;
        Ok(Authenticated {
            user_id: login.user_id,
            user: login.username,
            token: login.token,
            expires_at: login.expires_at,
        })
    }

    /// Stop receiving pushes (logout or end of connection).
    pub(super) fn logged_out(&mut self) {
        if let Some(authed) = self.authed.take() {
            let user = authed.actor.user_id;
            if self.state.router.session_closed(user, self.id) == Some(0) {
                self.state.presence.went_offline(user);
            }
            self.state.devices.touch(authed.token_hash, now_ms());
            self.auth_changed = true;
        }
    }
}
