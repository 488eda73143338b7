//! Client → server frames: `{"id": 7, "op": "send", "args": {...}}`.
//!
//! Parsing is two-step on purpose. The envelope (`id`, `op`, raw `args`) is
//! read first, so that even when the arguments are wrong the error response
//! can still carry the request id and name the operation. The arguments are
//! then parsed into the operation's own type.

use crate::changes::Changes;
use crate::error::{ErrorBody, ErrorCode};
use crate::people::*;
use crate::types::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Every operation a client can ask for, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    Register(Register),
    Login(Login),
    Resume(Resume),
    Logout,
    Send(Send),
    Sync(Sync),
    History(History),
    Read(Read),
    ReadReceipts(ReadReceipts),
    ReadBy(ReadBy),
    Conversations(Conversations),
    Ping,
    // My settings of each conversation, and typing indicators.
    ConvSet(crate::conv_settings::ConvSet),
    ConvSettings(crate::conv_settings::ConvSettingsList),
    Typing(crate::typing::Typing),
    // Amending entries and forwarding.
    Recall(crate::amend::Recall),
    Edit(crate::amend::Edit),
    React(crate::amend::React),
    Forward(crate::amend::Forward),
    // The people area.
    Profile(ProfileGet),
    ProfileSet(ProfileSet),
    Search(Search),
    // Message search.
    MessageSearch(crate::search::MessageSearch),
    FriendRequest(FriendRequest),
    FriendAccept(UserRef),
    FriendReject(UserRef),
    FriendCancel(UserRef),
    FriendRemove(UserRef),
    FriendSet(FriendSet),
    Friends(Page),
    FriendRequests,
    CategoryCreate(CategoryCreate),
    CategoryRename(CategoryRename),
    CategoryDelete(CategoryDelete),
    Block(UserRef),
    Unblock(UserRef),
    Blocks(Page),
    PresenceSet(crate::presence::PresenceSet),
    // Files (bytes go over HTTP; see docs/PROTOCOL.md section 12).
    Files(crate::files::FilesList),
    FileInfo(crate::files::FileRef),
    FileDelete(crate::files::FileRef),
    FileUrl(crate::files::FileUrl),
    GroupFiles(crate::files::GroupFiles),
    GroupFileDelete(crate::files::GroupFileDelete),
    AvatarSet(crate::files::AvatarSet),
    // The drive (shares are opened over HTTP; see docs/PROTOCOL.md).
    DriveList(crate::drive::DriveList),
    DriveInfo(crate::drive::DriveRef),
    DriveMkdir(crate::drive::DriveMkdir),
    DrivePut(crate::drive::DrivePut),
    DriveRename(crate::drive::DriveRename),
    DriveMove(crate::drive::DriveMove),
    DriveDelete(crate::drive::DriveEntries),
    DriveBin(crate::drive::DrivePage),
    DriveRestore(crate::drive::DriveEntries),
    DrivePurge(crate::drive::DrivePurge),
    DriveSearch(crate::drive::DriveSearch),
    DriveRecent(crate::drive::DriveRecent),
    DriveQuota,
    DriveShare(crate::drive::DriveShare),
    DriveShares(crate::drive::DrivePage),
    DriveUnshare(crate::drive::DriveUnshare),
    DriveSave(crate::drive::DriveSave),
    // Devices.
    Devices,
    DeviceRevoke(crate::devices::DeviceRevoke),
    // The directory.
    Directory,
    DeptMembers(crate::directory::DeptMembers),
    // Administration (role admin).
    AdminUserCreate(crate::admin::AdminUserCreate),
    AdminUsers(crate::admin::AdminUsers),
    AdminUser(UserRef),
    AdminUserSet(crate::admin::AdminUserSet),
    DeptCreate(crate::admin::DeptCreate),
    DeptUpdate(crate::admin::DeptUpdate),
    DeptDelete(crate::admin::DeptDelete),
    AdminQuotaSet(crate::drive::AdminQuotaSet),
    AdminGroups(crate::admin::AdminGroups),
    AdminGroupDissolve(crate::admin::AdminGroupDissolve),
    AdminStats,
    // State sync.
    Changes(Changes),
    // Groups.
    GroupCreate(crate::groups::GroupCreate),
    GroupInfo(crate::groups::GroupRef),
    GroupMembers(crate::groups::GroupPage),
    Groups(crate::groups::Groups),
    GroupInvite(crate::groups::GroupInvite),
    GroupJoin(crate::groups::GroupJoin),
    GroupRequests(crate::groups::GroupPage),
    GroupApprove(crate::groups::GroupUser),
    GroupReject(crate::groups::GroupUser),
    GroupLeave(crate::groups::GroupRef),
    GroupRemove(crate::groups::GroupUser),
    GroupRole(crate::groups::GroupRoleSet),
    GroupTransfer(crate::groups::GroupUser),
    GroupMute(crate::groups::GroupMute),
    GroupMuteAll(crate::groups::GroupMuteAll),
    GroupNickname(crate::groups::GroupNickname),
    GroupSet(crate::groups::GroupSet),
    GroupDissolve(crate::groups::GroupRef),
}

/// A request with its correlation id, as it travels on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestFrame {
    /// Chosen by the client; echoed in the response. Clients use increasing
    /// numbers, but the server only echoes it.
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// Why a frame could not be turned into a [`Request`], ready to be sent back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .body)]
pub struct ParseError {
    /// The request id, when the envelope was readable enough to find it.
    pub id: Option<u64>,
    /// The operation named, when the envelope itself was well-formed and
    /// only the operation or its arguments were wrong. The server needs it
    /// to answer `hello_required`, not the parse error, before `hello`.
    pub op: Option<String>,
    pub body: ErrorBody,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: u64,
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
}

/// The id alone, to correlate an error when the rest of the envelope is bad.
#[derive(Deserialize)]
struct IdOnly {
    id: u64,
}

impl RequestFrame {
    /// Parse one frame's payload. Never panics, whatever the bytes.
    pub fn parse(payload: &[u8]) -> Result<RequestFrame, ParseError> {
        // serde_json skips the strings of fields it ignores without checking
        // their UTF-8, so `{"id":1,"op":"ping","x":"\xc3("}` would pass.
        // The protocol says a payload that is not UTF-8 is a bad frame, so
        // check the whole payload first (a fast, linear scan). Such a payload
        // is not JSON text at all, so no id is read from it.
        let text = std::str::from_utf8(payload).map_err(|e| ParseError {
            id: None,
            op: None,
            body: ErrorBody::new(
                ErrorCode::BadFrame,
                format!("the payload is not valid UTF-8: {e}"),
            ),
        })?;
        let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|e| ParseError {
            id: serde_json::from_str::<IdOnly>(text).ok().map(|x| x.id),
            op: None,
            body: ErrorBody::new(
                ErrorCode::BadFrame,
                format!("expected {{\"id\": <u64>, \"op\": <string>, \"args\": {{...}}}}: {e}"),
            ),
        })?;
        let id = envelope.id;
        let request = parse_op(&envelope.op, envelope.args).map_err(|body| ParseError {
            id: Some(id),
            op: Some(envelope.op.to_string()),
            body,
        })?;
        Ok(RequestFrame { id, request })
    }

    /// Serialise for sending (the client side of [`RequestFrame::parse`]).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data structs into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn parse_op(op: &str, args: Option<&RawValue>) -> Result<Request, ErrorBody> {
    // `"args": null` means the same as no `args` for every operation.
    let args = args.filter(|raw| raw.get().trim() != "null");
    Ok(match op {
        "hello" => Request::Hello(args_of(op, args)?),
        "register" => Request::Register(args_of(op, args)?),
        "login" => Request::Login(args_of(op, args)?),
        "resume" => Request::Resume(args_of(op, args)?),
        "logout" => no_args(op, args, Request::Logout)?,
        "send" => Request::Send(args_of(op, args)?),
        "sync" => Request::Sync(args_or_default(op, args)?),
        "history" => Request::History(args_of(op, args)?),
        "read" => Request::Read(args_of(op, args)?),
        "read_receipts" => Request::ReadReceipts(args_of(op, args)?),
        "read_by" => Request::ReadBy(args_of(op, args)?),
        "conversations" => Request::Conversations(args_or_default(op, args)?),
        "ping" => no_args(op, args, Request::Ping)?,
        "conv_set" => Request::ConvSet(args_of(op, args)?),
        "conv_settings" => Request::ConvSettings(args_or_default(op, args)?),
        "typing" => Request::Typing(args_of(op, args)?),
        "recall" => Request::Recall(args_of(op, args)?),
        "edit" => Request::Edit(args_of(op, args)?),
        "react" => Request::React(args_of(op, args)?),
        "forward" => Request::Forward(args_of(op, args)?),
        "profile" => Request::Profile(args_or_default(op, args)?),
        "profile_set" => Request::ProfileSet(args_of(op, args)?),
        "search" => Request::Search(args_of(op, args)?),
        "message_search" => Request::MessageSearch(args_of(op, args)?),
        "friend_request" => Request::FriendRequest(args_of(op, args)?),
        "friend_accept" => Request::FriendAccept(args_of(op, args)?),
        "friend_reject" => Request::FriendReject(args_of(op, args)?),
        "friend_cancel" => Request::FriendCancel(args_of(op, args)?),
        "friend_remove" => Request::FriendRemove(args_of(op, args)?),
        "friend_set" => Request::FriendSet(args_of(op, args)?),
        "friends" => Request::Friends(args_or_default(op, args)?),
        "friend_requests" => no_args(op, args, Request::FriendRequests)?,
        "category_create" => Request::CategoryCreate(args_of(op, args)?),
        "category_rename" => Request::CategoryRename(args_of(op, args)?),
        "category_delete" => Request::CategoryDelete(args_of(op, args)?),
        "block" => Request::Block(args_of(op, args)?),
        "unblock" => Request::Unblock(args_of(op, args)?),
        "blocks" => Request::Blocks(args_or_default(op, args)?),
        "presence_set" => Request::PresenceSet(args_of(op, args)?),
        "files" => Request::Files(args_or_default(op, args)?),
        "file_info" => Request::FileInfo(args_of(op, args)?),
        "file_delete" => Request::FileDelete(args_of(op, args)?),
        "file_url" => Request::FileUrl(args_of(op, args)?),
        "group_files" => Request::GroupFiles(args_of(op, args)?),
        "group_file_delete" => Request::GroupFileDelete(args_of(op, args)?),
        "avatar_set" => Request::AvatarSet(args_of(op, args)?),
        "drive_list" => Request::DriveList(args_or_default(op, args)?),
        "drive_info" => Request::DriveInfo(args_of(op, args)?),
        "drive_mkdir" => Request::DriveMkdir(args_of(op, args)?),
        "drive_put" => Request::DrivePut(args_of(op, args)?),
        "drive_rename" => Request::DriveRename(args_of(op, args)?),
        "drive_move" => Request::DriveMove(args_of(op, args)?),
        "drive_delete" => Request::DriveDelete(args_of(op, args)?),
        "drive_bin" => Request::DriveBin(args_or_default(op, args)?),
        "drive_restore" => Request::DriveRestore(args_of(op, args)?),
        "drive_purge" => Request::DrivePurge(args_or_default(op, args)?),
        "drive_search" => Request::DriveSearch(args_of(op, args)?),
        "drive_recent" => Request::DriveRecent(args_or_default(op, args)?),
        "drive_quota" => no_args(op, args, Request::DriveQuota)?,
        "drive_share" => Request::DriveShare(args_of(op, args)?),
        "drive_shares" => Request::DriveShares(args_or_default(op, args)?),
        "drive_unshare" => Request::DriveUnshare(args_of(op, args)?),
        "drive_save" => Request::DriveSave(args_of(op, args)?),
        "devices" => no_args(op, args, Request::Devices)?,
        "device_revoke" => Request::DeviceRevoke(args_of(op, args)?),
        "directory" => no_args(op, args, Request::Directory)?,
        "dept_members" => Request::DeptMembers(args_of(op, args)?),
        "admin_user_create" => Request::AdminUserCreate(args_of(op, args)?),
        "admin_users" => Request::AdminUsers(args_or_default(op, args)?),
        "admin_user" => Request::AdminUser(args_of(op, args)?),
        "admin_user_set" => Request::AdminUserSet(args_of(op, args)?),
        "dept_create" => Request::DeptCreate(args_of(op, args)?),
        "dept_update" => Request::DeptUpdate(args_of(op, args)?),
        "dept_delete" => Request::DeptDelete(args_of(op, args)?),
        "admin_quota_set" => Request::AdminQuotaSet(args_of(op, args)?),
        "admin_groups" => Request::AdminGroups(args_or_default(op, args)?),
        "admin_group_dissolve" => Request::AdminGroupDissolve(args_of(op, args)?),
        "admin_stats" => no_args(op, args, Request::AdminStats)?,
        "changes" => Request::Changes(args_or_default(op, args)?),
        "group_create" => Request::GroupCreate(args_of(op, args)?),
        "group_info" => Request::GroupInfo(args_of(op, args)?),
        "group_members" => Request::GroupMembers(args_of(op, args)?),
        "groups" => Request::Groups(args_or_default(op, args)?),
        "group_invite" => Request::GroupInvite(args_of(op, args)?),
        "group_join" => Request::GroupJoin(args_of(op, args)?),
        "group_requests" => Request::GroupRequests(args_of(op, args)?),
        "group_approve" => Request::GroupApprove(args_of(op, args)?),
        "group_reject" => Request::GroupReject(args_of(op, args)?),
        "group_leave" => Request::GroupLeave(args_of(op, args)?),
        "group_remove" => Request::GroupRemove(args_of(op, args)?),
        "group_role" => Request::GroupRole(args_of(op, args)?),
        "group_transfer" => Request::GroupTransfer(args_of(op, args)?),
        "group_mute" => Request::GroupMute(args_of(op, args)?),
        "group_mute_all" => Request::GroupMuteAll(args_of(op, args)?),
        "group_nickname" => Request::GroupNickname(args_of(op, args)?),
        "group_set" => Request::GroupSet(args_of(op, args)?),
        "group_dissolve" => Request::GroupDissolve(args_of(op, args)?),
        other => {
            return Err(ErrorBody::new(
                ErrorCode::UnknownOp,
                format!("unknown operation {other:?}"),
            ));
        }
    })
}

fn args_of<T: for<'de> Deserialize<'de>>(
    op: &str,
    args: Option<&RawValue>,
) -> Result<T, ErrorBody> {
    let Some(raw) = args else {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgs,
            format!("{op}: missing \"args\" object"),
        ));
    };
    // serde's derived structs also accept a JSON array, field by field in
    // declaration order; the protocol only has named arguments, so an
    // array (or any other non-object) must not slip through positionally.
    if !raw.get().trim_start().starts_with('{') {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgs,
            format!("{op}: \"args\" must be a JSON object"),
        ));
    }
    serde_json::from_str(raw.get())
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidArgs, format!("{op}: {e}")))
}

fn args_or_default<T: Default + for<'de> Deserialize<'de>>(
    op: &str,
    args: Option<&RawValue>,
) -> Result<T, ErrorBody> {
    match args {
        None => Ok(T::default()),
        Some(raw) if raw.get().trim() == "null" => Ok(T::default()),
        Some(_) => args_of(op, args),
    }
}

/// Operations without arguments accept a missing `args`, `null` or `{}`
/// (`null` was turned into "missing" by `parse_op`).
fn no_args(op: &str, args: Option<&RawValue>, request: Request) -> Result<Request, ErrorBody> {
    match args {
        None => Ok(request),
        Some(_) => {
            args_of::<Empty>(op, args)?;
            Ok(request)
        }
    }
}

impl Request {
    /// The operation's wire name, for logs and metrics labels.
    pub fn op_name(&self) -> &'static str {
        match self {
            Request::Hello(_) => "hello",
            Request::Register(_) => "register",
            Request::Login(_) => "login",
            Request::Resume(_) => "resume",
            Request::Logout => "logout",
            Request::Send(_) => "send",
            Request::Sync(_) => "sync",
            Request::History(_) => "history",
            Request::Read(_) => "read",
            Request::ReadReceipts(_) => "read_receipts",
            Request::ReadBy(_) => "read_by",
            Request::Conversations(_) => "conversations",
            Request::Ping => "ping",
            Request::ConvSet(_) => "conv_set",
            Request::ConvSettings(_) => "conv_settings",
            Request::Typing(_) => "typing",
            Request::Recall(_) => "recall",
            Request::Edit(_) => "edit",
            Request::React(_) => "react",
            Request::Forward(_) => "forward",
            Request::Profile(_) => "profile",
            Request::ProfileSet(_) => "profile_set",
            Request::Search(_) => "search",
            Request::MessageSearch(_) => "message_search",
            Request::FriendRequest(_) => "friend_request",
            Request::FriendAccept(_) => "friend_accept",
            Request::FriendReject(_) => "friend_reject",
            Request::FriendCancel(_) => "friend_cancel",
            Request::FriendRemove(_) => "friend_remove",
            Request::FriendSet(_) => "friend_set",
            Request::Friends(_) => "friends",
            Request::FriendRequests => "friend_requests",
            Request::CategoryCreate(_) => "category_create",
            Request::CategoryRename(_) => "category_rename",
            Request::CategoryDelete(_) => "category_delete",
            Request::Block(_) => "block",
            Request::Unblock(_) => "unblock",
            Request::Blocks(_) => "blocks",
            Request::PresenceSet(_) => "presence_set",
            Request::Files(_) => "files",
            Request::FileInfo(_) => "file_info",
            Request::FileDelete(_) => "file_delete",
            Request::FileUrl(_) => "file_url",
            Request::GroupFiles(_) => "group_files",
            Request::GroupFileDelete(_) => "group_file_delete",
            Request::AvatarSet(_) => "avatar_set",
            Request::DriveList(_) => "drive_list",
            Request::DriveInfo(_) => "drive_info",
            Request::DriveMkdir(_) => "drive_mkdir",
            Request::DrivePut(_) => "drive_put",
            Request::DriveRename(_) => "drive_rename",
            Request::DriveMove(_) => "drive_move",
            Request::DriveDelete(_) => "drive_delete",
            Request::DriveBin(_) => "drive_bin",
            Request::DriveRestore(_) => "drive_restore",
            Request::DrivePurge(_) => "drive_purge",
            Request::DriveSearch(_) => "drive_search",
            Request::DriveRecent(_) => "drive_recent",
            Request::DriveQuota => "drive_quota",
            Request::DriveShare(_) => "drive_share",
            Request::DriveShares(_) => "drive_shares",
            Request::DriveUnshare(_) => "drive_unshare",
            Request::DriveSave(_) => "drive_save",
            Request::Devices => "devices",
            Request::DeviceRevoke(_) => "device_revoke",
            Request::Directory => "directory",
            Request::DeptMembers(_) => "dept_members",
            Request::AdminUserCreate(_) => "admin_user_create",
            Request::AdminUsers(_) => "admin_users",
            Request::AdminUser(_) => "admin_user",
            Request::AdminUserSet(_) => "admin_user_set",
            Request::DeptCreate(_) => "dept_create",
            Request::DeptUpdate(_) => "dept_update",
            Request::DeptDelete(_) => "dept_delete",
            Request::AdminQuotaSet(_) => "admin_quota_set",
            Request::AdminGroups(_) => "admin_groups",
            Request::AdminGroupDissolve(_) => "admin_group_dissolve",
            Request::AdminStats => "admin_stats",
            Request::Changes(_) => "changes",
            Request::GroupCreate(_) => "group_create",
            Request::GroupInfo(_) => "group_info",
            Request::GroupMembers(_) => "group_members",
            Request::Groups(_) => "groups",
            Request::GroupInvite(_) => "group_invite",
            Request::GroupJoin(_) => "group_join",
            Request::GroupRequests(_) => "group_requests",
            Request::GroupApprove(_) => "group_approve",
            Request::GroupReject(_) => "group_reject",
            Request::GroupLeave(_) => "group_leave",
            Request::GroupRemove(_) => "group_remove",
            Request::GroupRole(_) => "group_role",
            Request::GroupTransfer(_) => "group_transfer",
            Request::GroupMute(_) => "group_mute",
            Request::GroupMuteAll(_) => "group_mute_all",
            Request::GroupNickname(_) => "group_nickname",
            Request::GroupSet(_) => "group_set",
            Request::GroupDissolve(_) => "group_dissolve",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn every_request() -> Vec<Request> {
        vec![
            Request::Hello(Hello {
                version: 1,
                client: Some("test".into()),
            }),
            Request::Register(Register {
                user: "alice".into(),
                password: "correct horse".into(),
            }),
            Request::Login(Login {
                user: "alice".into(),
                password: "pw\"quoted\"".into(),
                device: None,
                platform: None,
            }),
            Request::Login(Login {
                user: "alice".into(),
                password: "pw".into(),
                device: Some("手机".into()),
                platform: Some(crate::devices::Platform::Mobile),
            }),
            Request::Directory,
            Request::DeptMembers(crate::directory::DeptMembers {
                dept: 3,
                after: None,
                limit: Some(10),
            }),
            Request::AdminUserCreate(crate::admin::AdminUserCreate {
                user: "zhang.san".into(),
                nickname: Some("张三".into()),
                dept: Some(3),
                title: Some("工程师".into()),
                ..Default::default()
            }),
            Request::AdminUsers(crate::admin::AdminUsers::default()),
            Request::AdminUser(UserRef { user: "x".into() }),
            Request::AdminUserSet(crate::admin::AdminUserSet {
                user: "zhang.san".into(),
                state: Some(crate::admin::AccountState::Disabled),
                ..Default::default()
            }),
            Request::DeptCreate(crate::admin::DeptCreate {
                name: "研发部".into(),
                parent: Some(1),
                order: Some(2),
            }),
            Request::DeptUpdate(crate::admin::DeptUpdate {
                id: 4,
                parent: Some(0),
                ..Default::default()
            }),
            Request::DeptDelete(crate::admin::DeptDelete { id: 4 }),
            Request::AdminGroups(crate::admin::AdminGroups::default()),
            Request::AdminGroups(crate::admin::AdminGroups {
                after: Some(7),
                limit: Some(20),
            }),
            Request::AdminGroupDissolve(crate::admin::AdminGroupDissolve { conv: 7 }),
            Request::AdminStats,
            Request::Files(crate::files::FilesList {
                after: Some("00".repeat(16)),
                limit: Some(10),
            }),
            Request::FileInfo(crate::files::FileRef {
                file: "ab".repeat(16),
            }),
            Request::FileDelete(crate::files::FileRef {
                file: "ab".repeat(16),
            }),
            Request::FileUrl(crate::files::FileUrl {
                file: "ab".repeat(16),
                thumbnail: true,
            }),
            Request::GroupFiles(crate::files::GroupFiles {
                conv: 7,
                before: Some(90),
                limit: None,
            }),
            Request::GroupFileDelete(crate::files::GroupFileDelete {
                conv: 7,
                file: "ab".repeat(16),
            }),
            Request::AvatarSet(crate::files::AvatarSet {
                file: "ab".repeat(16),
                conv: Some(7),
            }),
            Request::DriveList(crate::drive::DriveList {
                folder: Some("cd".repeat(16)),
                sort: crate::drive::DriveSortKey::Size,
                desc: true,
                offset: Some(100),
                limit: Some(10),
            }),
            Request::DriveMove(crate::drive::DriveMove {
                entries: vec!["ab".repeat(16)],
                parent: None,
                rename: true,
            }),
            Request::DrivePurge(crate::drive::DrivePurge::default()),
            Request::DriveInfo(crate::drive::DriveRef {
                entry: "ab".repeat(16),
            }),
            Request::DriveQuota,
            Request::DriveShare(crate::drive::DriveShare {
                entry: "ab".repeat(16),
                code: Some("Ab12".into()),
                expires_at: Some(1_767_225_600_000),
                max_downloads: Some(3),
            }),
            Request::DriveSave(crate::drive::DriveSave {
                share: "ef".repeat(16),
                code: "ab12".into(),
                entries: Some(vec!["ab".repeat(16)]),
                parent: Some("cd".repeat(16)),
            }),
            Request::AdminQuotaSet(crate::drive::AdminQuotaSet {
                user: "alice".into(),
                bytes: None,
            }),
            Request::Devices,
            Request::DeviceRevoke(crate::devices::DeviceRevoke {
                id: "00ff00ff00ff00ff".into(),
            }),
            Request::Resume(Resume {
                token: "abc".into(),
            }),
            Request::Logout,
            Request::Send(Send {
                file: None,
                kind: None,
                to: Some("bob".into()),
                conv: None,
                cmid: "c1".into(),
                body: "héllo 你好 🐦".into(),
                mention_all: false,
                mentions: Vec::new(),
                reply: None,
            }),
            Request::Sync(Sync {
                cursors: [(1, 5), (9, 0)].into_iter().collect(),
                limit: Some(10),
            }),
            Request::History(History {
                peer: Some("bob".into()),
                before: Some(10),
                ..History::default()
            }),
            Request::Send(Send {
                file: None,
                kind: None,
                to: None,
                conv: Some(12),
                cmid: "c2".into(),
                body: "in a conversation".into(),
                mention_all: true,
                mentions: vec!["bob".into(), "王五".into()],
                reply: None,
            }),
            Request::Read(Read { conv: 3, seq: 4 }),
            Request::ReadReceipts(ReadReceipts {
                conv: 3,
                seqs: vec![4, 5],
            }),
            Request::ReadBy(ReadBy {
                conv: 3,
                seq: 4,
                unread: true,
                after: Some(9),
                limit: Some(20),
            }),
            Request::Conversations(Conversations::default()),
            Request::Conversations(Conversations {
                after: Some(ConvCursor {
                    pinned: true,
                    active_ts: 1_700_000_000_000,
                    conv: 4,
                }),
                limit: Some(20),
            }),
            Request::Ping,
            Request::ConvSet(crate::conv_settings::ConvSet {
                conv: 12,
                pinned: Some(true),
                muted_until: Some(crate::conv_settings::MUTED_FOREVER),
                marked_unread: Some(false),
                hidden: Some(true),
                draft: Some("半句话".into()),
            }),
            Request::ConvSettings(crate::conv_settings::ConvSettingsList::default()),
            Request::ConvSettings(crate::conv_settings::ConvSettingsList {
                after: Some(12),
                limit: Some(3),
            }),
            Request::Typing(crate::typing::Typing {
                conv: 12,
                active: false,
            }),
            Request::Profile(ProfileGet::default()),
            Request::Profile(ProfileGet {
                user: Some("bob".into()),
            }),
            Request::ProfileSet(ProfileSet {
                nickname: Some("小明".into()),
                gender: Some(Gender::Other),
                ..ProfileSet::default()
            }),
            Request::Search(Search {
                query: "王".into(),
                after: Some(3),
                limit: Some(5),
            }),
            Request::MessageSearch(crate::search::MessageSearch {
                query: "会议 café".into(),
                conv: Some(7),
                from: Some("bob".into()),
                after_ts: Some(1_700_000_000_000),
                before_ts: None,
                before: Some(99),
                limit: Some(10),
            }),
            Request::MessageSearch(crate::search::MessageSearch {
                query: "x".into(),
                ..Default::default()
            }),
            Request::FriendRequest(FriendRequest {
                user: "bob".into(),
                note: "hi, it's alice".into(),
            }),
            Request::FriendAccept(UserRef { user: "a".into() }),
            Request::FriendReject(UserRef { user: "b".into() }),
            Request::FriendCancel(UserRef { user: "c".into() }),
            Request::FriendRemove(UserRef { user: "d".into() }),
            Request::FriendSet(FriendSet {
                user: "bob".into(),
                remark: Some("Bobby".into()),
                category: Some(0),
            }),
            Request::Friends(Page::default()),
            Request::FriendRequests,
            Request::CategoryCreate(CategoryCreate {
                name: "同学".into(),
            }),
            Request::CategoryRename(CategoryRename {
                id: 2,
                name: "work".into(),
            }),
            Request::CategoryDelete(CategoryDelete { id: 2 }),
            Request::Block(UserRef { user: "e".into() }),
            Request::Unblock(UserRef { user: "e".into() }),
            Request::Blocks(Page {
                after: Some(1),
                limit: Some(2),
            }),
            Request::PresenceSet(crate::presence::PresenceSet {
                status: crate::presence::Status::Busy,
                text: Some("开会中".into()),
            }),
            Request::Changes(Changes {
                after: 4,
                limit: None,
            }),
            Request::GroupCreate(crate::groups::GroupCreate {
                name: "研发群".into(),
                members: vec!["bob".into(), "carol".into()],
                join_policy: Some(crate::groups::JoinPolicy::Open),
                ..Default::default()
            }),
            Request::GroupInfo(crate::groups::GroupRef { conv: 9 }),
            Request::GroupMembers(crate::groups::GroupPage {
                conv: 9,
                after: Some(3),
                limit: Some(10),
            }),
            Request::Groups(crate::groups::Groups::default()),
            Request::GroupInvite(crate::groups::GroupInvite {
                conv: 9,
                users: vec!["dave".into()],
            }),
            Request::GroupJoin(crate::groups::GroupJoin {
                conv: 9,
                note: Some("我是新同事".into()),
            }),
            Request::GroupRequests(crate::groups::GroupPage {
                conv: 9,
                after: None,
                limit: Some(5),
            }),
            Request::GroupApprove(crate::groups::GroupUser {
                conv: 9,
                user: "erin".into(),
            }),
            Request::GroupReject(crate::groups::GroupUser {
                conv: 9,
                user: "frank".into(),
            }),
            Request::GroupLeave(crate::groups::GroupRef { conv: 9 }),
            Request::GroupRemove(crate::groups::GroupUser {
                conv: 9,
                user: "dave".into(),
            }),
            Request::GroupRole(crate::groups::GroupRoleSet {
                conv: 9,
                user: "bob".into(),
                role: crate::groups::GroupRole::Admin,
            }),
            Request::GroupTransfer(crate::groups::GroupUser {
                conv: 9,
                user: "bob".into(),
            }),
            Request::GroupMute(crate::groups::GroupMute {
                conv: 9,
                user: "carol".into(),
                seconds: 600,
            }),
            Request::GroupMuteAll(crate::groups::GroupMuteAll { conv: 9, on: true }),
            Request::GroupNickname(crate::groups::GroupNickname {
                conv: 9,
                nickname: "小王".into(),
            }),
            Request::GroupSet(crate::groups::GroupSet {
                conv: 9,
                fields: crate::groups::GroupFields {
                    announcement: Some("周五发布".into()),
                    ..Default::default()
                },
            }),
            Request::GroupDissolve(crate::groups::GroupRef { conv: 9 }),
        ]
    }

    #[test]
    fn every_operation_round_trips() {
        for (i, request) in every_request().into_iter().enumerate() {
            let frame = RequestFrame {
                id: i as u64,
                request,
            };
            let json = frame.to_json();
            let parsed = RequestFrame::parse(&json)
                .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&json)));
            assert_eq!(parsed, frame);
            assert_eq!(
                parsed.request.op_name(),
                serde_json::from_slice::<serde_json::Value>(&json).expect("json")["op"]
            );
        }
    }

    /// Each bad frame and the error it must produce: (payload, id, code).
    #[test]
    fn bad_frames_get_precise_errors() {
        let cases: &[(&[u8], Option<u64>, ErrorCode)] = &[
            (b"", None, ErrorCode::BadFrame),
            (b"not json", None, ErrorCode::BadFrame),
            (b"[1,2]", None, ErrorCode::BadFrame),
            (b"\xff\xfe{}", None, ErrorCode::BadFrame),
            (b"{\"op\":\"ping\"}", None, ErrorCode::BadFrame),
            (b"{\"id\":\"7\",\"op\":\"ping\"}", None, ErrorCode::BadFrame),
            (b"{\"id\":7,\"op\":5}", Some(7), ErrorCode::BadFrame),
            (b"{\"id\":-1,\"op\":\"ping\"}", None, ErrorCode::BadFrame),
            (b"{\"id\":7,\"op\":\"fly\"}", Some(7), ErrorCode::UnknownOp),
            (b"{\"id\":7,\"op\":\"send\"}", Some(7), ErrorCode::InvalidArgs),
            (
                b"{\"id\":7,\"op\":\"send\",\"args\":{\"to\":1,\"cmid\":\"a\",\"body\":\"b\"}}",
                Some(7),
                ErrorCode::InvalidArgs,
            ),
            (
                b"{\"id\":7,\"op\":\"read\",\"args\":{\"conv\":\"x\",\"seq\":1}}",
                Some(7),
                ErrorCode::InvalidArgs,
            ),
            (b"{\"id\":7,\"op\":\"ping\",\"args\":[1]}", Some(7), ErrorCode::InvalidArgs),
            (
                b"{\"id\":7,\"op\":\"send\",\"args\":{\"to\":\"b\",\"cmid\":\"a\",\"body\":\"\\ud800\"}}",
                Some(7),
                ErrorCode::InvalidArgs,
            ),
        ];
        for (payload, id, code) in cases {
            let err = RequestFrame::parse(payload).expect_err(&String::from_utf8_lossy(payload));
            assert_eq!(err.id, *id, "{}", String::from_utf8_lossy(payload));
            assert_eq!(err.body.code, *code, "{}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn invalid_utf8_anywhere_is_a_bad_frame_without_id() {
        // Even inside a field the server ignores.
        for payload in [
            &b"{\"id\":6,\"op\":\"ping\",\"x\":\"\xc3(\"}"[..],
            b"{\"id\":6,\"op\":\"ping\",\"args\":{\"x\":\"\xff\"}}",
            b"{\"id\":6,\"op\":\"ping\"}\xc3",
        ] {
            let err = RequestFrame::parse(payload).expect_err("invalid UTF-8");
            assert_eq!(
                (err.id, err.op.as_deref(), err.body.code),
                (None, None, ErrorCode::BadFrame)
            );
            assert!(err.body.message.contains("UTF-8"), "{}", err.body.message);
        }
    }

    #[test]
    fn args_must_be_an_object() {
        for payload in [
            r#"{"id":7,"op":"send","args":["bob","cm-1","hi"]}"#,
            r#"{"id":7,"op":"read","args":[1,2]}"#,
            r#"{"id":7,"op":"hello","args":[1]}"#,
            r#"{"id":7,"op":"sync","args":[{}]}"#,
            r#"{"id":7,"op":"sync","args":"cursors"}"#,
            r#"{"id":7,"op":"ping","args":[]}"#,
            r#"{"id":7,"op":"logout","args":0}"#,
            r#"{"id":7,"op":"conversations","args":true}"#,
        ] {
            let err = RequestFrame::parse(payload.as_bytes()).expect_err(payload);
            assert_eq!(
                (err.id, err.body.code),
                (Some(7), ErrorCode::InvalidArgs),
                "{payload}"
            );
            assert!(
                err.body.message.contains("object"),
                "{payload}: {}",
                err.body.message
            );
        }
    }

    #[test]
    fn null_or_absent_args_mean_no_arguments() {
        for (payload, request) in [
            (r#"{"id":1,"op":"ping"}"#, Request::Ping),
            (r#"{"id":1,"op":"ping","args":null}"#, Request::Ping),
            (r#"{"id":1,"op":"ping","args":{}}"#, Request::Ping),
            (r#"{"id":1,"op":"logout","args":null}"#, Request::Logout),
            (
                r#"{"id":1,"op":"conversations","args":{}}"#,
                Request::Conversations(Conversations::default()),
            ),
            (
                r#"{"id":1,"op":"conversations","args":null}"#,
                Request::Conversations(Conversations::default()),
            ),
            (
                r#"{"id":1,"op":"sync","args":null}"#,
                Request::Sync(Sync::default()),
            ),
        ] {
            let frame = RequestFrame::parse(payload.as_bytes()).expect(payload);
            assert_eq!(frame.request, request, "{payload}");
        }
        let err = RequestFrame::parse(br#"{"id":1,"op":"send","args":null}"#).expect_err("send");
        assert_eq!(err.body.code, ErrorCode::InvalidArgs);
    }

    #[test]
    fn parse_errors_name_the_operation_only_for_a_well_formed_envelope() {
        let op_of = |payload: &str| {
            RequestFrame::parse(payload.as_bytes())
                .expect_err(payload)
                .op
        };
        assert_eq!(op_of(r#"{"id":1,"op":"fly"}"#).as_deref(), Some("fly"));
        assert_eq!(
            op_of(r#"{"id":1,"op":"send","args":[]}"#).as_deref(),
            Some("send")
        );
        assert_eq!(op_of(r#"{"id":1,"op":"hello"}"#).as_deref(), Some("hello"));
        assert_eq!(op_of(r#"{"id":1,"op":5}"#), None);
        assert_eq!(op_of("not json"), None);
    }

    /// serde_json stops at 128 levels of recursion, but only where it
    /// builds a value; the values it skips (unknown fields, the raw `args`
    /// before they are parsed) are scanned without recursion. Deep nesting
    /// must therefore never overflow the stack, whatever its place.
    #[test]
    fn deep_nesting_is_harmless_everywhere() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let n = 200_000;
        // Ignored: answered as if it were not there.
        let frame =
            RequestFrame::parse(format!(r#"{{"id":1,"op":"ping","x":{}}}"#, deep(n)).as_bytes())
                .expect("an ignored field may be deep");
        assert_eq!(frame.request, Request::Ping);
        // Unknown fields inside args are skipped the same way.
        let frame = RequestFrame::parse(
            format!(
                r#"{{"id":1,"op":"sync","args":{{"x":{{"y":{}}}}}}}"#,
                deep(n)
            )
            .as_bytes(),
        )
        .expect("an ignored argument may be deep");
        assert_eq!(frame.request, Request::Sync(Sync::default()));
        // Where a value is read: a clear error, with the id if readable.
        for (payload, id, code) in [
            (
                format!(r#"{{"id":1,"op":"sync","args":{}}}"#, deep(n)),
                Some(1),
                ErrorCode::InvalidArgs,
            ),
            (
                format!(r#"{{"id":1,"op":"sync","args":{{"cursors":{}}}}}"#, deep(n)),
                Some(1),
                ErrorCode::InvalidArgs,
            ),
            (
                format!(r#"{{"id":1,"op":{}}}"#, deep(n)),
                Some(1),
                ErrorCode::BadFrame,
            ),
            (deep(n), None, ErrorCode::BadFrame),
            (
                format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
                None,
                ErrorCode::BadFrame,
            ),
        ] {
            let err = RequestFrame::parse(payload.as_bytes()).expect_err("deep value");
            assert_eq!((err.id, err.body.code), (id, code), "{}", &payload[..40]);
        }
    }

    #[test]
    fn args_may_come_before_op_and_unknown_fields_are_ignored() {
        let frame = RequestFrame::parse(
            br#"{"args":{"conv":1,"seq":2,"extra":true},"op":"read","id":3,"v":1}"#,
        )
        .expect("parse");
        assert_eq!(frame.id, 3);
        assert_eq!(frame.request, Request::Read(Read { conv: 1, seq: 2 }));
    }

    #[test]
    fn sync_without_args_means_from_the_start() {
        let frame = RequestFrame::parse(br#"{"id":1,"op":"sync"}"#).expect("parse");
        assert_eq!(frame.request, Request::Sync(Sync::default()));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = RequestFrame::parse(&data);
        }

        #[test]
        fn arbitrary_text_round_trips(to in ".{0,40}", cmid in ".{0,40}", body in ".{0,400}", id in any::<u64>()) {
            let frame = RequestFrame { id, request: Request::Send(Send { file: None, kind: None, to: Some(to), conv: None, cmid, body, mention_all: false, mentions: Vec::new(), reply: None }) };
            prop_assert_eq!(RequestFrame::parse(&frame.to_json()).expect("parse"), frame);
        }
    }
}
