//! The company directory (TeamTalk's departments): a tree of departments,
//! each user in at most one with a title. Everyone signed in may read it;
//! only administrators change it (see [`crate::admin`]).
//!
//! The directory is one document for the whole server, versioned: every
//! change bumps `version` and is announced with a `directory` push to every
//! connected client. A client keeps the version it last loaded and reloads
//! the tree when a push, or `changes` after a reconnect, shows a newer one.

use crate::people::UserCard;
use crate::presence::PresenceState;
use crate::types::UserId;
use serde::{Deserialize, Serialize};

/// A department's id.
pub type DeptId = i64;

/// One department of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: DeptId,
    pub name: String,
    /// The parent department; absent for a top-level one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<DeptId>,
    /// Display order among its siblings (ascending; ties by id).
    pub order: i64,
    /// Members directly in this department.
    pub members: i64,
}

/// Result of `directory`: the whole tree, parents before children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryOk {
    pub version: i64,
    pub departments: Vec<Department>,
}

/// `dept_members`: one page of a department's members, by user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptMembers {
    pub dept: DeptId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A member of a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: UserCard,
    /// Job title; empty when none.
    pub title: String,
    pub presence: PresenceState,
}

/// Result of `dept_members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptMembersOk {
    pub members: Vec<Member>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// Payload of the `directory` push: the directory changed; reload it if
/// `version` is newer than the one held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryVersion {
    pub version: i64,
}
