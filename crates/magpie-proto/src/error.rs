//! Stable, machine-readable error codes.
//!
//! Codes are part of the protocol: clients branch on them, so a code is never
//! renamed or reused. The human message beside it is for people and logs and
//! may change freely. Error bodies never carry internal error text (SQL,
//! file paths): the server logs those and sends a code.

use serde::{Deserialize, Serialize};

/// Every error the server can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a JSON object with a numeric `id` and a string `op`
    /// (includes invalid UTF-8 and non-JSON payloads).
    BadFrame,
    /// The frame exceeds the configured frame size limit.
    FrameTooLarge,
    /// `op` names no known operation.
    UnknownOp,
    /// The operation's `args` are missing, of the wrong type or out of range.
    InvalidArgs,
    /// A message body exceeds the configured body size limit.
    BodyTooLarge,
    /// The first frame of a connection must be `hello`.
    HelloRequired,
    /// The client's protocol version is not supported by this server.
    UnsupportedVersion,
    /// The operation needs a logged-in session.
    NotAuthenticated,
    /// `login`, `register` or `resume` on a session that is already logged in.
    AlreadyAuthenticated,
    /// Unknown user or wrong password (deliberately indistinguishable).
    InvalidCredentials,
    /// The session token is unknown, expired or revoked.
    InvalidToken,
    /// `register` with a username that is already taken.
    UsernameTaken,
    /// The username does not follow the rules (see `docs/PROTOCOL.md`).
    InvalidUsername,
    /// The password does not follow the rules (see `docs/PROTOCOL.md`).
    InvalidPassword,
    /// The named recipient does not exist.
    UnknownUser,
    /// The conversation does not exist or the caller is not a member.
    UnknownConversation,
    /// The server is too busy to take this request now (e.g. its password
    /// hashing queue is full); retry later, after `retry_after_ms` if given.
    Overloaded,
    /// Storage is temporarily unavailable. Nothing was stored: retry the
    /// same request (with the same `cmid` for `send`).
    Unavailable,
    /// The server is shutting down; reconnect (possibly to another node).
    ShuttingDown,
    /// An unexpected server-side failure; it has been logged.
    Internal,
    /// Too many requests of this kind from this address, for this account
    /// or by this user; retry after `retry_after_ms`.
    RateLimited,
    /// The user already has as many authenticated connections as the
    /// server allows; close one first.
    TooManySessions,
    /// The recipient does not accept this from the caller: the server's
    /// messaging policy needs a friendship, or the recipient cannot be
    /// reached. Deliberately the same whatever the reason (PROTOCOL.md).
    NotAllowed,
    /// `friend_request` to someone who is already a friend.
    AlreadyFriends,
    /// The named user is not the caller's friend.
    NotFriends,
    /// No pending friend request matches.
    NoSuchRequest,
    /// The caller has no friend category with this id.
    UnknownCategory,
    /// A per-user count would be exceeded (friends, categories, blocks,
    /// pending requests); the message says which.
    LimitReached,
    /// `device_revoke` with an id that is not one of the caller's devices.
    UnknownDevice,
    /// The caller's role does not allow the operation: the administrator
    /// role, or a group role (the message says which).
    Forbidden,
    /// `register` on a server where accounts are created by administrators
    /// (enterprise mode).
    RegistrationClosed,
    /// The account is disabled or deleted (`login`, `resume`).
    AccountDisabled,
    /// No department with this id.
    UnknownDepartment,
    /// `dept_delete` on a department with members or children.
    DepartmentNotEmpty,
    /// `send` into a group where the caller is muted, or everyone is.
    Muted,
    /// No such file or upload, or not one the caller may see (the same
    /// answer either way, so ids cannot be probed).
    UnknownFile,
    /// The file is larger than the server's per-file limit.
    FileTooLarge,
    /// The caller's storage quota would be exceeded.
    QuotaExceeded,
    /// The content is not what the operation needs (e.g. `send` of kind
    /// `image` with a file that is not a readable image).
    InvalidMedia,
    /// No such drive entry of the caller's, or not one in the drive now
    /// (the same answer for another user's entry).
    UnknownEntry,
    /// The destination folder already holds an entry of that name (send
    /// `rename: true` to take `name (1)` instead).
    NameTaken,
    /// The name is empty, too long, `.`/`..`, or has `/`, `\` or control
    /// characters.
    InvalidName,
    /// A folder cannot move into itself or one of its own folders.
    InvalidMove,
    /// No such share link, or it no longer works (revoked, expired, or its
    /// entry deleted): one answer for all. A link out of downloads still
    /// opens; its downloads get `limit_reached`.
    UnknownShare,
    /// The extraction code is wrong.
    WrongCode,
    /// No such entry in the conversation, or not one the caller can see
    /// (`recall`, `edit`, `react`, `forward`, a reply's `reply`).
    UnknownMessage,
    /// The entry cannot take this: it is not a message (an event or an
    /// amending entry), it was recalled, or (`edit`) it is not text.
    NotAmendable,
    /// The window for this has passed (`recall` after the recall window,
    /// `edit` after the edit window).
    TooLate,
}

impl ErrorCode {
    /// Whether repeating the same request later can succeed. Clients retry
    /// retryable errors with backoff; others need the request changed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Overloaded
                | ErrorCode::Unavailable
                | ErrorCode::ShuttingDown
                | ErrorCode::RateLimited
        )
    }

    /// The code as it appears on the wire, e.g. `"invalid_args"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::InvalidArgs => "invalid_args",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AlreadyAuthenticated => "already_authenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::InvalidPassword => "invalid_password",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::UnknownConversation => "unknown_conversation",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::AlreadyFriends => "already_friends",
            ErrorCode::NotFriends => "not_friends",
            ErrorCode::NoSuchRequest => "no_such_request",
            ErrorCode::UnknownCategory => "unknown_category",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::UnknownDevice => "unknown_device",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::UnknownDepartment => "unknown_department",
            ErrorCode::DepartmentNotEmpty => "department_not_empty",
            ErrorCode::Muted => "muted",
            ErrorCode::UnknownFile => "unknown_file",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::InvalidMedia => "invalid_media",
            ErrorCode::UnknownEntry => "unknown_entry",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidMove => "invalid_move",
            ErrorCode::UnknownShare => "unknown_share",
            ErrorCode::WrongCode => "wrong_code",
            ErrorCode::UnknownMessage => "unknown_message",
            ErrorCode::NotAmendable => "not_amendable",
            ErrorCode::TooLate => "too_late",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` object of a failed response: a stable code, a message and,
/// for throttling errors, how long to wait before retrying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Wait at least this many milliseconds before retrying (sent with
    /// `rate_limited` and `overloaded`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// Add a retry hint, rounded up to whole milliseconds (never 0, so a
    /// client that waits exactly this long is not refused again at once).
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        let ms = wait.as_millis().saturating_add(1);
        self.retry_after_ms = Some(u64::try_from(ms).unwrap_or(u64::MAX));
        self
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde_name() {
        let all = [
            ErrorCode::BadFrame,
            ErrorCode::FrameTooLarge,
            ErrorCode::UnknownOp,
            ErrorCode::InvalidArgs,
            ErrorCode::BodyTooLarge,
            ErrorCode::HelloRequired,
            ErrorCode::UnsupportedVersion,
            ErrorCode::NotAuthenticated,
            ErrorCode::AlreadyAuthenticated,
            ErrorCode::InvalidCredentials,
            ErrorCode::InvalidToken,
            ErrorCode::UsernameTaken,
            ErrorCode::InvalidUsername,
            ErrorCode::InvalidPassword,
            ErrorCode::UnknownUser,
            ErrorCode::UnknownConversation,
            ErrorCode::Overloaded,
            ErrorCode::Unavailable,
            ErrorCode::ShuttingDown,
            ErrorCode::Internal,
            ErrorCode::RateLimited,
            ErrorCode::TooManySessions,
            ErrorCode::NotAllowed,
            ErrorCode::AlreadyFriends,
            ErrorCode::NotFriends,
            ErrorCode::NoSuchRequest,
            ErrorCode::UnknownCategory,
            ErrorCode::LimitReached,
            ErrorCode::UnknownDevice,
            ErrorCode::Forbidden,
            ErrorCode::RegistrationClosed,
            ErrorCode::AccountDisabled,
            ErrorCode::UnknownDepartment,
            ErrorCode::DepartmentNotEmpty,
            ErrorCode::Muted,
            ErrorCode::UnknownFile,
            ErrorCode::FileTooLarge,
            ErrorCode::QuotaExceeded,
            ErrorCode::InvalidMedia,
            ErrorCode::UnknownEntry,
            ErrorCode::NameTaken,
            ErrorCode::InvalidName,
            ErrorCode::InvalidMove,
            ErrorCode::UnknownShare,
            ErrorCode::WrongCode,
            ErrorCode::UnknownMessage,
            ErrorCode::NotAmendable,
            ErrorCode::TooLate,
        ];
        for code in all {
            let json = serde_json::to_string(&code).expect("serialise");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn retry_hint_is_sent_only_when_set() {
        let plain = ErrorBody::new(ErrorCode::InvalidArgs, "x");
        let json = serde_json::to_string(&plain).expect("serialise");
        assert!(!json.contains("retry_after_ms"), "{json}");
        let hinted = ErrorBody::new(ErrorCode::RateLimited, "slow down")
            .retry_after(std::time::Duration::from_micros(1500));
        let json = serde_json::to_string(&hinted).expect("serialise");
        assert!(json.contains("\"retry_after_ms\":2"), "{json}");
        let back: ErrorBody = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, hinted);
        assert!(ErrorCode::RateLimited.is_retryable());
        assert!(!ErrorCode::TooManySessions.is_retryable());
    }
}
