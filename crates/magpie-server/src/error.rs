//! The single place where internal errors become protocol errors.
//!
//! Storage errors carry text that may name tables, files or hosts; clients
//! get only a code and a generic message, the details go to the log.

use magpie_proto::{ErrorBody, ErrorCode};
use magpie_store::{Refusal, StoreError};

/// Convert a storage failure into what the client is told.
pub fn from_store(e: StoreError) -> ErrorBody {
    match e {
        StoreError::UsernameTaken => {
            ErrorBody::new(ErrorCode::UsernameTaken, "username already taken")
        }
        StoreError::Refused(refusal) => refused(refusal),
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "storage unavailable");
            ErrorBody::new(
                ErrorCode::Unavailable,
                "storage temporarily unavailable, nothing was stored; retry",
            )
        }
        StoreError::Backend(detail) => {
            tracing::error!(%detail, "storage failure");
            ErrorBody::new(ErrorCode::Internal, "internal error")
        }
    }
}

/// Shorthand for an `invalid_args` error.
pub fn invalid_args(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgs, message)
}

/// The protocol error for a rule of the contact graph.
fn refused(refusal: Refusal) -> ErrorBody {
    let (code, message) = match refusal {
        Refusal::UnknownUser => (ErrorCode::UnknownUser, "no such user".to_string()),
        Refusal::AlreadyFriends => (ErrorCode::AlreadyFriends, "already friends".to_string()),
        Refusal::NotFriends => (ErrorCode::NotFriends, "not your friend".to_string()),
        Refusal::NoSuchRequest => (
            ErrorCode::NoSuchRequest,
            "no such pending friend request".to_string(),
        ),
        Refusal::UnknownCategory => (
            ErrorCode::UnknownCategory,
            "you have no category with this id".to_string(),
        ),
        Refusal::YouBlocked => (
            ErrorCode::NotAllowed,
            "you have blocked this user; unblock them first".to_string(),
        ),
        Refusal::LimitReached(what) => (
            ErrorCode::LimitReached,
            format!("the limit of {what} is reached"),
        ),
        Refusal::UnknownDepartment => (
            ErrorCode::UnknownDepartment,
            "no such department".to_string(),
        ),
        Refusal::DepartmentNotEmpty => (
            ErrorCode::DepartmentNotEmpty,
            "the department still has members (disabled accounts included) or sub-departments"
                .to_string(),
        ),
        Refusal::InvalidMove => (
            ErrorCode::InvalidArgs,
            "a department cannot move under itself or one of its sub-departments".to_string(),
        ),
        Refusal::UsernameTaken => (
            ErrorCode::UsernameTaken,
            "username already taken".to_string(),
        ),
        Refusal::AccountDeleted => (
            ErrorCode::AccountDisabled,
            "the account is deleted".to_string(),
        ),
        // Not a member: the same answer as for a group that does not
        // exist, so group ids cannot be probed.
        Refusal::NotMember => return crate::conversations::unknown_conversation(),
        Refusal::TargetNotMember => (
            ErrorCode::UnknownUser,
            "that user is not a member of the group".to_string(),
        ),
        Refusal::AlreadyMember => (
            ErrorCode::NotAllowed,
            "already a member of the group".to_string(),
        ),
        Refusal::InviteOnly => (
            ErrorCode::NotAllowed,
            "the group is invite-only: ask an admin to invite you".to_string(),
        ),
        Refusal::OwnerMustTransfer => (
            ErrorCode::NotAllowed,
            "the owner must transfer the group (group_transfer) or dissolve it".to_string(),
        ),
        Refusal::GroupRole(who) => (ErrorCode::Forbidden, format!("not allowed: {who}")),
        Refusal::NoSuchFile => (ErrorCode::UnknownFile, "no such file".to_string()),
        Refusal::QuotaExceeded => (
            ErrorCode::QuotaExceeded,
            "your storage quota would be exceeded: delete files first".to_string(),
        ),
        Refusal::NoSuchEntry => (ErrorCode::UnknownEntry, "no such drive entry".to_string()),
        Refusal::NameTaken => (
            ErrorCode::NameTaken,
            "that folder already has an entry of this name (send rename: true for \"name (1)\")"
                .to_string(),
        ),
        Refusal::NoSuchShare => (
            ErrorCode::UnknownShare,
            "no such share link, or it no longer works".to_string(),
        ),
        Refusal::NoSuchMessage => (
            ErrorCode::UnknownMessage,
            "no such message, or not one you can see".to_string(),
        ),
        Refusal::NotAmendable(why) => (ErrorCode::NotAmendable, why.to_string()),
        Refusal::TooLate(why) => (ErrorCode::TooLate, why.to_string()),
    };
    ErrorBody::new(code, message)
}
