//! The amend area of the messages service: recall, edit and reactions
//! (entries that act on an earlier one, written by the writer in a
//! transaction of their own, see `writer.rs`), replies' quotes, and
//! forwarding (new messages made from readable ones).

use crate::error::{from_store, invalid_args};
use crate::messages::{Actor, Messages};
use crate::writer::{AmendJob, lost_reply};
use magpie_proto::limits::{
    CMID_MAX, EMOJI_BYTES_MAX, EMOJI_CHARS_MAX, EXCERPT_CHARS, FORWARD_MAX, FORWARD_TARGETS_MAX,
    RECORD_ITEM_BYTES,
};
use magpie_proto::{
    AmendOk, ConvId, Edit, ErrorBody, ErrorCode, Forward, ForwardMark, ForwardOk, Forwarded,
    Message, MessageKind, Quote, React, Recall, RecordItem, Seq, UserId,
};
use magpie_store::{AmendOp, Forwarding, NewAmend, NewMessage};
use tokio::sync::oneshot;

/// Room a forward's derived cmids add to the client's (`/d/i`).
const FORWARD_CMID_SUFFIX: usize = 8;

impl Messages {
    /// `recall`: withdraw a message for everyone.
    pub async fn recall(&self, actor: &Actor, req: Recall, now: i64) -> Result<AmendOk, ErrorBody> {
        let op = AmendOp::Recall {
            window_ms: self.settings.recall_window_ms,
        };
        self.amend(actor, req.conv, req.seq, op, now).await
    }

    /// `edit`: replace the text of one of the caller's messages.
    pub async fn edit(&self, actor: &Actor, req: Edit, now: i64) -> Result<AmendOk, ErrorBody> {
        self.check_body(&req.body)?;
        if req.body.is_empty() {
            return Err(invalid_args("body must not be empty"));
        }
        // Editing is speaking: a muted member or a blocked peer may not.
        self.speak_in(actor, req.conv, now).await?;
        let op = AmendOp::Edit {
            body: req.body,
            window_ms: self.settings.edit_window_ms,
        };
        self.amend(actor, req.conv, req.seq, op, now).await
    }

    /// `react`: add or take back a reaction.
    pub async fn react(&self, actor: &Actor, req: React, now: i64) -> Result<AmendOk, ErrorBody> {
        check_emoji(&req.emoji)?;
        self.speak_in(actor, req.conv, now).await?;
        let op = AmendOp::React {
            emoji: req.emoji,
            add: !req.remove,
        };
        self.amend(actor, req.conv, req.seq, op, now).await
    }

    /// Queue an amending entry and wait for it to be stored; then delete
    /// the bytes of a recalled file no file references any more.
    async fn amend(
        &self,
        actor: &Actor,
        conv: ConvId,
        seq: Seq,
        op: AmendOp,
        now: i64,
    ) -> Result<AmendOk, ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .amend(AmendJob {
                amend: NewAmend {
                    conv,
                    target: seq,
                    actor: actor.user_id,
                    actor_name: actor.username.clone(),
                    op,
                    now,
                },
                origin: Some(actor.session),
                reply,
            })
            .await?;
        let amended = rx.await.map_err(|_| lost_reply())??;
        for gone in amended.released {
            self.files.release(gone).await;
        }
        Ok(AmendOk {
            entry: amended.entry,
        })
    }

    /// The quote of entry `seq` of `conv` for a reply by `user`: it must
    /// be a message they can see that is not recalled.
    pub(crate) async fn quote(
        &self,
        user: UserId,
        conv: ConvId,
        seq: Seq,
    ) -> Result<Quote, ErrorBody> {
        let [original] = self
            .readable(user, conv, &[seq])
            .await?
            .try_into()
            .map_err(|_: Vec<Message>| {
                ErrorBody::new(ErrorCode::UnknownMessage, "no such message")
            })?;
        let excerpt = match &original.file {
            Some(file) if original.body.is_empty() => file.name.clone(),
            _ => original.body.chars().take(EXCERPT_CHARS).collect(),
        };
        Ok(Quote {
            seq,
            from: original.from,
            kind: original.kind,
            excerpt,
            recalled: false,
        })
    }

    /// The entries `seqs` of `conv`, each of which must be a message `user`
    /// can see (joined before it) that is not recalled; ascending.
    async fn readable(
        &self,
        user: UserId,
        conv: ConvId,
        seqs: &[Seq],
    ) -> Result<Vec<Message>, ErrorBody> {
        let joined = self
            .store
            .joined_seq(user, conv)
            .await
            .map_err(from_store)?
            .ok_or_else(crate::conversations::unknown_conversation)?;
        let found = self
            .store
            .messages_at(conv, seqs)
            .await
            .map_err(from_store)?;
        let mut wanted = seqs.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let visible: Vec<Message> = found.into_iter().filter(|m| m.seq > joined).collect();
        if visible.len() != wanted.len() {
            return Err(ErrorBody::new(
                ErrorCode::UnknownMessage,
                "no such message, or not one you can see",
            ));
        }
        if let Some(m) = visible
            .iter()
            .find(|m| !m.kind.is_message() || m.recalled.is_some())
        {
            return Err(ErrorBody::new(
                ErrorCode::NotAmendable,
                format!(
                    "entry {} is not a message that can be quoted or forwarded",
                    m.seq
                ),
            ));
        }
        Ok(visible)
    }

    /// `forward`: copy readable messages into other conversations, one
    /// new message each (marked forwarded) or all as one chat record.
    pub async fn forward(
        &self,
        actor: &Actor,
        req: Forward,
        now: i64,
    ) -> Result<ForwardOk, ErrorBody> {
        if req.cmid.is_empty() || req.cmid.len() > CMID_MAX - FORWARD_CMID_SUFFIX {
            return Err(invalid_args(format!(
                "cmid must be 1-{} bytes",
                CMID_MAX - FORWARD_CMID_SUFFIX
            )));
        }
        if req.cmid.starts_with('~') || req.cmid.contains('\0') {
            return Err(invalid_args(
                "cmid must not start with '~' or contain U+0000",
            ));
        }
        if req.seqs.is_empty() || req.seqs.len() > FORWARD_MAX {
            return Err(invalid_args(format!("forward 1-{FORWARD_MAX} messages")));
        }
        let targets = req.to_convs.len() + req.to_users.len();
        if targets == 0 || targets > FORWARD_TARGETS_MAX {
            return Err(invalid_args(format!(
                "forward to 1-{FORWARD_TARGETS_MAX} conversations or users"
            )));
        }
        let sources = self.readable(actor.user_id, req.conv, &req.seqs).await?;
        // Every destination is checked before anything is queued, so a
        // refused one leaves nothing half forwarded.
        let mut destinations = Vec::with_capacity(targets);
        for &conv in &req.to_convs {
            destinations.push(self.speak_in(actor, conv, now).await?);
        }
        for name in &req.to_users {
            let peer = self.conversations.resolve_user(name).await?;
            if peer != actor.user_id {
                self.people.may_message(actor.user_id, peer).await?;
            }
            destinations.push(
                self.conversations
                    .direct_with(actor.user_id, name, now)
                    .await?,
            );
        }
        let mut messages = Vec::new();
        for (d, target) in destinations.into_iter().enumerate() {
            let made = if req.merge {
                vec![record_of(&sources)]
            } else {
                let mut made = Vec::with_capacity(sources.len());
                for source in &sources {
                    made.push(self.copy_of(actor.user_id, source).await?);
                }
                made
            };
            for (i, (kind, body, file, forward)) in made.into_iter().enumerate() {
                let cmid = format!("{}/{d}/{i}", req.cmid);
                let stored = self
                    .queue(
                        actor,
                        target.members.clone(),
                        NewMessage {
                            conv: target.conv,
                            sender: actor.user_id,
                            kind,
                            cmid: cmid.clone(),
                            body,
                            ts: now,
                            file,
                            forward: Some(Box::new(forward)),
                            ..NewMessage::default()
                        },
                    )
                    .await?;
                messages.push((cmid, stored));
            }
        }
        let mut made = Vec::with_capacity(messages.len());
        for (cmid, stored) in messages {
            let a = stored.await.map_err(|_| lost_reply())??;
            made.push(Forwarded {
                conv: a.conv,
                seq: a.seq,
                msg_id: a.msg_id,
                cmid,
            });
        }
        Ok(ForwardOk { messages: made })
    }

    /// One forwarded copy of `source`: same kind and text, its file (a
    /// new file over the same content), and the mark of whose it first
    /// was (kept from the source if it was itself forwarded).
    async fn copy_of(&self, user: UserId, source: &Message) -> Result<Copy, ErrorBody> {
        let file = match &source.file {
            Some(file) => {
                self.attachment(user, source.kind, Some(file.id.as_str()))
                    .await?
            }
            None => None,
        };
        let forward = match source.kind {
            MessageKind::Record => Forwarding::Record(source.record.clone()),
            _ => Forwarding::Mark(match &source.forwarded {
                Some(mark) => (**mark).clone(),
                None => ForwardMark {
                    from: source.from.clone(),
                    ts: source.ts,
                },
            }),
        };
        Ok((source.kind, source.body.clone(), file, forward))
    }
}

/// A new message's kind, body, file and forwarding.
type Copy = (
    MessageKind,
    String,
    Option<Box<magpie_proto::FileInfo>>,
    Forwarding,
);

/// All of `sources` as one chat record: each message's sender, time, kind
/// and text (cut to [`RECORD_ITEM_BYTES`]) or file name.
fn record_of(sources: &[Message]) -> Copy {
    let items = sources
        .iter()
        .map(|m| RecordItem {
            from: m.from.clone(),
            ts: m.ts,
            kind: m.kind,
            body: cut_at(&m.body, RECORD_ITEM_BYTES).to_owned(),
            file_name: m.file.as_ref().map(|f| f.name.clone()),
        })
        .collect();
    (
        MessageKind::Record,
        String::new(),
        None,
        Forwarding::Record(items),
    )
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn cut_at(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A reaction is 1 to [`EMOJI_CHARS_MAX`] characters (at most
/// [`EMOJI_BYTES_MAX`] bytes) with no whitespace or control characters.
fn check_emoji(emoji: &str) -> Result<(), ErrorBody> {
    let chars = emoji.chars().count();
    if chars == 0
        || chars > EMOJI_CHARS_MAX
        || emoji.len() > EMOJI_BYTES_MAX
        || emoji.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid_args(format!(
            "emoji must be 1-{EMOJI_CHARS_MAX} characters without spaces or control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_rules() {
        for good in ["👍", "❤️", "👨‍👩‍👧", "+1", "好"] {
            assert!(check_emoji(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "\u{0}", "x\n", &"😀".repeat(17)] {
            assert!(check_emoji(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cuts_on_char_boundaries() {
        assert_eq!(cut_at("你好", 4), "你");
        assert_eq!(cut_at("abc", 10), "abc");
        assert_eq!(cut_at("ab你", 3), "ab");
    }
}
