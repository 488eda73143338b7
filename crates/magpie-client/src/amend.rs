//! The amend area as client calls: recall, edit, reactions, replies and
//! forwarding; plus [`apply`], how a client that keeps messages applies an
//! amending entry (recall, edit, reaction) to the entry it acts on, as
//! PROTOCOL.md section 10 describes.

use crate::{Client, ClientError};
use magpie_proto::{
    AmendOk, ConvId, Edit, Forward, ForwardOk, Message, MessageKind, React, ReactionCount, Recall,
    Recalled, Request, Send, SendOk, Seq,
};

/// A fresh client id for a send or a forward (a random UUID).
pub fn fresh_cmid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Client {
    /// Recall one of the caller's messages (or, as a group's owner or
    /// admin, a member's).
    pub async fn recall(&self, conv: ConvId, seq: Seq) -> Result<AmendOk, ClientError> {
        self.call(Request::Recall(Recall { conv, seq })).await
    }

    /// Replace the text of one of the caller's text messages.
    pub async fn edit(&self, conv: ConvId, seq: Seq, body: &str) -> Result<AmendOk, ClientError> {
        self.call(Request::Edit(Edit {
            conv,
            seq,
            body: body.to_owned(),
        }))
        .await
    }

    /// Add (or, with `remove`, take back) the caller's reaction.
    pub async fn react(
        &self,
        conv: ConvId,
        seq: Seq,
        emoji: &str,
        remove: bool,
    ) -> Result<AmendOk, ClientError> {
        self.call(Request::React(React {
            conv,
            seq,
            emoji: emoji.to_owned(),
            remove,
        }))
        .await
    }

    /// Send `body` into `conv` as a reply to entry `seq`, with a fresh
    /// client message id.
    pub async fn reply(&self, conv: ConvId, seq: Seq, body: &str) -> Result<SendOk, ClientError> {
        self.call(Request::Send(Send {
            conv: Some(conv),
            cmid: fresh_cmid(),
            body: body.to_owned(),
            reply: Some(seq),
            ..Send::default()
        }))
        .await
    }

    /// Forward entries (see [`Forward`]); a retry with the same `cmid`
    /// stores nothing twice.
    pub async fn forward(&self, forward: Forward) -> Result<ForwardOk, ClientError> {
        self.call(Request::Forward(forward)).await
    }
}

/// Apply an amending entry to the entry it acts on (`target.seq ==
/// entry.target`), as a client keeping messages does when the entry
/// arrives by push or sync. `me` is the caller's username (for a
/// reaction's `mine`). Entries of other kinds, or for another target,
/// change nothing. Applying an entry twice, or applying it to a target
/// fetched after it (history already shows its effect), is harmless.
pub fn apply(target: &mut Message, entry: &Message, me: &str) {
    if entry.target != Some(target.seq) || entry.conv != target.conv {
        return;
    }
    match entry.kind {
        MessageKind::Recall => {
            target.body.clear();
            target.file = None;
            target.mentions.clear();
            target.mention_all = false;
            target.reply = None;
            target.forwarded = None;
            target.record.clear();
            target.reactions.clear();
            target.recalled = Some(Box::new(Recalled {
                by: entry.from.clone(),
                ts: entry.ts,
            }));
        }
        // Edits arrive in seq order and a later one wins; one applied
        // again after a newer one (a replayed page) is older and skipped.
        MessageKind::Edit
            if target.recalled.is_none() && target.edited_ts.is_none_or(|ts| ts <= entry.ts) =>
        {
            target.body = entry.body.clone();
            target.edited_ts = Some(entry.ts);
        }
        MessageKind::Reaction if target.recalled.is_none() => {
            let Some(change) = &entry.reaction else {
                return;
            };
            let at = target
                .reactions
                .iter()
                .position(|r| r.emoji == change.emoji);
            let reaction = match at {
                Some(i) => &mut target.reactions[i],
                None => {
                    target.reactions.push(ReactionCount {
                        emoji: change.emoji.clone(),
                        count: 0,
                        mine: false,
                    });
                    let last = target.reactions.len() - 1;
                    &mut target.reactions[last]
                }
            };
            reaction.count = change.count;
            if entry.from == me {
                reaction.mine = change.add;
            }
            target.reactions.retain(|r| r.count > 0);
        }
        _ => {}
    }
}

/// After a recall, the quotes of replies to the recalled entry: call for
/// each kept message of the conversation when a recall entry arrives.
pub fn apply_to_quote(message: &mut Message, recall: &Message) {
    if recall.kind != MessageKind::Recall || recall.conv != message.conv {
        return;
    }
    if let Some(quote) = message.reply.as_mut()
        && Some(quote.seq) == recall.target
    {
        quote.excerpt.clear();
        quote.recalled = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use magpie_proto::{Quote, ReactionChange};

    fn message(seq: Seq, body: &str) -> Message {
        Message {
            conv: 1,
            seq,
            from: "ann".into(),
            body: body.into(),
            ts: 1_000,
            ..Message::default()
        }
    }

    fn entry(seq: Seq, kind: MessageKind, from: &str, target: Seq) -> Message {
        Message {
            conv: 1,
            seq,
            kind,
            from: from.into(),
            ts: 2_000 + seq,
            target: Some(target),
            ..Message::default()
        }
    }

    fn reaction(seq: Seq, from: &str, emoji: &str, add: bool, count: i64) -> Message {
        Message {
            reaction: Some(Box::new(ReactionChange {
                emoji: emoji.into(),
                add,
                count,
            })),
            ..entry(seq, MessageKind::Reaction, from, 1)
        }
    }

    #[test]
    fn recall_empties_the_target_and_its_quotes() {
        let mut target = message(1, "secret");
        let mut reply = Message {
            reply: Some(Box::new(Quote {
                seq: 1,
                from: "ann".into(),
                kind: MessageKind::Text,
                excerpt: "secret".into(),
                recalled: false,
            })),
            ..message(2, "what?")
        };
        let recall = entry(3, MessageKind::Recall, "ann", 1);
        apply(&mut target, &recall, "bob");
        apply_to_quote(&mut reply, &recall);
        assert!(target.body.is_empty());
        assert_eq!(target.recalled.as_ref().map(|r| r.by.as_str()), Some("ann"));
        let quote = reply.reply.expect("quote kept");
        assert!(quote.recalled && quote.excerpt.is_empty());
        // An edit after a recall changes nothing.
        let mut edit = entry(4, MessageKind::Edit, "ann", 1);
        edit.body = "back".into();
        apply(&mut target, &edit, "bob");
        assert!(target.body.is_empty());
    }

    #[test]
    fn edits_apply_in_order_and_twice_is_harmless() {
        let mut target = message(1, "helo");
        let mut first = entry(2, MessageKind::Edit, "ann", 1);
        first.body = "hello".into();
        let mut second = entry(3, MessageKind::Edit, "ann", 1);
        second.body = "hello!".into();
        apply(&mut target, &first, "bob");
        apply(&mut target, &second, "bob");
        apply(&mut target, &first, "bob");
        assert_eq!(target.body, "hello!");
        assert_eq!(target.edited_ts, Some(second.ts));
    }

    #[test]
    fn reactions_converge_on_counts_and_mine() {
        let mut target = message(1, "hi");
        for e in [
            reaction(2, "bob", "👍", true, 1),
            reaction(3, "cat", "👍", true, 2),
            reaction(4, "bob", "❤️", true, 1),
            reaction(5, "bob", "👍", false, 1),
        ] {
            apply(&mut target, &e, "bob");
        }
        let seen: Vec<(&str, i64, bool)> = target
            .reactions
            .iter()
            .map(|r| (r.emoji.as_str(), r.count, r.mine))
            .collect();
        assert_eq!(seen, vec![("👍", 1, false), ("❤️", 1, true)]);
        // The last one gone: the emoji disappears.
        apply(&mut target, &reaction(6, "bob", "❤️", false, 0), "bob");
        assert_eq!(target.reactions.len(), 1);
    }

    #[test]
    fn entries_for_other_targets_change_nothing() {
        let mut target = message(1, "hi");
        let before = target.clone();
        apply(&mut target, &entry(2, MessageKind::Recall, "ann", 9), "bob");
        apply(&mut target, &message(3, "plain"), "bob");
        assert_eq!(target, before);
    }
}
