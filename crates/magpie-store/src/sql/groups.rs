//! [`GroupStore`] on SQL. Every change is one transaction (see the
//! `groups` module docs for its steps). Group changes are rare next to
//! messages, so their statements are rendered when run rather than kept
//! in a query table.

use super::{SqlStore, Tx, graph, text_column};
use crate::groups::{GroupApplied, GroupOp, GroupStore, MemberEntry, MemberSet, NewGroup};
use crate::{Refusal, Result, RuleFacts, authorize};
use async_trait::async_trait;
use magpie_proto::{
    AdminGroup, ChangeEvent, ConvId, GroupCard, GroupEvent, GroupFields, GroupInfo,
    GroupJoinRequest, GroupLeft, GroupMember, GroupRequestClosed, GroupRole, JoinOutcome,
    JoinPolicy, LeftReason, Message, MessageKind, Seq, UserId,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Group conversation kind in the `conversations.kind` column.
pub(super) const KIND_GROUP: i64 = 2;
/// Users bound in one `IN (...)` list.
const CHUNK: usize = 500;

pub(super) fn role_code(role: GroupRole) -> i64 {
    match role {
        GroupRole::Member => 0,
        GroupRole::Admin => 1,
        GroupRole::Owner => 2,
    }
}

fn role_from_code(code: i64) -> GroupRole {
    match code {
        2 => GroupRole::Owner,
        1 => GroupRole::Admin,
        _ => GroupRole::Member,
    }
}

fn policy_code(policy: JoinPolicy) -> i64 {
    match policy {
        JoinPolicy::Invite => 0,
        JoinPolicy::Open => 1,
        JoinPolicy::Request => 2,
    }
}

fn policy_from_code(code: i64) -> JoinPolicy {
    match code {
        1 => JoinPolicy::Open,
        2 => JoinPolicy::Request,
        _ => JoinPolicy::Invite,
    }
}

/// Most pending requests to join one group.
const REQUESTS_MAX: i64 = 500;

/// `?, ?, ...` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The columns of a [`GroupInfo`], in [`info_from_row`] order; the
/// caller's role comes last (a constant for [`GroupStore::group_public`]).
const INFO_COLUMNS: &str = "g.conv_id, g.name, g.avatar, g.description, g.announcement, \
     o.username, g.join_policy, g.history_visible, g.member_limit, g.temporary, g.muted_all, \
     g.member_count, c.last_seq, g.created_at";
const INFO_FROM: &str = "FROM chat_groups g JOIN conversations c ON c.id = g.conv_id \
     JOIN users o ON o.id = g.owner_id";

fn info_from_row(row: &AnyRow) -> sqlx::Result<GroupInfo> {
    Ok(GroupInfo {
        conv: row.try_get(0)?,
        name: text_column(row, 1)?,
        avatar: text_column(row, 2)?,
        description: text_column(row, 3)?,
        announcement: text_column(row, 4)?,
        owner: text_column(row, 5)?,
        join_policy: policy_from_code(row.try_get(6)?),
        history_visible: u32::try_from(row.try_get::<i64, _>(7)?).unwrap_or(0),
        member_limit: u32::try_from(row.try_get::<i64, _>(8)?).unwrap_or(0),
        temporary: row.try_get::<i64, _>(9)? != 0,
        muted_all: row.try_get::<i64, _>(10)? != 0,
        members: row.try_get(11)?,
        max_seq: row.try_get(12)?,
        created_at: row.try_get(13)?,
        role: role_from_code(row.try_get(14)?),
    })
}

/// A group's row as a change reads it under the conversation's lock.
#[derive(Debug, Clone)]
struct GroupRow {
    last_seq: Seq,
    name: String,
    avatar: String,
    description: String,
    announcement: String,
    join_policy: JoinPolicy,
    history_visible: u32,
    member_limit: i64,
    member_count: i64,
    temporary: bool,
    muted_all: bool,
}

/// One member's row as a change reads it.
#[derive(Debug, Clone)]
struct MemberRow {
    role: GroupRole,
    nickname: String,
    muted_until: i64,
}

/// What a change does, worked out before anything is written.
#[derive(Debug, Default)]
struct Effect {
    event: Option<GroupEvent>,
    /// New members with their role.
    came: Vec<(UserId, GroupRole)>,
    gone: Vec<UserId>,
    reason: Option<LeftReason>,
    dissolve: bool,
    /// Change-stream entries besides `group_joined`/`group_left` (join
    /// requests filed and closed).
    changes: Vec<(UserId, ChangeEvent)>,
    requested: bool,
}

impl SqlStore {
    /// Run `text` (rendered for this engine) with `users` bound as its
    /// `IN` list after `before`, chunked; rows from every chunk.
    async fn rows_for_users(
        &self,
        conn: &mut AnyConnection,
        template: &str,
        before: &[i64],
        users: &[UserId],
    ) -> sqlx::Result<Vec<AnyRow>> {
        let mut rows = Vec::new();
        for chunk in users.chunks(CHUNK) {
            let text = self
                .backend
                .render(&template.replace("{in}", &marks(chunk.len())));
            let mut q = sqlx::query(AssertSqlSafe(text));
            for v in before {
                q = q.bind(*v);
            }
            for user in chunk {
                q = q.bind(*user);
            }
            rows.extend(q.fetch_all(&mut *conn).await?);
        }
        Ok(rows)
    }

    /// Usernames of `users`.
    async fn usernames(
        &self,
        conn: &mut AnyConnection,
        users: &[UserId],
    ) -> sqlx::Result<BTreeMap<UserId, String>> {
        let rows = self
            .rows_for_users(
                conn,
                "SELECT id, username FROM users WHERE id IN ({in})",
                &[],
                users,
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, text_column(r, 1)?)))
            .collect()
    }

    async fn exec(
        &self,
        conn: &mut AnyConnection,
        template: &str,
        binds: &[Bind<'_>],
    ) -> sqlx::Result<()> {
        let text = self.backend.render(template);
        let mut q = sqlx::query(AssertSqlSafe(text));
        for b in binds {
            q = match b {
                Bind::I(v) => q.bind(*v),
                Bind::S(v) => q.bind(v.to_string()),
            };
        }
        q.execute(&mut *conn).await?;
        Ok(())
    }

    /// Insert new members at `joined_seq`, their read marks just before
    /// the event that brought them in.
    async fn insert_members(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        members: &[(UserId, GroupRole)],
        joined_seq: Seq,
        read_seq: Seq,
        now: i64,
    ) -> sqlx::Result<()> {
        for chunk in members.chunks(CHUNK / 2) {
            let values = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let text = self.backend.render(&format!(
                "INSERT INTO members (user_id, conv_id, read_seq, joined_seq, role, joined_at) \
                 VALUES {values}"
            ));
            let mut q = sqlx::query(AssertSqlSafe(text));
            for (user, role) in chunk {
                q = q
                    .bind(*user)
                    .bind(conv)
                    .bind(read_seq)
                    .bind(joined_seq)
                    .bind(role_code(*role))
                    .bind(now);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Append the event entry at `seq` and move the conversation's head
    /// and membership version to it.
    async fn write_event(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        seq: Seq,
        (actor, actor_name): (UserId, &str),
        event: &GroupEvent,
        now: i64,
    ) -> sqlx::Result<Message> {
        self.exec(
            conn,
            "UPDATE conversations SET last_seq = ?, last_ts = ?, members_seq = ? WHERE id = ?",
            &[Bind::I(seq), Bind::I(now), Bind::I(seq), Bind::I(conv)],
        )
        .await?;
        let value = event.to_value();
        let body = value.to_string();
        // Server-written entries take cmids clients may not use (`~`).
        let cmid = format!("~{conv}.{seq}");
        let text = self.backend.render(
            "INSERT INTO messages (conv_id, seq, sender_id, kind, cmid, body, ts) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        );
        let insert = sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .bind(seq)
            .bind(actor)
            .bind(super::kind_code(MessageKind::Event))
            .bind(cmid.clone())
            .bind(body)
            .bind(now);
        let msg_id = self.insert_id(conn, insert).await?;
        Ok(Message {
            msg_id,
            conv,
            seq,
            kind: MessageKind::Event,
            from: actor_name.to_string(),
            body: String::new(),
            ts: now,
            cmid,
            event: Some(value),
            ..Message::default()
        })
    }

    async fn create_group_tx(
        &self,
        conn: &mut AnyConnection,
        owner: UserId,
        group: &NewGroup,
        now: i64,
    ) -> Tx<GroupApplied> {
        let count = group.members.len() as i64 + 1;
        if count > i64::from(group.member_limit) {
            return Err(Refusal::LimitReached("group members").into());
        }
        let mut everyone: Vec<UserId> = vec![owner];
        everyone.extend(group.members.iter().copied().filter(|&u| u != owner));
        let names = self.usernames(conn, &everyone).await?;
        if names.len() != everyone.len() {
            return Err(Refusal::UnknownUser.into());
        }
        let text = self.backend.render(
            "INSERT INTO conversations (kind, last_seq, last_ts, created_at, members_seq) \
             VALUES (?, 0, ?, ?, 0) RETURNING id",
        );
        let insert = sqlx::query(AssertSqlSafe(text))
            .bind(KIND_GROUP)
            .bind(now)
            .bind(now);
        let conv = self.insert_id(conn, insert).await?;
        let text = self.backend.render(
            "INSERT INTO chat_groups (conv_id, name, avatar, description, announcement, owner_id, \
             join_policy, history_visible, member_limit, temporary, muted_all, dissolved, \
             member_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
        );
        sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .bind(group.name.clone())
            .bind(group.avatar.clone())
            .bind(group.description.clone())
            .bind(group.announcement.clone())
            .bind(owner)
            .bind(policy_code(group.join_policy))
            .bind(i64::from(group.history_visible))
            .bind(i64::from(group.member_limit))
            .bind(i64::from(group.temporary))
            .bind(everyone.len() as i64)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let roles: Vec<(UserId, GroupRole)> = everyone
            .iter()
            .map(|&u| {
                (
                    u,
                    if u == owner {
                        GroupRole::Owner
                    } else {
                        GroupRole::Member
                    },
                )
            })
            .collect();
        self.insert_members(conn, conv, &roles, 0, 0, now).await?;
        let name_of = |u: &UserId| names.get(u).cloned().unwrap_or_default();
        let event = GroupEvent::Created {
            by: name_of(&owner),
            name: group.name.clone(),
            members: everyone.iter().map(name_of).collect(),
            temporary: group.temporary,
        };
        let message = self
            .write_event(conn, conv, 1, (owner, &name_of(&owner)), &event, now)
            .await?;
        self.exec(
            conn,
            "UPDATE members SET read_seq = 1 WHERE conv_id = ? AND user_id = ?",
            &[Bind::I(conv), Bind::I(owner)],
        )
        .await?;
        let changes = roles
            .iter()
            .map(|&(user, role)| {
                let card = GroupCard {
                    conv,
                    name: group.name.clone(),
                    avatar: group.avatar.clone(),
                    role,
                    temporary: group.temporary,
                };
                (user, ChangeEvent::GroupJoined(card))
            })
            .collect();
        let written = self.append_changes(conn, now, changes).await?;
        Ok(GroupApplied {
            conv,
            event: Some(message),
            gone: Vec::new(),
            came: everyone,
            written,
            requested: false,
        })
    }

    /// The group's row under the conversation's lock, or `NotMember` for
    /// a conversation that is no live group.
    async fn lock_group(&self, conn: &mut AnyConnection, conv: ConvId) -> Tx<GroupRow> {
        let lock = self
            .backend
            .render("SELECT kind, last_seq FROM conversations WHERE id = ?{for_update}");
        let Some(row) = sqlx::query(AssertSqlSafe(lock))
            .bind(conv)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Err(Refusal::NotMember.into());
        };
        if row.try_get::<i64, _>(0)? != KIND_GROUP {
            return Err(Refusal::NotMember.into());
        }
        let last_seq: Seq = row.try_get(1)?;
        let read = self.backend.render(
            "SELECT name, avatar, description, announcement, join_policy, history_visible, \
             member_limit, member_count, temporary, muted_all, dissolved \
             FROM chat_groups WHERE conv_id = ?",
        );
        let Some(g) = sqlx::query(AssertSqlSafe(read))
            .bind(conv)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Err(Refusal::NotMember.into());
        };
        if g.try_get::<i64, _>(10)? != 0 {
            return Err(Refusal::NotMember.into());
        }
        Ok(GroupRow {
            last_seq,
            name: text_column(&g, 0)?,
            avatar: text_column(&g, 1)?,
            description: text_column(&g, 2)?,
            announcement: text_column(&g, 3)?,
            join_policy: policy_from_code(g.try_get(4)?),
            history_visible: u32::try_from(g.try_get::<i64, _>(5)?).unwrap_or(0),
            member_limit: g.try_get(6)?,
            member_count: g.try_get(7)?,
            temporary: g.try_get::<i64, _>(8)? != 0,
            muted_all: g.try_get::<i64, _>(9)? != 0,
        })
    }

    /// The memberships of `users` in `conv`.
    async fn member_rows(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        users: &[UserId],
    ) -> sqlx::Result<BTreeMap<UserId, MemberRow>> {
        let rows = self
            .rows_for_users(
                conn,
                "SELECT user_id, role, nickname, muted_until FROM members \
                 WHERE conv_id = ? AND user_id IN ({in})",
                &[conv],
                users,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    MemberRow {
                        role: role_from_code(r.try_get(1)?),
                        nickname: text_column(r, 2)?,
                        muted_until: r.try_get(3)?,
                    },
                ))
            })
            .collect()
    }

    /// The owner and admins of `conv`: who hears of join requests.
    async fn managers(&self, conn: &mut AnyConnection, conv: ConvId) -> sqlx::Result<Vec<UserId>> {
        let text = self
            .backend
            .render("SELECT user_id FROM members WHERE conv_id = ? AND role >= 1");
        sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }

    /// Whether `user` has a pending request to join `conv`.
    async fn has_request(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        user: UserId,
    ) -> sqlx::Result<bool> {
        let text = self
            .backend
            .render("SELECT 1 FROM group_requests WHERE conv_id = ? AND user_id = ?");
        Ok(sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?
            .is_some())
    }

    /// File `user`'s request to join `conv`, or renew it (new note and
    /// time); the applicant and the managers hear of it.
    async fn file_request(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        (user, name): (UserId, &str),
        note: &str,
        now: i64,
    ) -> Tx<Vec<(UserId, ChangeEvent)>> {
        if self.has_request(conn, conv, user).await? {
            self.exec(
                conn,
                "UPDATE group_requests SET note = ?, ts = ? WHERE conv_id = ? AND user_id = ?",
                &[Bind::S(note), Bind::I(now), Bind::I(conv), Bind::I(user)],
            )
            .await?;
        } else {
            let text = self
                .backend
                .render("SELECT COUNT(*) FROM group_requests WHERE conv_id = ?");
            let pending: i64 = sqlx::query(AssertSqlSafe(text))
                .bind(conv)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            if pending >= REQUESTS_MAX {
                return Err(Refusal::LimitReached("pending requests to join the group").into());
            }
            self.exec(
                conn,
                "INSERT INTO group_requests (conv_id, user_id, note, ts) VALUES (?, ?, ?, ?)",
                &[Bind::I(conv), Bind::I(user), Bind::S(note), Bind::I(now)],
            )
            .await?;
        }
        let request = GroupJoinRequest {
            conv,
            user_id: user,
            user: name.to_string(),
            note: note.to_string(),
            ts: now,
        };
        let mut told = self.managers(conn, conv).await?;
        told.push(user);
        Ok(told
            .into_iter()
            .map(|u| (u, ChangeEvent::GroupRequest(request.clone())))
            .collect())
    }

    /// End the pending requests of `users` (those that have one) with
    /// `outcome`: each applicant hears of it, and so do the managers
    /// (unless the group is gone, `outcome` dropped).
    async fn close_requests(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        users: &[(UserId, String)],
        outcome: JoinOutcome,
    ) -> sqlx::Result<Vec<(UserId, ChangeEvent)>> {
        let mut closed = Vec::new();
        for (user, name) in users {
            if !self.has_request(conn, conv, *user).await? {
                continue;
            }
            self.exec(
                conn,
                "DELETE FROM group_requests WHERE conv_id = ? AND user_id = ?",
                &[Bind::I(conv), Bind::I(*user)],
            )
            .await?;
            closed.push(GroupRequestClosed {
                conv,
                user_id: *user,
                user: name.clone(),
                outcome,
            });
        }
        if closed.is_empty() {
            return Ok(Vec::new());
        }
        let managers = if outcome == JoinOutcome::Dropped {
            Vec::new()
        } else {
            self.managers(conn, conv).await?
        };
        let mut changes = Vec::new();
        for c in closed {
            for &m in managers.iter().filter(|&&m| m != c.user_id) {
                changes.push((m, ChangeEvent::GroupRequestClosed(c.clone())));
            }
            changes.push((c.user_id, ChangeEvent::GroupRequestClosed(c)));
        }
        Ok(changes)
    }

    /// Who takes over a temporary group its owner leaves: an admin
    /// before a member, the earliest to join first.
    async fn successor(
        &self,
        conn: &mut AnyConnection,
        conv: ConvId,
        leaving: UserId,
    ) -> sqlx::Result<Option<UserId>> {
        let text = self.backend.render(
            "SELECT user_id FROM members WHERE conv_id = ? AND user_id <> ? \
             ORDER BY role DESC, joined_seq, user_id LIMIT 1",
        );
        let row = sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .bind(leaving)
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|r| r.try_get(0)).transpose()
    }

    async fn apply_group_tx(
        &self,
        conn: &mut AnyConnection,
        actor: UserId,
        conv: ConvId,
        op: &GroupOp,
        now: i64,
    ) -> Tx<GroupApplied> {
        let group = self.lock_group(conn, conv).await?;
        let target = match op {
            GroupOp::Remove(t)
            | GroupOp::SetRole(t, _)
            | GroupOp::Transfer(t)
            | GroupOp::Mute(t, _)
            | GroupOp::Approve(t)
            | GroupOp::Reject(t) => Some(*t),
            _ => None,
        };
        let mut involved = vec![actor];
        involved.extend(target);
        let rows = self.member_rows(conn, conv, &involved).await?;
        let me = rows.get(&actor).cloned();
        let them = target.and_then(|t| rows.get(&t).cloned());
        authorize(
            op,
            RuleFacts {
                join_policy: group.join_policy,
                temporary: group.temporary,
                actor: me.as_ref().map(|m| m.role),
                target: them.as_ref().map(|m| m.role),
            },
        )?;
        let mut names_needed = involved.clone();
        if let GroupOp::Invite(users) = op {
            names_needed.extend(users);
        }
        let names = self.usernames(conn, &names_needed).await?;
        let name = |u: UserId| names.get(&u).cloned().unwrap_or_default();
        let by = name(actor);
        let seq = group.last_seq + 1;
        let mut effect = Effect::default();
        match op {
            GroupOp::Invite(users) => {
                if users.iter().any(|u| !names.contains_key(u)) {
                    return Err(Refusal::UnknownUser.into());
                }
                let present = self.member_rows(conn, conv, users).await?;
                let fresh: Vec<UserId> = users
                    .iter()
                    .copied()
                    .filter(|u| !present.contains_key(u))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if !fresh.is_empty() {
                    if group.member_count + fresh.len() as i64 > group.member_limit {
                        return Err(Refusal::LimitReached("group members").into());
                    }
                    effect.event = Some(GroupEvent::Invited {
                        by: by.clone(),
                        users: fresh.iter().map(|&u| name(u)).collect(),
                    });
                    // An applicant invited meanwhile is in: their request
                    // is answered.
                    let named: Vec<(UserId, String)> =
                        fresh.iter().map(|&u| (u, name(u))).collect();
                    effect.changes = self
                        .close_requests(conn, conv, &named, JoinOutcome::Approved)
                        .await?;
                    effect.came = fresh.into_iter().map(|u| (u, GroupRole::Member)).collect();
                }
            }
            GroupOp::Join(note) if group.join_policy == JoinPolicy::Request => {
                effect.changes = self
                    .file_request(conn, conv, (actor, &by), note, now)
                    .await?;
                effect.requested = true;
            }
            GroupOp::Join(_) => {
                if group.member_count + 1 > group.member_limit {
                    return Err(Refusal::LimitReached("group members").into());
                }
                effect.event = Some(GroupEvent::Joined {
                    user: by.clone(),
                    by: None,
                });
                effect.came = vec![(actor, GroupRole::Member)];
                effect.changes = self
                    .close_requests(conn, conv, &[(actor, by.clone())], JoinOutcome::Approved)
                    .await?;
            }
            GroupOp::Approve(t) => {
                if !self.has_request(conn, conv, *t).await? {
                    return Err(Refusal::NoSuchRequest.into());
                }
                if group.member_count + 1 > group.member_limit {
                    return Err(Refusal::LimitReached("group members").into());
                }
                effect.event = Some(GroupEvent::Joined {
                    user: name(*t),
                    by: Some(by.clone()),
                });
                effect.came = vec![(*t, GroupRole::Member)];
                effect.changes = self
                    .close_requests(conn, conv, &[(*t, name(*t))], JoinOutcome::Approved)
                    .await?;
            }
            GroupOp::Reject(t) => {
                if !self.has_request(conn, conv, *t).await? {
                    return Err(Refusal::NoSuchRequest.into());
                }
                effect.changes = self
                    .close_requests(conn, conv, &[(*t, name(*t))], JoinOutcome::Rejected)
                    .await?;
            }
            GroupOp::Leave => {
                let mut heir = None;
                effect.gone = vec![actor];
                effect.reason = Some(LeftReason::Left);
                if me.as_ref().map(|m| m.role) == Some(GroupRole::Owner) {
                    // Only a temporary group's owner gets here (authorize).
                    match self.successor(conn, conv, actor).await? {
                        Some(next) => {
                            self.exec(
                                conn,
                                "UPDATE members SET role = 2 WHERE conv_id = ? AND user_id = ?",
                                &[Bind::I(conv), Bind::I(next)],
                            )
                            .await?;
                            self.exec(
                                conn,
                                "UPDATE chat_groups SET owner_id = ? WHERE conv_id = ?",
                                &[Bind::I(next), Bind::I(conv)],
                            )
                            .await?;
                            heir = self.usernames(conn, &[next]).await?.remove(&next);
                        }
                        None => effect.dissolve = true,
                    }
                } else if group.temporary && group.member_count <= 1 {
                    effect.dissolve = true;
                }
                effect.event = Some(GroupEvent::Left {
                    user: by.clone(),
                    owner: heir,
                });
            }
            GroupOp::Remove(t) => {
                effect.event = Some(GroupEvent::Removed {
                    by: by.clone(),
                    user: name(*t),
                });
                effect.gone = vec![*t];
                effect.reason = Some(LeftReason::Removed);
            }
            GroupOp::SetRole(t, role) => {
                if them.as_ref().map(|m| m.role) != Some(*role) {
                    self.exec(
                        conn,
                        "UPDATE members SET role = ? WHERE conv_id = ? AND user_id = ?",
                        &[Bind::I(role_code(*role)), Bind::I(conv), Bind::I(*t)],
                    )
                    .await?;
                    effect.event = Some(GroupEvent::Role {
                        by: by.clone(),
                        user: name(*t),
                        role: *role,
                    });
                }
            }
            GroupOp::Transfer(t) => {
                self.exec(
                    conn,
                    "UPDATE members SET role = CASE WHEN user_id = ? THEN 2 ELSE 1 END \
                     WHERE conv_id = ? AND user_id IN (?, ?)",
                    &[Bind::I(*t), Bind::I(conv), Bind::I(*t), Bind::I(actor)],
                )
                .await?;
                self.exec(
                    conn,
                    "UPDATE chat_groups SET owner_id = ? WHERE conv_id = ?",
                    &[Bind::I(*t), Bind::I(conv)],
                )
                .await?;
                effect.event = Some(GroupEvent::Transferred {
                    from: by.clone(),
                    to: name(*t),
                });
            }
            GroupOp::Mute(t, until) => {
                let was = them.as_ref().map_or(0, |m| m.muted_until);
                let lifted_already = *until == 0 && was <= now;
                if !lifted_already {
                    self.exec(
                        conn,
                        "UPDATE members SET muted_until = ? WHERE conv_id = ? AND user_id = ?",
                        &[Bind::I(*until), Bind::I(conv), Bind::I(*t)],
                    )
                    .await?;
                    effect.event = Some(GroupEvent::Muted {
                        by: by.clone(),
                        user: name(*t),
                        until: *until,
                    });
                }
            }
            GroupOp::MuteAll(on) => {
                if group.muted_all != *on {
                    self.exec(
                        conn,
                        "UPDATE chat_groups SET muted_all = ? WHERE conv_id = ?",
                        &[Bind::I(i64::from(*on)), Bind::I(conv)],
                    )
                    .await?;
                    effect.event = Some(GroupEvent::MutedAll {
                        by: by.clone(),
                        on: *on,
                    });
                }
            }
            GroupOp::Nickname(nickname) => {
                if me.as_ref().map(|m| m.nickname.as_str()) != Some(nickname.as_str()) {
                    self.exec(
                        conn,
                        "UPDATE members SET nickname = ? WHERE conv_id = ? AND user_id = ?",
                        &[Bind::S(nickname), Bind::I(conv), Bind::I(actor)],
                    )
                    .await?;
                    effect.event = Some(GroupEvent::Nickname {
                        user: by.clone(),
                        nickname: nickname.clone(),
                    });
                }
            }
            GroupOp::Update(fields) => {
                let changed = changed_fields(&group, fields);
                if !changed.is_empty() {
                    let merged = merge(&group, &changed);
                    self.exec(
                        conn,
                        "UPDATE chat_groups SET name = ?, avatar = ?, description = ?, \
                         announcement = ?, join_policy = ?, history_visible = ? WHERE conv_id = ?",
                        &[
                            Bind::S(&merged.name),
                            Bind::S(&merged.avatar),
                            Bind::S(&merged.description),
                            Bind::S(&merged.announcement),
                            Bind::I(policy_code(merged.join_policy)),
                            Bind::I(i64::from(merged.history_visible)),
                            Bind::I(conv),
                        ],
                    )
                    .await?;
                    effect.event = Some(GroupEvent::Updated {
                        by: by.clone(),
                        fields: changed,
                    });
                }
            }
            GroupOp::Dissolve | GroupOp::AdminDissolve => {
                effect.event = Some(GroupEvent::Dissolved { by: by.clone() });
                effect.dissolve = true;
            }
        }
        let Some(event) = effect.event else {
            // No event: a request filed or turned down, or a repeat.
            let written = self.append_changes(conn, now, effect.changes).await?;
            return Ok(GroupApplied {
                conv,
                event: None,
                gone: Vec::new(),
                came: Vec::new(),
                written,
                requested: effect.requested,
            });
        };
        let message = self
            .write_event(conn, conv, seq, (actor, &by), &event, now)
            .await?;
        if effect.dissolve {
            let text = self
                .backend
                .render("SELECT user_id FROM members WHERE conv_id = ?");
            let everyone: Vec<UserId> = sqlx::query(AssertSqlSafe(text))
                .bind(conv)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<sqlx::Result<_>>()?;
            effect.gone = everyone;
            if matches!(op, GroupOp::Dissolve | GroupOp::AdminDissolve) {
                effect.reason = Some(LeftReason::Dissolved);
            }
            let text = self.backend.render(
                "SELECT r.user_id, u.username FROM group_requests r \
                         JOIN users u ON u.id = r.user_id WHERE r.conv_id = ?",
            );
            let applicants: Vec<(UserId, String)> = sqlx::query(AssertSqlSafe(text))
                .bind(conv)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, text_column(r, 1)?)))
                .collect::<sqlx::Result<_>>()?;
            effect.changes = self
                .close_requests(conn, conv, &applicants, JoinOutcome::Dropped)
                .await?;
            self.exec(
                conn,
                "DELETE FROM members WHERE conv_id = ?",
                &[Bind::I(conv)],
            )
            .await?;
            self.exec(
                conn,
                "UPDATE chat_groups SET dissolved = 1, member_count = 0 WHERE conv_id = ?",
                &[Bind::I(conv)],
            )
            .await?;
        } else {
            for &user in &effect.gone {
                self.exec(
                    conn,
                    "DELETE FROM members WHERE conv_id = ? AND user_id = ?",
                    &[Bind::I(conv), Bind::I(user)],
                )
                .await?;
            }
            // A newcomer reads the last `history_visible` entries before
            // their join event, and the event itself.
            let joined_seq = (seq - 1 - i64::from(group.history_visible)).max(0);
            self.insert_members(conn, conv, &effect.came, joined_seq, seq - 1, now)
                .await?;
            let delta = effect.came.len() as i64 - effect.gone.len() as i64;
            if delta != 0 {
                self.exec(
                    conn,
                    "UPDATE chat_groups SET member_count = member_count + ? WHERE conv_id = ?",
                    &[Bind::I(delta), Bind::I(conv)],
                )
                .await?;
            }
            // The actor has read what they wrote.
            self.exec(
                conn,
                "UPDATE members SET read_seq = ? WHERE conv_id = ? AND user_id = ?",
                &[Bind::I(seq), Bind::I(conv), Bind::I(actor)],
            )
            .await?;
        }
        let reason = effect.reason.unwrap_or(LeftReason::Left);
        let mut changes: Vec<(UserId, ChangeEvent)> = Vec::new();
        for &(user, role) in &effect.came {
            let card = GroupCard {
                conv,
                name: group.name.clone(),
                avatar: group.avatar.clone(),
                role,
                temporary: group.temporary,
            };
            changes.push((user, ChangeEvent::GroupJoined(card)));
        }
        for &user in &effect.gone {
            let left = GroupLeft {
                conv,
                reason: if effect.dissolve && user != actor {
                    LeftReason::Dissolved
                } else {
                    reason
                },
                last_seq: seq,
            };
            changes.push((user, ChangeEvent::GroupLeft(left)));
        }
        changes.extend(effect.changes);
        let written = self.append_changes(conn, now, changes).await?;
        Ok(GroupApplied {
            conv,
            event: Some(message),
            gone: effect.gone,
            came: effect.came.into_iter().map(|(u, _)| u).collect(),
            written,
            requested: false,
        })
    }
}

/// A value bound to a statement run by [`SqlStore::exec`].
enum Bind<'a> {
    I(i64),
    S(&'a str),
}

/// The fields of `asked` that differ from the group's current ones.
fn changed_fields(group: &GroupRow, asked: &GroupFields) -> GroupFields {
    fn differs<T: PartialEq + Clone>(new: &Option<T>, old: &T) -> Option<T> {
        new.as_ref().filter(|v| *v != old).cloned()
    }
    GroupFields {
        name: differs(&asked.name, &group.name),
        avatar: differs(&asked.avatar, &group.avatar),
        description: differs(&asked.description, &group.description),
        announcement: differs(&asked.announcement, &group.announcement),
        join_policy: differs(&asked.join_policy, &group.join_policy),
        history_visible: differs(&asked.history_visible, &group.history_visible),
    }
}

/// The group's settings after `changed` is applied.
fn merge(group: &GroupRow, changed: &GroupFields) -> GroupRow {
    let mut merged = group.clone();
    if let Some(v) = &changed.name {
        merged.name = v.clone();
    }
    if let Some(v) = &changed.avatar {
        merged.avatar = v.clone();
    }
    if let Some(v) = &changed.description {
        merged.description = v.clone();
    }
    if let Some(v) = &changed.announcement {
        merged.announcement = v.clone();
    }
    if let Some(v) = changed.join_policy {
        merged.join_policy = v;
    }
    if let Some(v) = changed.history_visible {
        merged.history_visible = v;
    }
    merged
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(
        &self,
        owner: UserId,
        group: &NewGroup,
        now: i64,
    ) -> Result<GroupApplied> {
        graph!(self.create_group_tx(owner, group, now))
    }

    async fn apply_group(
        &self,
        actor: UserId,
        conv: ConvId,
        op: &GroupOp,
        now: i64,
    ) -> Result<GroupApplied> {
        graph!(self.apply_group_tx(actor, conv, op, now))
    }

    async fn group_info(&self, conv: ConvId, user: UserId) -> Result<Option<GroupInfo>> {
        let text = self.backend.render(&format!(
            "SELECT {INFO_COLUMNS}, m.role {INFO_FROM} \
             JOIN members m ON m.conv_id = g.conv_id AND m.user_id = ? \
             WHERE g.conv_id = ? AND g.dissolved = 0"
        ));
        let row = sqlx::query(AssertSqlSafe(text))
            .bind(user)
            .bind(conv)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.as_ref()
            .map(info_from_row)
            .transpose()
            .map_err(self.err())
    }

    async fn group_public(&self, conv: ConvId) -> Result<Option<GroupInfo>> {
        let text = self.backend.render(&format!(
            "SELECT {INFO_COLUMNS}, 0 {INFO_FROM} \
             WHERE g.conv_id = ? AND g.dissolved = 0 AND g.join_policy IN (1, 2)"
        ));
        let row = sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.as_ref()
            .map(info_from_row)
            .transpose()
            .map_err(self.err())
    }

    async fn group_requests(
        &self,
        conv: ConvId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<GroupJoinRequest>> {
        let text = self.backend.render(
            "SELECT r.user_id, u.username, r.note, r.ts FROM group_requests r \
             JOIN users u ON u.id = r.user_id \
             WHERE r.conv_id = ? AND r.user_id > ? ORDER BY r.user_id LIMIT ?",
        );
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok(GroupJoinRequest {
                    conv,
                    user_id: r.try_get(0)?,
                    user: text_column(r, 1)?,
                    note: text_column(r, 2)?,
                    ts: r.try_get(3)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn group_members(
        &self,
        conv: ConvId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<GroupMember>> {
        let text = self.backend.render(
            "SELECT m.user_id, u.username, m.role, m.nickname, m.muted_until, m.joined_at \
             FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.conv_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?",
        );
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                let muted_until: i64 = r.try_get(4)?;
                Ok(GroupMember {
                    user_id: r.try_get(0)?,
                    user: text_column(r, 1)?,
                    role: role_from_code(r.try_get(2)?),
                    nickname: text_column(r, 3)?,
                    muted_until: (muted_until > 0).then_some(muted_until),
                    joined_at: r.try_get(5)?,
                    // Presence is the server's to fill in (it is not stored).
                    status: Default::default(),
                    status_text: String::new(),
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn groups_of(&self, user: UserId, after: ConvId, limit: u32) -> Result<Vec<GroupInfo>> {
        let text = self.backend.render(&format!(
            "SELECT {INFO_COLUMNS}, m.role {INFO_FROM} \
             JOIN members m ON m.conv_id = g.conv_id AND m.user_id = ? \
             WHERE g.conv_id > ? AND g.dissolved = 0 ORDER BY g.conv_id LIMIT ?"
        ));
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(user)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(info_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn admin_groups(&self, after: ConvId, limit: u32) -> Result<Vec<AdminGroup>> {
        let text = self.backend.render(
            "SELECT g.conv_id, g.name, g.owner_id, u.username, g.member_count, g.temporary, \
                    g.created_at \
             FROM chat_groups g JOIN users u ON u.id = g.owner_id \
             WHERE g.conv_id > ? AND g.dissolved = 0 ORDER BY g.conv_id LIMIT ?",
        );
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok(AdminGroup {
                    conv: r.try_get(0)?,
                    name: text_column(r, 1)?,
                    owner_id: r.try_get(2)?,
                    owner: text_column(r, 3)?,
                    members: u32::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                    temporary: r.try_get::<i64, _>(5)? != 0,
                    created_at: r.try_get(6)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn member_set(&self, conv: ConvId) -> Result<Option<MemberSet>> {
        // One statement: version and members from one snapshot.
        let text = self.backend.render(
            "SELECT c.kind, c.members_seq, COALESCE(g.muted_all, 0), \
                    m.user_id, m.joined_seq, m.muted_until, m.role \
             FROM conversations c JOIN members m ON m.conv_id = c.id \
             LEFT JOIN chat_groups g ON g.conv_id = c.id \
             WHERE c.id = ? ORDER BY m.user_id",
        );
        let rows = sqlx::query(AssertSqlSafe(text))
            .bind(conv)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let head = || -> sqlx::Result<(i64, Seq, i64)> {
            Ok((first.try_get(0)?, first.try_get(1)?, first.try_get(2)?))
        };
        let (kind, version, muted_all) = head().map_err(self.err())?;
        let members = rows
            .iter()
            .map(|r| {
                Ok(MemberEntry {
                    user: r.try_get(3)?,
                    joined_seq: r.try_get(4)?,
                    muted_until: r.try_get(5)?,
                    role: role_from_code(r.try_get(6)?),
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())?;
        Ok(Some(MemberSet {
            version,
            group: kind == KIND_GROUP,
            muted_all: muted_all != 0,
            members,
        }))
    }
}
