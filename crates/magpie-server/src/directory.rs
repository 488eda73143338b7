//! The directory service: reading the department tree and a department's
//! members, and announcing a new version to every connected client.

use crate::error::from_store;
use crate::page::{ByteBudget, clamp_limit};
use crate::router::Router;
use magpie_proto::limits::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use magpie_proto::{
    DeptMembers, DeptMembersOk, DirectoryOk, DirectoryVersion, ErrorBody, Member, PresenceState,
    Push, Status, UserId,
};
use magpie_store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The directory service.
#[derive(Debug)]
pub struct Directory {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    max_frame_bytes: usize,
}

impl Directory {
    pub fn new(
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        max_frame_bytes: usize,
    ) -> Directory {
        Directory {
            store,
            router,
            max_frame_bytes,
        }
    }

    /// `directory`: the whole tree, each parent before its children,
    /// siblings by display order.
    pub async fn tree(&self) -> Result<DirectoryOk, ErrorBody> {
        let (version, mut departments) = self.store.directory().await.map_err(from_store)?;
        departments.sort_by_key(|d| (d.order, d.id));
        let mut children: HashMap<Option<i64>, Vec<usize>> = HashMap::new();
        for (i, d) in departments.iter().enumerate() {
            children.entry(d.parent).or_default().push(i);
        }
        // Depth first from the top level; the store refuses cycles, so
        // every department is reached once.
        let mut ordered = Vec::with_capacity(departments.len());
        let mut stack: Vec<usize> = children.get(&None).cloned().unwrap_or_default();
        stack.reverse();
        let mut seen = HashSet::new();
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            ordered.push(departments[i].clone());
            if let Some(kids) = children.get(&Some(departments[i].id)) {
                stack.extend(kids.iter().rev());
            }
        }
        Ok(DirectoryOk {
            version,
            departments: ordered,
        })
    }

    /// `dept_members`: one page of a department's members with titles
    /// and presence. Presence is shown to colleagues (callers who are in
    /// the directory themselves); others see everyone offline.
    pub async fn members(&self, me: UserId, req: DeptMembers) -> Result<DeptMembersOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let rows = self
            .store
            .dept_members(req.dept, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let colleague = self.store.dept_of(me).await.map_err(from_store)?.is_some();
        let ids: Vec<UserId> = rows
            .iter()
            .take(limit as usize)
            .map(|(card, _)| card.user_id)
            .collect();
        let (chosen, online) = if colleague {
            let chosen = self.store.presences(&ids).await.map_err(from_store)?;
            (chosen, self.router.online(&ids).await)
        } else {
            (Vec::new(), HashSet::new())
        };
        let mut chosen: HashMap<UserId, PresenceState> =
            chosen.into_iter().map(|p| (p.user_id, p)).collect();
        let mut members = Vec::with_capacity(rows.len());
        for (card, title) in rows {
            let presence = match chosen.remove(&card.user_id) {
                Some(p) => crate::presence::as_seen(p, online.contains(&card.user_id)),
                None => PresenceState {
                    user_id: card.user_id,
                    user: card.user.clone(),
                    status: Status::Offline,
                    text: String::new(),
                },
            };
            members.push(Member {
                user: card,
                title,
                presence,
            });
        }
        let (members, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(members, limit, |m| m.user.user_id);
        Ok(DeptMembersOk { members, next })
    }

    /// Tell every connected client, on every node, that the directory is
    /// now at `version`.
    pub fn announce(&self, version: i64) {
        let frame = Push::Directory(DirectoryVersion { version }).encode();
        self.router.broadcast_all(&frame);
    }
}
