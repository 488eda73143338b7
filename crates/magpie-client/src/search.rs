//! Message search, as client calls: [`Client::message_search`] for one
//! page, and [`Client::message_search_all`] that follows the cursors.

use crate::{Client, ClientError};
use magpie_proto::{MessageSearch, MessageSearchOk, Request, SearchHit};

impl Client {
    /// `message_search`: one page of the caller's messages matching
    /// `query.query`, newest first. A page may be short (even empty) with
    /// `next` set when the server stopped at its work limit; ask again
    /// with `before = next` to go on.
    pub async fn message_search(
        &self,
        query: MessageSearch,
    ) -> Result<MessageSearchOk, ClientError> {
        self.call(Request::MessageSearch(query)).await
    }

    /// Every hit of `query`, newest first, following `next` until the end
    /// or until `max` hits. Each page counts against the server's search
    /// rate.
    pub async fn message_search_all(
        &self,
        query: MessageSearch,
        max: usize,
    ) -> Result<Vec<SearchHit>, ClientError> {
        let mut hits = Vec::new();
        let mut page_query = query;
        while hits.len() < max {
            let page = self.message_search(page_query.clone()).await?;
            hits.extend(page.hits);
            match page.next {
                Some(next) => page_query.before = Some(next),
                None => break,
            }
        }
        hits.truncate(max);
        Ok(hits)
    }
}
