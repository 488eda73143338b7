//! The messages service: sending into a conversation, catching up
//! (`sync`) and paging back (`history`). It checks and shapes each
//! operation; storage is reached through the store traits, other sessions
//! through the writer and the router.

use crate::conversations::{Conversations, Target};
use crate::error::{from_store, invalid_args};
use crate::files::Files;
use crate::members::Members;
use crate::page::{ByteBudget, clamp_limit};
use crate::people::People;
use crate::router::SessionId;
use crate::writer::{MessageWriter, Outgoing};
use magpie_proto::limits::{
    CMID_MAX, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX, MENTIONS_MAX, SYNC_LIMIT_DEFAULT,
    SYNC_LIMIT_MAX, normalize_username,
};
use magpie_proto::{
    ContentKind, ConvId, ErrorBody, ErrorCode, FileInfo, GroupRole, History, HistoryOk,
    MessageKind, Seq, Sync, SyncOk, UserId,
};
use magpie_store::{Appended, Mentions, NewMessage, SeqRange, Store};
use std::sync::Arc;
use tokio::sync::oneshot;

/// The logged-in user a request acts for.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub session: SessionId,
}

/// The messages service.
#[derive(Debug)]
pub struct Messages {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) conversations: Arc<Conversations>,
    pub(crate) people: Arc<People>,
    pub(crate) files: Arc<Files>,
    pub(crate) writer: MessageWriter,
    pub(crate) settings: MessageSettings,
}

/// The messages service's bounds and windows, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct MessageSettings {
    /// Largest body of a message (and of an edit).
    pub max_body_bytes: usize,
    /// Largest answer frame: `sync` and `history` pages stop before it.
    pub max_frame_bytes: usize,
    /// How long after sending a message its sender may recall it.
    pub recall_window_ms: i64,
    /// How long after sending a text message its sender may edit it.
    pub edit_window_ms: i64,
}

impl Messages {
    pub fn new(
        store: Arc<dyn Store>,
        conversations: Arc<Conversations>,
        people: Arc<People>,
        files: Arc<Files>,
        writer: MessageWriter,
        settings: MessageSettings,
    ) -> Messages {
        Messages {
            store,
            conversations,
            people,
            files,
            writer,
            settings,
        }
    }

    /// Check a `send`, resolve its conversation and queue it for the
    /// writer. The receiver yields the storage result once the message is
    /// durable.
    pub async fn send(
        &self,
        actor: &Actor,
        send: magpie_proto::Send,
        now: i64,
    ) -> Result<oneshot::Receiver<Result<Appended, ErrorBody>>, ErrorBody> {
        if send.cmid.is_empty() || send.cmid.len() > CMID_MAX {
            return Err(invalid_args(format!("cmid must be 1-{CMID_MAX} bytes")));
        }
        if send.cmid.starts_with('~') {
            return Err(invalid_args(
                "cmids starting with '~' are reserved for entries the server writes",
            ));
        }
        let kind = send.kind.unwrap_or(MessageKind::Text);
        if send.body.is_empty() && !kind.has_file() {
            return Err(invalid_args("body must not be empty"));
        }
        if send.cmid.contains('\0') {
            return Err(invalid_args("text must not contain U+0000"));
        }
        self.check_body(&send.body)?;
        let Target { conv, members } = match (&send.to, send.conv) {
            (Some(to), None) => {
                // The policy is checked before the conversation is opened:
                // a refused first message leaves nothing behind.
                let peer = self.conversations.resolve_user(to).await?;
                if peer != actor.user_id {
                    self.people.may_message(actor.user_id, peer).await?;
                }
                self.conversations
                    .direct_with(actor.user_id, to, now)
                    .await?
            }
            (None, Some(conv)) => self.speak_in(actor, conv, now).await?,
            _ => return Err(invalid_args("send takes exactly one of to or conv")),
        };
        let mention = self
            .mentions(actor.user_id, &members, &send.mentions, send.mention_all)
            .await?;
        let file = self
            .attachment(actor.user_id, kind, send.file.as_deref())
            .await?;
        let reply = match send.reply {
            Some(seq) => Some(Box::new(self.quote(actor.user_id, conv, seq).await?)),
            None => None,
        };
        self.queue(
            actor,
            members,
            NewMessage {
                file,
                conv,
                sender: actor.user_id,
                kind,
                cmid: send.cmid,
                body: send.body,
                ts: now,
                mention,
                reply,
                forward: None,
            },
        )
        .await
    }

    /// The conversation `conv` as the caller may write in it now: a
    /// member, not muted, and (1:1) allowed by the messaging policy.
    pub(crate) async fn speak_in(
        &self,
        actor: &Actor,
        conv: ConvId,
        now: i64,
    ) -> Result<Target, ErrorBody> {
        let target = self.conversations.target(actor.user_id, conv, now).await?;
        // A 1:1 conversation also follows the messaging policy.
        if !target.members.set.group
            && let Some(&peer) = target.members.users.iter().find(|&&m| m != actor.user_id)
        {
            self.people.may_message(actor.user_id, peer).await?;
        }
        Ok(target)
    }

    /// Hand a checked message to the writer; the receiver yields the
    /// storage result once it is durable.
    pub(crate) async fn queue(
        &self,
        actor: &Actor,
        members: Arc<Members>,
        message: NewMessage,
    ) -> Result<oneshot::Receiver<Result<Appended, ErrorBody>>, ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Outgoing {
                message,
                from: actor.username.clone(),
                members,
                origin: Some(actor.session),
                reply,
            })
            .await?;
        Ok(rx)
    }

    /// The file a message of `kind` carries: `file` must name a file the
    /// sender may read (their upload, or one they received: forwarding),
    /// whose content is what the kind says (an image for `image`, Opus in
    /// Ogg for `voice`, a video for `video`; anything for `file`). The
    /// message gets a file of its own (a fresh id), which the write batch
    /// records with the message.
    pub(crate) async fn attachment(
        &self,
        sender: UserId,
        kind: MessageKind,
        file: Option<&str>,
    ) -> Result<Option<Box<FileInfo>>, ErrorBody> {
        let wanted = match kind {
            MessageKind::Text => {
                return match file {
                    None => Ok(None),
                    Some(_) => Err(invalid_args(
                        "a text message carries no file: send it with kind file, image, voice or video",
                    )),
                };
            }
            MessageKind::Event
            | MessageKind::Recall
            | MessageKind::Edit
            | MessageKind::Reaction
            | MessageKind::Record => {
                return Err(invalid_args(
                    "entries of this kind are written by the server (see recall, edit, react, forward)",
                ));
            }
            MessageKind::File => None,
            MessageKind::Image => Some(ContentKind::Image),
            MessageKind::Voice => Some(ContentKind::Voice),
            MessageKind::Video => Some(ContentKind::Video),
        };
        let id = file.ok_or_else(|| invalid_args("a file message names its file"))?;
        let record = self
            .files
            .readable_by(sender, id)
            .await?
            .ok_or_else(crate::files::unknown_file)?;
        let mut info = crate::files::file_info(&record);
        if let Some(wanted) = wanted
            && info.media.kind != wanted
        {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMedia,
                format!(
                    "the file is not {}: its content reads as {}",
                    match wanted {
                        ContentKind::Image => "an image (JPEG, PNG, GIF or WebP that decodes)",
                        ContentKind::Voice => "a voice recording (Opus in Ogg or WebM)",
                        _ => "a video",
                    },
                    info.media.mime
                ),
            ));
        }
        info.id = crate::files::new_id();
        info.owner = sender;
        info.conv = None;
        info.seq = None;
        Ok(Some(Box::new(info)))
    }

    /// A body's bounds: no U+0000 (PostgreSQL cannot store it), at most
    /// `max_body_bytes`.
    pub(crate) fn check_body(&self, body: &str) -> Result<(), ErrorBody> {
        if body.contains('\0') {
            return Err(invalid_args("text must not contain U+0000"));
        }
        if body.len() > self.settings.max_body_bytes {
            return Err(ErrorBody::new(
                ErrorCode::BodyTooLarge,
                format!(
                    "body is {} bytes; the limit is {}",
                    body.len(),
                    self.settings.max_body_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Check a message's @mentions against the group it goes to: members
    /// only, at most [`MENTIONS_MAX`], and @all from the owner and admins
    /// only. `None` when it mentions nobody.
    async fn mentions(
        &self,
        sender: UserId,
        members: &Members,
        names: &[String],
        all: bool,
    ) -> Result<Option<Mentions>, ErrorBody> {
        if names.is_empty() && !all {
            return Ok(None);
        }
        if !members.set.group {
            return Err(invalid_args("mentions are for group messages"));
        }
        if names.len() > MENTIONS_MAX {
            return Err(invalid_args(format!(
                "at most {MENTIONS_MAX} mentions per message"
            )));
        }
        if all
            && members
                .get(sender)
                .is_none_or(|m| m.role < GroupRole::Admin)
        {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "not allowed: only the owner and admins mention everyone",
            ));
        }
        let mut users: Vec<(UserId, String)> = Vec::with_capacity(names.len());
        for name in names {
            let id = self.conversations.resolve_user(name).await?;
            if members.get(id).is_none() {
                return Err(ErrorBody::new(
                    ErrorCode::UnknownUser,
                    format!("{name:?} is not a member of the group"),
                ));
            }
            if !users.iter().any(|(u, _)| *u == id) {
                users.push((id, normalize_username(name).unwrap_or_else(|| name.clone())));
            }
        }
        Ok(Some(Mentions { users, all }))
    }

    /// Entries the client lacks, across all its conversations, in
    /// (conversation, seq) order: at most `limit` of them, and no more than
    /// fit in one response frame. Two statements whatever the number of
    /// conversations: the user's positions, then every lagging range at
    /// once. Sequences are gapless, so the ranges are sized exactly.
    pub async fn sync(&self, actor: &Actor, req: Sync) -> Result<SyncOk, ErrorBody> {
        let limit = Seq::from(clamp_limit(req.limit, SYNC_LIMIT_DEFAULT, SYNC_LIMIT_MAX)?);
        let positions = self
            .store
            .positions(actor.user_id)
            .await
            .map_err(from_store)?;
        let mut ranges = Vec::new();
        let mut room = limit;
        let mut more = false;
        for p in positions {
            let held = req
                .cursors
                .get(&p.conv)
                .copied()
                .unwrap_or(0)
                .max(p.joined_seq)
                .max(0);
            let lag = p.last_seq - held;
            if lag <= 0 {
                continue;
            }
            if room == 0 {
                more = true;
                break;
            }
            let take = lag.min(room);
            more |= take < lag;
            room -= take;
            ranges.push(SeqRange {
                conv: p.conv,
                after: held,
                upto: held + take,
            });
        }
        let mut fetched = self.store.messages_in(&ranges).await.map_err(from_store)?;
        self.mark_my_reactions(actor.user_id, &mut fetched).await?;
        let mut budget = ByteBudget::new(self.settings.max_frame_bytes);
        let mut messages = Vec::with_capacity(fetched.len());
        for message in fetched {
            if !budget.take(&message) {
                more = true;
                break;
            }
            messages.push(message);
        }
        Ok(SyncOk { messages, more })
    }

    /// Set `mine` on the reactions of `messages` the caller is among: one
    /// query, and only when a message of the page has reactions.
    async fn mark_my_reactions(
        &self,
        user: UserId,
        messages: &mut [magpie_proto::Message],
    ) -> Result<(), ErrorBody> {
        let reacted: Vec<(ConvId, Seq)> = messages
            .iter()
            .filter(|m| !m.reactions.is_empty())
            .map(|m| (m.conv, m.seq))
            .collect();
        if reacted.is_empty() {
            return Ok(());
        }
        let mine = self
            .store
            .my_reactions(user, &reacted)
            .await
            .map_err(from_store)?;
        magpie_store::amend::mark_mine(messages, &mine);
        Ok(())
    }

    /// One page of a conversation's history, newest last.
    pub async fn history(&self, actor: &Actor, req: History) -> Result<HistoryOk, ErrorBody> {
        let limit = clamp_limit(req.limit, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)?;
        // Reads check membership in the database, not the cache: a member
        // removed on another node must lose access at once.
        let (conv, joined_seq) = match (req.conv, req.peer) {
            (Some(conv), None) => match self
                .store
                .joined_seq(actor.user_id, conv)
                .await
                .map_err(from_store)?
            {
                Some(joined) => (conv, joined),
                None => return Err(crate::conversations::unknown_conversation()),
            },
            (None, Some(peer)) => {
                match self
                    .conversations
                    .existing_direct(actor.user_id, &peer)
                    .await?
                {
                    Some(conv) => (conv, 0),
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
        let mut messages = self
            .store
            .messages_before(conv, before, limit + 1)
            .await
            .map_err(from_store)?;
        let mut more = messages.len() > limit as usize;
        if more {
            messages.remove(0);
        }
        // Nothing from before the caller joined (beyond what the group
        // shows newcomers).
        if messages.first().is_some_and(|m| m.seq <= joined_seq) {
            messages.retain(|m| m.seq > joined_seq);
            more = false;
        }
        self.mark_my_reactions(actor.user_id, &mut messages).await?;
        // Keep the newest messages that fit in one frame.
        let mut budget = ByteBudget::new(self.settings.max_frame_bytes);
        let fitting = messages
            .iter()
            .rev()
            .take_while(|m| budget.take(*m))
            .count();
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
}
