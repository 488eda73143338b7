//! Exactly-once, in-order delivery on top of pushes and `sync`.
//!
//! Every message has a position (`seq`) in its conversation, 1, 2, 3, …
//! without gaps. Pushes are fast but not sufficient: pushes sent while the
//! client was disconnected are lost, and a push can overtake or duplicate
//! what a `sync` returns. So a client remembers, per conversation, the
//! highest seq up to which it holds *every* message, shows a message only
//! when it is exactly the next one, and when it notices a hole asks the
//! server for everything above its positions. [`SyncState`] is that
//! bookkeeping; it is plain data, so an application can persist
//! [`SyncState::cursors`] and restore them with [`SyncState::from_cursors`].

use crate::{Client, ClientError};
use magpie_proto::{ConvId, Message, Seq};
use std::collections::BTreeMap;

/// Most messages asked for per `sync` round trip (the server's maximum).
const CATCH_UP_BATCH: u32 = 1000;

/// Per conversation, the highest seq held with no gap below it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncState {
    cursors: BTreeMap<ConvId, Seq>,
}

/// What [`SyncState::accept`] decided about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// The next message of its conversation: show it. The position advanced.
    New,
    /// Already held (seq at or below the position): do not show it again.
    Duplicate,
    /// Messages between the position and this one are missing: do not show
    /// it yet; call [`SyncState::catch_up`], which returns it in order with
    /// the missing ones.
    Gap,
}

impl SyncState {
    /// An empty state: the client holds nothing, so `catch_up` fetches every
    /// message the user has.
    pub fn new() -> Self {
        SyncState::default()
    }

    /// Restore a state saved from [`SyncState::cursors`], so a restarted
    /// client fetches only what it has not seen.
    pub fn from_cursors(cursors: BTreeMap<ConvId, Seq>) -> Self {
        SyncState { cursors }
    }

    /// Conversation → highest contiguous seq held; exactly the `cursors`
    /// argument `sync` wants.
    pub fn cursors(&self) -> &BTreeMap<ConvId, Seq> {
        &self.cursors
    }

    /// The highest contiguous seq held in `conv`; 0 if nothing is held.
    pub fn position(&self, conv: ConvId) -> Seq {
        self.cursors.get(&conv).copied().unwrap_or(0)
    }

    /// Decide whether `msg` is the next message of its conversation, one
    /// already held, or one beyond a hole. Only [`Accept::New`] advances the
    /// position.
    pub fn accept(&mut self, msg: &Message) -> Accept {
        let position = self.position(msg.conv);
        if msg.seq <= position {
            Accept::Duplicate
        } else if msg.seq == position.saturating_add(1) {
            self.cursors.insert(msg.conv, msg.seq);
            Accept::New
        } else {
            Accept::Gap
        }
    }

    /// Fetch everything above the current positions with repeated `sync`
    /// calls until the server has nothing more, and return the messages not
    /// held before, in (conversation, seq) order, advancing the positions.
    /// Messages already held are skipped, so calling this after a push, a
    /// reconnect or a gap never yields a message twice.
    pub async fn catch_up(&mut self, client: &Client) -> Result<Vec<Message>, ClientError> {
        let mut fresh = Vec::new();
        loop {
            let page = client.sync(&self.cursors, Some(CATCH_UP_BATCH)).await?;
            let mut advanced = false;
            let mut started = std::collections::HashSet::new();
            for msg in page.messages {
                // Sync answers each conversation with a contiguous run from
                // the first entry the user may read: above the cursor, or
                // above the point where they joined a group later. So the
                // first entry of a conversation in an answer is the next
                // one, even when it is beyond the position.
                if started.insert(msg.conv) && msg.seq > self.position(msg.conv) {
                    self.cursors.insert(msg.conv, msg.seq - 1);
                }
                match self.accept(&msg) {
                    Accept::New => {
                        advanced = true;
                        fresh.push(msg);
                    }
                    Accept::Duplicate => {}
                    Accept::Gap => tracing::warn!(
                        conv = msg.conv,
                        seq = msg.seq,
                        position = self.position(msg.conv),
                        "sync returned a message beyond a gap"
                    ),
                }
            }
            if !page.more {
                return Ok(fresh);
            }
            if !advanced {
                // Asking again with the same cursors would loop forever.
                return Err(ClientError::Protocol(
                    "sync reported more messages but returned none that advance".to_owned(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(conv: ConvId, seq: Seq) -> Message {
        Message {
            file: None,
            msg_id: conv.wrapping_mul(1000).wrapping_add(seq),
            conv,
            seq,
            from: "alice".into(),
            kind: magpie_proto::MessageKind::Text,
            body: format!("{conv}/{seq}"),
            ts: 0,
            cmid: format!("c{conv}-{seq}"),
            event: None,
            mention_all: false,
            mentions: Vec::new(),
            ..Message::default()
        }
    }

    /// Each case: starting cursors, the messages in arrival order with the
    /// expected verdict for each, and the cursors afterwards.
    #[test]
    fn accept_table() {
        type Case = (
            &'static str,
            &'static [(ConvId, Seq)],
            &'static [(ConvId, Seq, Accept)],
            &'static [(ConvId, Seq)],
        );
        let cases: &[Case] = &[
            (
                "empty state, first message",
                &[],
                &[(1, 1, Accept::New)],
                &[(1, 1)],
            ),
            (
                "in order",
                &[],
                &[
                    (1, 1, Accept::New),
                    (1, 2, Accept::New),
                    (1, 3, Accept::New),
                ],
                &[(1, 3)],
            ),
            (
                "repeat of the last",
                &[(1, 2)],
                &[(1, 2, Accept::Duplicate)],
                &[(1, 2)],
            ),
            (
                "older than the position",
                &[(1, 5)],
                &[(1, 1, Accept::Duplicate), (1, 4, Accept::Duplicate)],
                &[(1, 5)],
            ),
            ("gap on empty state", &[], &[(1, 2, Accept::Gap)], &[]),
            (
                "gap does not advance, the next one still fits",
                &[(1, 3)],
                &[
                    (1, 5, Accept::Gap),
                    (1, 4, Accept::New),
                    (1, 5, Accept::New),
                ],
                &[(1, 5)],
            ),
            (
                "conversations are independent",
                &[(1, 7)],
                &[
                    (2, 1, Accept::New),
                    (1, 8, Accept::New),
                    (2, 1, Accept::Duplicate),
                    (3, 4, Accept::Gap),
                ],
                &[(1, 8), (2, 1)],
            ),
            (
                "non-positive seqs are never new",
                &[],
                &[(1, 0, Accept::Duplicate), (1, -3, Accept::Duplicate)],
                &[],
            ),
            (
                "no overflow at the top",
                &[(1, Seq::MAX)],
                &[(1, Seq::MAX, Accept::Duplicate)],
                &[(1, Seq::MAX)],
            ),
        ];
        for (name, start, arrivals, end) in cases {
            let mut state = SyncState::from_cursors(start.iter().copied().collect());
            for (conv, seq, want) in *arrivals {
                assert_eq!(
                    state.accept(&msg(*conv, *seq)),
                    *want,
                    "{name}: conv {conv} seq {seq}"
                );
            }
            let want: BTreeMap<ConvId, Seq> = end.iter().copied().collect();
            assert_eq!(state.cursors(), &want, "{name}: final cursors");
        }
    }

    #[test]
    fn position_of_unknown_conversation_is_zero() {
        let state = SyncState::new();
        assert_eq!(state.position(42), 0);
    }
}
