//! The people area and the change stream, as client calls: one method per
//! operation, named like it, plus [`Client::catch_up_changes`] for the
//! reconnect algorithm of PROTOCOL.md section 10.

use crate::{Client, ClientError};
use magpie_proto::{
    Category, CategoryCreate, CategoryDelete, CategoryId, CategoryRename, Change, Changes,
    ChangesOk, Empty, Friend, FriendRequest, FriendRequestOk, FriendSet, FriendsOk, Page, Profile,
    ProfileGet, ProfileSet, Request, RequestStatus, RequestsOk, Search, UserId, UserRef, UsersOk,
};

/// Everything a device missed in its change stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// In seq order, right after the cursor the device had.
    pub changes: Vec<Change>,
    /// The cursor to keep from now on.
    pub head: i64,
    /// The stream no longer holds what the device missed: reload friends,
    /// requests and blocks, then keep `head`.
    pub reset: bool,
}

fn user(name: &str) -> UserRef {
    UserRef {
        user: name.to_string(),
    }
}

impl Client {
    /// A user's profile (`None`: the caller's own).
    pub async fn profile(&self, name: Option<&str>) -> Result<Profile, ClientError> {
        self.call(Request::Profile(ProfileGet {
            user: name.map(str::to_string),
        }))
        .await
    }

    /// Change fields of the caller's profile.
    pub async fn set_profile(&self, update: ProfileSet) -> Result<Profile, ClientError> {
        self.call(Request::ProfileSet(update)).await
    }

    /// One page of search results.
    pub async fn search(
        &self,
        query: &str,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<UsersOk, ClientError> {
        self.call(Request::Search(Search {
            query: query.to_string(),
            after,
            limit,
        }))
        .await
    }

    /// Ask `name` to be friends.
    pub async fn friend_request(
        &self,
        name: &str,
        note: &str,
    ) -> Result<RequestStatus, ClientError> {
        let ok: FriendRequestOk = self
            .call(Request::FriendRequest(FriendRequest {
                user: name.to_string(),
                note: note.to_string(),
            }))
            .await?;
        Ok(ok.status)
    }

    /// Accept the pending request of `name`.
    pub async fn friend_accept(&self, name: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::FriendAccept(user(name)))
            .await
            .map(drop)
    }

    /// Reject the pending request of `name`.
    pub async fn friend_reject(&self, name: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::FriendReject(user(name)))
            .await
            .map(drop)
    }

    /// Withdraw the caller's pending request to `name`.
    pub async fn friend_cancel(&self, name: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::FriendCancel(user(name)))
            .await
            .map(drop)
    }

    /// End the friendship with `name`.
    pub async fn friend_remove(&self, name: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::FriendRemove(user(name)))
            .await
            .map(drop)
    }

    /// Set a friend's remark and/or category (`Some(0)`: none).
    pub async fn friend_set(
        &self,
        name: &str,
        remark: Option<&str>,
        category: Option<CategoryId>,
    ) -> Result<Friend, ClientError> {
        self.call(Request::FriendSet(FriendSet {
            user: name.to_string(),
            remark: remark.map(str::to_string),
            category,
        }))
        .await
    }

    /// One page of the caller's friends.
    pub async fn friends_page(
        &self,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<FriendsOk, ClientError> {
        self.call(Request::Friends(Page { after, limit })).await
    }

    /// All of the caller's friends, page by page, and their categories.
    pub async fn friends(&self) -> Result<(Vec<Friend>, Vec<Category>), ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.friends_page(after, None).await?;
            all.extend(page.friends);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok((all, page.categories)),
            }
        }
    }

    /// Pending friend requests, both ways.
    pub async fn friend_requests(&self) -> Result<RequestsOk, ClientError> {
        self.call(Request::FriendRequests).await
    }

    pub async fn category_create(&self, name: &str) -> Result<Category, ClientError> {
        self.call(Request::CategoryCreate(CategoryCreate {
            name: name.to_string(),
        }))
        .await
    }

    pub async fn category_rename(
        &self,
        id: CategoryId,
        name: &str,
    ) -> Result<Category, ClientError> {
        self.call(Request::CategoryRename(CategoryRename {
            id,
            name: name.to_string(),
        }))
        .await
    }

    pub async fn category_delete(&self, id: CategoryId) -> Result<(), ClientError> {
        self.call::<Empty>(Request::CategoryDelete(CategoryDelete { id }))
            .await
            .map(drop)
    }

    pub async fn block(&self, name: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::Block(user(name)))
            .await
            .map(drop)
    }

    pub async fn unblock(&self, name: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::Unblock(user(name)))
            .await
            .map(drop)
    }

    /// One page of the users the caller has blocked.
    pub async fn blocks(
        &self,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<UsersOk, ClientError> {
        self.call(Request::Blocks(Page { after, limit })).await
    }

    /// One page of the caller's change stream after `after`.
    pub async fn changes(&self, after: i64, limit: Option<u32>) -> Result<ChangesOk, ClientError> {
        self.call(Request::Changes(Changes { after, limit })).await
    }

    /// Everything after `after`, page by page: the reconnect step of the
    /// change-stream algorithm.
    pub async fn catch_up_changes(&self, after: i64) -> Result<CatchUp, ClientError> {
        let mut changes = Vec::new();
        let mut cursor = after;
        loop {
            let page = self.changes(cursor, None).await?;
            if page.reset {
                return Ok(CatchUp {
                    changes: Vec::new(),
                    head: page.head,
                    reset: true,
                });
            }
            if let Some(last) = page.changes.last() {
                cursor = last.seq;
            }
            let more = page.more && !page.changes.is_empty();
            changes.extend(page.changes);
            if !more {
                return Ok(CatchUp {
                    changes,
                    head: cursor,
                    reset: false,
                });
            }
        }
    }
}
