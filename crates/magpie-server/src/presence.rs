//! The presence service: who is online, and telling their contacts.
//!
//! Where presence lives: the status a user chose (online, away, busy,
//! invisible) and its text are stored with the account; whether they are
//! connected is known only to the routers (in memory on each node, and in
//! Redis per node in a cluster, where a dead node's entries stop counting
//! once its heartbeat is stale). Nothing that says "online" is ever
//! written to the database, so a crash cannot leave a user online.
//!
//! What a change costs: when a user's first connection on a node opens,
//! or their last one closes, the contacts are read in one query and the
//! new presence is pushed to all of them with one delivery (one bus
//! publish in a cluster): never a query or a Redis call per contact. A
//! friend-list page learns its rows' presence with one query and at most
//! two Redis round trips.

use crate::error::{from_store, invalid_args};
use crate::router::Router;
use magpie_proto::limits::{PRESENCE_TEXT_MAX, check_line};
use magpie_proto::{ErrorBody, Friend, PresenceSet, PresenceState, Push, Status, UserId};
use magpie_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long after a user's last connection closes their contacts are
/// told they went offline: a reconnect within it (a phone changing
/// networks) is not shown as offline and back, and in a cluster it lets
/// the other nodes' counts settle before deciding.
pub const OFFLINE_GRACE: Duration = Duration::from_secs(2);

/// The presence service.
#[derive(Debug)]
pub struct Presence {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    /// Offline checks waiting out their grace period.
    pending: TaskTracker,
    /// Cancelled at shutdown: pending checks run at once.
    hurry: CancellationToken,
}

/// `chosen` as contacts see it: offline unless connected, and invisible
/// shows as offline. Offline carries no text.
pub fn as_seen(mut chosen: PresenceState, online: bool) -> PresenceState {
    if !online || matches!(chosen.status, Status::Invisible | Status::Offline) {
        chosen.status = Status::Offline;
        chosen.text.clear();
    }
    chosen
}

impl Presence {
    pub fn new(store: Arc<dyn Store>, router: Arc<dyn Router>) -> Presence {
        Presence {
            store,
            router,
            pending: TaskTracker::new(),
            hurry: CancellationToken::new(),
        }
    }

    /// At shutdown, after the last connection closed: run every pending
    /// offline check now and wait for them.
    pub async fn drain(&self) {
        self.hurry.cancel();
        self.pending.close();
        self.pending.wait().await;
    }

    /// `user`'s first connection on this node opened: tell the contacts.
    pub fn came_online(self: &Arc<Self>, user: UserId) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.announce(user, None).await {
                tracing::debug!(user, error = %e, "presence not announced");
            }
        });
    }

    /// `user`'s last connection on this node closed: after the grace
    /// period, if they have no connection anywhere, tell the contacts.
    pub fn went_offline(self: &Arc<Self>, user: UserId) {
        let this = self.clone();
        self.pending.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(OFFLINE_GRACE) => {}
                () = this.hurry.cancelled() => {}
            }
            if this.router.online(&[user]).await.contains(&user) {
                return;
            }
            if let Err(e) = this.announce(user, None).await {
                tracing::debug!(user, error = %e, "presence not announced");
            }
        });
    }

    /// Users whose node died: each that is connected nowhere now is
    /// announced offline (the cluster reaper calls this).
    pub async fn departed(&self, users: Vec<UserId>) {
        let still = self.router.online(&users).await;
        for user in users.into_iter().filter(|u| !still.contains(u)) {
            if let Err(e) = self.announce(user, None).await {
                tracing::debug!(user, error = %e, "presence not announced");
            }
        }
    }

    /// Push `user`'s current presence to every contact (and, with
    /// `own_view`, their own devices).
    async fn announce(
        &self,
        user: UserId,
        own_view: Option<&PresenceState>,
    ) -> Result<(), ErrorBody> {
        if let Some(own) = own_view {
            self.router
                .deliver(&[user], &Push::Presence(own.clone()).encode(), None);
        }
        // Contacts first: a user without any (most logins in a fresh
        // deployment, every bench user) costs this one query and no more.
        let contacts = self.store.contacts(user).await.map_err(from_store)?;
        if contacts.is_empty() {
            return Ok(());
        }
        let Some(chosen) = self
            .store
            .presences(&[user])
            .await
            .map_err(from_store)?
            .pop()
        else {
            return Ok(());
        };
        let online = self.router.online(&[user]).await.contains(&user);
        let frame = Push::Presence(as_seen(chosen, online)).encode();
        self.router.deliver(&contacts, &frame, None);
        Ok(())
    }

    /// `presence_set`: store the choice and tell contacts and the user's
    /// other devices. Returns the user's own view.
    pub async fn set(&self, me: UserId, req: PresenceSet) -> Result<PresenceState, ErrorBody> {
        if req.status == Status::Offline {
            return Err(invalid_args(
                "status must be online, away, busy or invisible",
            ));
        }
        if let Some(text) = &req.text {
            check_line("text", text, PRESENCE_TEXT_MAX).map_err(invalid_args)?;
        }
        let current = self
            .store
            .presences(&[me])
            .await
            .map_err(from_store)?
            .pop()
            .ok_or_else(|| invalid_args("no such user"))?;
        let text = req.text.unwrap_or(current.text);
        self.store
            .set_presence(me, req.status, &text)
            .await
            .map_err(from_store)?;
        let own = PresenceState {
            status: req.status,
            text,
            ..current
        };
        self.announce(me, Some(&own)).await?;
        Ok(own)
    }

    /// Tell two new friends each other's presence. Best effort: the
    /// friendship is committed whatever happens here, and the friend list
    /// carries presence anyway.
    pub async fn introduce(&self, a: UserId, b: UserId) {
        let chosen = match self.store.presences(&[a, b]).await {
            Ok(chosen) => chosen,
            Err(e) => {
                tracing::debug!(error = %e, "new friends not introduced");
                return;
            }
        };
        let online = self.router.online(&[a, b]).await;
        for state in chosen {
            let to = if state.user_id == a { b } else { a };
            let seen = as_seen(state.clone(), online.contains(&state.user_id));
            self.router
                .deliver(&[to], &Push::Presence(seen).encode(), None);
        }
    }

    /// Fill in the `presence` of friend-list rows.
    pub async fn decorate(&self, friends: &mut [Friend]) -> Result<(), ErrorBody> {
        let ids: Vec<UserId> = friends.iter().map(|f| f.user.user_id).collect();
        let chosen = self.store.presences(&ids).await.map_err(from_store)?;
        let online = self.router.online(&ids).await;
        let mut by_id: std::collections::HashMap<UserId, PresenceState> =
            chosen.into_iter().map(|s| (s.user_id, s)).collect();
        for friend in friends {
            if let Some(state) = by_id.remove(&friend.user.user_id) {
                let seen = online.contains(&state.user_id);
                friend.presence = Some(as_seen(state, seen));
            }
        }
        Ok(())
    }
}
