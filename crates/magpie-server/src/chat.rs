//! The messaging service: checks and shapes every chat operation. It talks
//! to storage through the `Store` trait and to other sessions through the
//! writer and the router, never directly.

use crate::error::{from_store, invalid_args};
use crate::router::SessionId;
use crate::state::AppState;
use crate::writer::Outgoing;
use magpie_proto::limits::{
    CMID_MAX, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX, SYNC_LIMIT_DEFAULT, SYNC_LIMIT_MAX,
    normalize_username,
};
use magpie_proto::{
    ConvId, ConvKind, Conversation, ErrorBody, ErrorCode, History, HistoryOk, Message, ReadMark,
    Seq, Sync, SyncOk, UserId,
};
use magpie_store::{Appended, NewMessage};
use tokio::sync::oneshot;

/// The logged-in user a request acts for.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub session: SessionId,
}

/// Resolve a username to a user id, or `unknown_user`.
pub async fn resolve_user(state: &AppState, name: &str) -> Result<UserId, ErrorBody> {
    let unknown = || ErrorBody::new(ErrorCode::UnknownUser, format!("no user named {name:?}"));
    let name = normalize_username(name).ok_or_else(unknown)?;
    if let Some(id) = state.users.get(&name) {
        return Ok(id);
    }
    let record = state
        .store
        .user_by_name(&name)
        .await
        .map_err(from_store)?
        .ok_or_else(unknown)?;
    state.users.insert(name, record.id);
    Ok(record.id)
}

/// Check a `send` and queue it for the writer. The receiver yields the
/// storage result once the message is durable.
pub async fn send(
    state: &AppState,
    actor: &Actor,
    send: magpie_proto::Send,
    now: i64,
) -> Result<oneshot::Receiver<Result<Appended, ErrorBody>>, ErrorBody> {
    if send.cmid.is_empty() || send.cmid.len() > CMID_MAX {
        return Err(invalid_args(format!("cmid must be 1-{CMID_MAX} bytes")));
    }
    if send.body.is_empty() {
        return Err(invalid_args("body must not be empty"));
    }
    if send.body.contains('\0') || send.cmid.contains('\0') {
        return Err(invalid_args("text must not contain U+0000"));
    }
    if send.body.len() > state.config.max_body_bytes {
        return Err(ErrorBody::new(
            ErrorCode::BodyTooLarge,
            format!(
                "body is {} bytes; the limit is {}",
                send.body.len(),
                state.config.max_body_bytes
            ),
        ));
    }
    let recipient = resolve_user(state, &send.to).await?;
    if recipient == actor.user_id {
        return Err(invalid_args("cannot send a message to yourself"));
    }
    let to = normalize_username(&send.to).unwrap_or(send.to);
    let (reply, rx) = oneshot::channel();
    state
        .writer
        .submit(Outgoing {
            message: NewMessage {
                sender: actor.user_id,
                recipient,
                cmid: send.cmid,
                body: send.body,
                ts: now,
            },
            from: actor.username.clone(),
            to,
            origin: Some(actor.session),
            reply,
        })
        .await?;
    Ok(rx)
}

/// Room left in a response frame for its envelope (`{"id":..,"result":{..}}`).
const ENVELOPE_RESERVE: usize = 1024;

/// The exact size of a message's JSON encoding, to fill pages up to the
/// frame limit without ever exceeding it.
fn encoded_len(message: &Message) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Counting cannot fail; a failure would only undercount by nothing.
    let _ = serde_json::to_writer(&mut count, message);
    count.0 + 1 // the comma between array elements
}

/// Keeps a page within the response frame limit. The first message always
/// fits: configuration guarantees one worst-case message fits a frame.
struct ByteBudget {
    left: usize,
    taken: usize,
}

impl ByteBudget {
    fn new(state: &AppState) -> ByteBudget {
        ByteBudget {
            left: state
                .config
                .max_frame_bytes
                .saturating_sub(ENVELOPE_RESERVE),
            taken: 0,
        }
    }

    /// Whether `message` still fits; if so it is counted.
    fn take(&mut self, message: &Message) -> bool {
        let len = encoded_len(message);
        if self.taken > 0 && len > self.left {
            return false;
        }
        self.left = self.left.saturating_sub(len);
        self.taken += 1;
        true
    }
}

/// Messages the client lacks, across all its conversations, in
/// (conversation, seq) order: at most `limit` of them, and no more than fit
/// in one response frame.
pub async fn sync(state: &AppState, actor: &Actor, req: Sync) -> Result<SyncOk, ErrorBody> {
    let limit = clamp_limit(req.limit, SYNC_LIMIT_DEFAULT, SYNC_LIMIT_MAX)?;
    let mut budget = ByteBudget::new(state);
    let positions = state
        .store
        .conv_positions(actor.user_id)
        .await
        .map_err(from_store)?;
    let mut messages = Vec::new();
    let mut more = false;
    for (conv, last_seq) in positions {
        let held = req.cursors.get(&conv).copied().unwrap_or(0).max(0);
        if held >= last_seq {
            continue;
        }
        let room = limit - messages.len() as u32;
        if room == 0 {
            more = true;
            break;
        }
        let page = state
            .store
            .messages_after(conv, held, room)
            .await
            .map_err(from_store)?;
        if page.last().is_some_and(|m| m.seq < last_seq) {
            more = true;
        }
        for message in page {
            if !budget.take(&message) {
                return Ok(SyncOk {
                    messages,
                    more: true,
                });
            }
            messages.push(message);
        }
    }
    Ok(SyncOk { messages, more })
}

/// One page of a conversation's history.
pub async fn history(
    state: &AppState,
    actor: &Actor,
    req: History,
) -> Result<HistoryOk, ErrorBody> {
    let limit = clamp_limit(req.limit, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)?;
    let conv = match (req.conv, req.peer) {
        (Some(conv), None) => {
            require_member(state, actor, conv).await?;
            conv
        }
        (None, Some(peer)) => {
            let peer = resolve_user(state, &peer).await?;
            match state
                .store
                .direct_conv(actor.user_id, peer)
                .await
                .map_err(from_store)?
            {
                Some(conv) => conv,
                None => {
                    return Ok(HistoryOk {
                        conv: None,
                        messages: Vec::new(),
                        more: false,
                    });
                }
            }
        }
        _ => return Err(invalid_args("history takes exactly one of conv or peer")),
    };
    let before = req.before.unwrap_or(Seq::MAX);
    // One extra row tells whether an older page exists.
    let mut messages = state
        .store
        .messages_before(conv, before, limit + 1)
        .await
        .map_err(from_store)?;
    let mut more = messages.len() > limit as usize;
    if more {
        messages.remove(0);
    }
    // Keep the newest messages that fit in one frame.
    let mut budget = ByteBudget::new(state);
    let fitting = messages.iter().rev().take_while(|m| budget.take(m)).count();
    if fitting < messages.len() {
        messages.drain(..messages.len() - fitting);
        more = true;
    }
    Ok(HistoryOk {
        conv: Some(conv),
        messages,
        more,
    })
}

/// Move the read mark; returns the resulting mark.
pub async fn read(
    state: &AppState,
    actor: &Actor,
    conv: ConvId,
    seq: Seq,
) -> Result<ReadMark, ErrorBody> {
    if seq < 0 {
        return Err(invalid_args("seq must not be negative"));
    }
    let read_seq = state
        .store
        .mark_read(actor.user_id, conv, seq)
        .await
        .map_err(from_store)?
        .ok_or_else(unknown_conversation)?;
    Ok(ReadMark { conv, read_seq })
}

/// The caller's conversation list.
pub async fn conversations(
    state: &AppState,
    actor: &Actor,
) -> Result<Vec<Conversation>, ErrorBody> {
    let rows = state
        .store
        .conversations(actor.user_id)
        .await
        .map_err(from_store)?;
    Ok(rows
        .into_iter()
        .map(|c| Conversation {
            conv: c.conv,
            kind: ConvKind::Direct,
            peer: c.peer,
            unread: (c.last_seq - c.read_seq).max(0),
            last: c.last.map(|m: Message| m),
            max_seq: c.last_seq,
            read_seq: c.read_seq,
        })
        .collect())
}

async fn require_member(state: &AppState, actor: &Actor, conv: ConvId) -> Result<(), ErrorBody> {
    if state
        .store
        .is_member(actor.user_id, conv)
        .await
        .map_err(from_store)?
    {
        Ok(())
    } else {
        Err(unknown_conversation())
    }
}

fn unknown_conversation() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownConversation,
        "no such conversation, or you are not in it",
    )
}

fn clamp_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ErrorBody> {
    match limit {
        None => Ok(default),
        Some(0) => Err(invalid_args("limit must be at least 1")),
        Some(n) if n > max => Err(invalid_args(format!("limit must be at most {max}"))),
        Some(n) => Ok(n),
    }
}
