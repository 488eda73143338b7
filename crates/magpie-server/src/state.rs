//! The state every connection shares, passed explicitly (no globals).

use crate::admin::Admin;
use crate::auth::Auth;
use crate::changes::Changes;
use crate::config::Config;
use crate::conv_settings::ConvSettingsService;
use crate::conversations::Conversations;
use crate::devices::Devices;
use crate::directory::Directory;
use crate::drive::Drive;
use crate::files::Files;
use crate::groups::Groups;
use crate::members::MemberSets;
use crate::messages::Messages;
use crate::metrics::Metrics;
use crate::people::People;
use crate::presence::Presence;
use crate::router::{QueueBudget, Router, SessionId};
use crate::search::Search;
use crate::throttle::{Limits, Throttle};
use crate::typing::TypingService;
use crate::writer::MessageWriter;
use magpie_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared server state: the configuration, one service per area, and the
/// machinery they share.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub router: Arc<dyn Router>,
    pub metrics: Arc<Metrics>,
    /// Accounts and login sessions.
    pub auth: Auth,
    /// Conversations, membership, the list, read marks.
    pub conversations: Arc<Conversations>,
    /// Sending, sync and history.
    pub messages: Messages,
    /// Profiles, search, friends, requests, categories, blocks.
    pub people: Arc<People>,
    /// The company directory.
    pub directory: Arc<Directory>,
    /// Groups: creating them, their members, roles and settings.
    pub groups: Groups,
    /// Accounts and departments, for administrators.
    pub admin: Admin,
    /// Signed-in devices and the platform session policy.
    pub devices: Devices,
    /// Who is online; telling contacts.
    pub presence: Arc<Presence>,
    /// Files: uploads, downloads, stored content.
    pub files: Arc<Files>,
    /// The personal drive and its share links.
    pub drive: Arc<Drive>,
    /// Full-text search over messages.
    pub search: Search,
    /// Users' change streams: reading them, pushing what was appended.
    pub changes: Arc<Changes>,
    /// Each member's own settings of a conversation (pinned, muted,
    /// marked unread, hidden, draft).
    pub conv_settings: ConvSettingsService,
    /// Typing notices: checked and pushed, never stored.
    pub typing: TypingService,
    /// Bytes queued for all connections (`max_queue_bytes_total`).
    pub queue_budget: Arc<QueueBudget>,
    /// Connection caps, rate limits and session limits.
    pub throttle: Throttle,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub connections: TaskTracker,
    next_session: AtomicU64,
}

impl AppState {
    /// Build the services over `store`, `router` and `writer`. The
    /// composition root: every shared piece is passed in explicitly.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        auth: Auth,
        writer: MessageWriter,
        sets: Arc<MemberSets>,
        metrics: Arc<Metrics>,
        files: Arc<Files>,
    ) -> AppState {
        let conversations = Arc::new(Conversations::new(
            store.clone(),
            writer.clone(),
            sets,
            config.max_frame_bytes,
        ));
        let changes = Arc::new(Changes::new(
            store.clone(),
            router.clone(),
            config.max_frame_bytes,
        ));
        let presence = Arc::new(Presence::new(store.clone(), router.clone()));
        let directory = Arc::new(Directory::new(
            store.clone(),
            router.clone(),
            config.max_frame_bytes,
        ));
        let devices = Devices::new(
            store.clone(),
            router.clone(),
            config.exclusive_platforms.clone(),
        );
        let people = Arc::new(People::new(
            store.clone(),
            conversations.clone(),
            changes.clone(),
            presence.clone(),
            config.messaging,
            config.max_frame_bytes,
            if config.redis_url.is_some() {
                crate::people::RELATION_TTL
            } else {
                crate::people::RELATION_TTL_SINGLE_NODE
            },
        ));
        let admin = Admin::new(
            store.clone(),
            router.clone(),
            conversations.clone(),
            directory.clone(),
            people.clone(),
            config.max_frame_bytes,
        );
        let groups = Groups::new(
            store.clone(),
            conversations.clone(),
            people.clone(),
            router.clone(),
            writer.clone(),
            config.group_member_limit,
            config.max_frame_bytes,
        );
        let messages = Messages::new(
            store.clone(),
            conversations.clone(),
            people.clone(),
            files.clone(),
            writer,
            crate::messages::MessageSettings {
                max_body_bytes: config.max_body_bytes,
                max_frame_bytes: config.max_frame_bytes,
                recall_window_ms: millis(config.recall_window),
                edit_window_ms: millis(config.edit_window),
            },
        );
        let conv_settings = ConvSettingsService::new(
            store.clone(),
            changes.clone(),
            config.max_body_bytes,
            config.max_frame_bytes,
        );
        let typing = TypingService::new(
            conversations.clone(),
            people.clone(),
            router.clone(),
            config.typing_max_members,
            u64::try_from(config.typing_ttl.as_millis()).unwrap_or(u64::MAX),
        );
        let queue_budget = Arc::new(QueueBudget::new(config.max_queue_bytes_total));
        let throttle = Throttle::new(Limits::from_config(&config), metrics.refusals.clone());
        let drive = Arc::new(Drive::new(
            store.clone(),
            files.clone(),
            changes.clone(),
            crate::drive::DriveSettings {
                bin_retention: config.drive_bin_retention,
                max_entries: config.max_drive_entries,
                max_copy: crate::drive::MAX_COPY,
            },
        ));
        let search = Search::new(
            store.clone(),
            conversations.clone(),
            metrics.clone(),
            config.search_tail,
            config.search_concurrency,
            config.max_frame_bytes,
        );
        AppState {
            search,
            drive,
            files,
            queue_budget,
            throttle,
            config,
            store,
            router,
            metrics,
            auth,
            conversations,
            messages,
            people,
            devices,
            directory,
            groups,
            admin,
            presence,
            changes,
            conv_settings,
            typing,
            shutdown: CancellationToken::new(),
            connections: TaskTracker::new(),
            next_session: AtomicU64::new(1),
        }
    }

    /// A process-unique id for a new connection.
    pub fn next_session_id(&self) -> SessionId {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
