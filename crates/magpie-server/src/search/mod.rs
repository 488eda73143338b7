//! Message search (`message_search`): the checks and bounds around
//! [`magpie_store::SearchStore::message_search`], and the background
//! indexer ([`indexer`]) that keeps the index behind it.
//!
//! What bounds one user's effect on everyone else:
//! - the per-user search rate (`search_rate_per_user`, checked by the
//!   session before anything runs);
//! - a node-wide cap on searches running at once (`search_concurrency`):
//!   beyond it `overloaded`, so searches can never take every database
//!   connection from sends and syncs;
//! - the store's work limit per request ([`SearchLimits`]): a page that
//!   would read more of the index stops early with a cursor;
//! - the query's own bounds ([`MESSAGE_SEARCH_QUERY_MAX`] characters, at
//!   most [`magpie_store::search::text::QUERY_TERMS_MAX`] terms looked up)
//!   and the page's (count and frame bytes).

pub mod indexer;

use crate::conversations::{Conversations, unknown_conversation};
use crate::error::{from_store, invalid_args};
use crate::metrics::Metrics;
use crate::page::{ByteBudget, clamp_limit};
use magpie_proto::{
    ErrorBody, ErrorCode, MESSAGE_SEARCH_LIMIT_DEFAULT, MESSAGE_SEARCH_LIMIT_MAX,
    MESSAGE_SEARCH_QUERY_MAX, MessageSearch, MessageSearchOk, UserId,
};
use magpie_store::Store;
use magpie_store::search::text::Query;
use magpie_store::search::{SearchLimits, SearchRequest};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long a client refused for `search_concurrency` is asked to wait.
const BUSY_RETRY: Duration = Duration::from_millis(200);

/// The search service, held in `AppState`.
#[derive(Debug)]
pub struct Search {
    store: Arc<dyn Store>,
    conversations: Arc<Conversations>,
    metrics: Arc<Metrics>,
    limits: SearchLimits,
    /// Searches running on this node.
    running: Semaphore,
    max_frame_bytes: usize,
}

impl Search {
    /// The service over `store`; `tail` and `concurrency` from the config.
    pub fn new(
        store: Arc<dyn Store>,
        conversations: Arc<Conversations>,
        metrics: Arc<Metrics>,
        tail: usize,
        concurrency: usize,
        max_frame_bytes: usize,
    ) -> Search {
        Search {
            store,
            conversations,
            metrics,
            limits: SearchLimits {
                tail,
                ..SearchLimits::default()
            },
            running: Semaphore::new(concurrency),
            max_frame_bytes,
        }
    }

    /// `message_search`: check the arguments, then one bounded page.
    pub async fn message_search(
        &self,
        me: UserId,
        req: MessageSearch,
    ) -> Result<MessageSearchOk, ErrorBody> {
        if req.query.chars().count() > MESSAGE_SEARCH_QUERY_MAX {
            return Err(invalid_args(format!(
                "the query is limited to {MESSAGE_SEARCH_QUERY_MAX} characters"
            )));
        }
        let query = Query::parse(&req.query).map_err(|e| invalid_args(e.to_string()))?;
        let limit = clamp_limit(
            req.limit,
            MESSAGE_SEARCH_LIMIT_DEFAULT,
            MESSAGE_SEARCH_LIMIT_MAX,
        )?;
        if let (Some(after), Some(before)) = (req.after_ts, req.before_ts)
            && after >= before
        {
            return Err(invalid_args("after_ts must be before before_ts"));
        }
        if req.before.is_some_and(|b| b <= 0) {
            return Err(invalid_args("before must be a cursor from an earlier page"));
        }
        // A conversation named must be one the caller can read now (the
        // database says, not a cache: a member removed on another node
        // loses access at once), as for `history`.
        if let Some(conv) = req.conv
            && self
                .store
                .joined_seq(me, conv)
                .await
                .map_err(from_store)?
                .is_none()
        {
            return Err(unknown_conversation());
        }
        let from = match &req.from {
            Some(name) => Some(self.conversations.resolve_user(name).await?),
            None => None,
        };
        let _slot = self.running.try_acquire().map_err(|_| {
            ErrorBody::new(ErrorCode::Overloaded, "too many searches at once; retry")
                .retry_after(BUSY_RETRY)
        })?;
        let started = Instant::now();
        let page = self
            .store
            .message_search(&SearchRequest {
                user: me,
                query: &query,
                conv: req.conv,
                from,
                after_ts: req.after_ts,
                before_ts: req.before_ts,
                before: req.before,
                limit: limit as usize,
                limits: self.limits,
            })
            .await
            .map_err(from_store)?;
        self.metrics
            .search_seconds
            .observe(started.elapsed().as_secs_f64());
        // Keep the page within one frame (excerpts are short, so this
        // only bites with a small max_frame_bytes).
        let mut budget = ByteBudget::new(self.max_frame_bytes);
        let total = page.hits.len();
        let (hits, _) = budget.page(page.hits, limit);
        let next = if hits.len() < total {
            hits.last().map(|h| h.msg_id)
        } else {
            page.next
        };
        Ok(MessageSearchOk { hits, next })
    }
}
