//! `magpie client message-search`: full-text search over the caller's
//! messages (the `message_search` operation). `magpie client search` is
//! the people search, which came first, so this command carries the
//! operation's name.
//!
//! Prints a compact table (time, conversation, sender, excerpt) and the
//! cursor of the next page, or with `--json` exactly one document shaped
//! like the server's answer: `{"hits": [...], "next": ID}`.

use crate::cli_client::{Failure, Output};
use crate::cli_people::{Printer, cell, clean, table, time};
use clap::Args;
use magpie_client::Client;
use magpie_proto::{
    ConvId, MESSAGE_SEARCH_LIMIT_MAX, MESSAGE_SEARCH_QUERY_MAX, MessageSearch, MessageSearchOk,
};

/// The arguments of `message-search`.
#[derive(Args, Debug)]
pub struct MessageSearchArgs {
    /// The words to find (Chinese, Japanese and Korean by any characters;
    /// other words by their beginning; case and accents ignored).
    #[arg(value_name = "QUERY", value_parser = search_query)]
    pub query: String,
    /// Only this conversation or group.
    #[arg(long, visible_alias = "group", value_name = "ID")]
    pub conv: Option<ConvId>,
    /// Only messages sent by this user.
    #[arg(long, value_name = "USER")]
    pub from: Option<String>,
    /// Only messages sent at or after this time (ms since the epoch).
    #[arg(long, value_name = "TS")]
    pub after: Option<i64>,
    /// Only messages sent before this time (ms since the epoch).
    #[arg(long, value_name = "TS")]
    pub before: Option<i64>,
    /// Continue from a previous page's `next`.
    #[arg(long, value_name = "ID")]
    pub page: Option<i64>,
    /// Hits per page (server default 20, at most 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MESSAGE_SEARCH_LIMIT_MAX)))]
    pub limit: Option<u32>,
}

fn search_query(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("the search query must not be empty".to_owned());
    }
    if value.chars().count() > MESSAGE_SEARCH_QUERY_MAX {
        return Err(format!(
            "the search query is limited to {MESSAGE_SEARCH_QUERY_MAX} characters"
        ));
    }
    Ok(value.to_owned())
}

/// Run `message-search` on an authenticated client.
pub(crate) async fn perform(
    args: &MessageSearchArgs,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let page = client
        .message_search(MessageSearch {
            query: args.query.clone(),
            conv: args.conv,
            from: args.from.clone(),
            after_ts: args.after,
            before_ts: args.before,
            before: args.page,
            limit: args.limit,
        })
        .await?;
    Printer { out, json }.emit(&page, || show(&page))
}

fn show(page: &MessageSearchOk) -> String {
    let rows: Vec<Vec<String>> = page
        .hits
        .iter()
        .map(|h| {
            vec![
                time(h.ts),
                h.conv.to_string(),
                cell(&clean(&h.from)),
                clean(&h.excerpt),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        "no messages found".to_owned()
    } else {
        table(&["time", "conv", "from", "message"], &rows)
    };
    if let Some(next) = page.next {
        text.push_str(&format!("\nmore: --page {next}"));
    }
    text
}
