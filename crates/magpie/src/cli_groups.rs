//! The group commands of `magpie client`: `group create|info|members|list`
//! to make and read groups, `group requests` to see who asks to join, and
//! one command per change to a group (`invite`, `remove`, `leave`, `join`,
//! `approve`, `reject`, `role`, `mute`, `unmute`, `mute-all`, `transfer`,
//! `dissolve`, `set`, `nickname`). A group is a conversation: post in it
//! with `send --group ID TEXT` and read it with `history --group ID`.
//! `receipts` and `read-by` tell who has read your own messages, which is
//! mostly a question about groups (in a 1:1 chat the other side's read
//! mark arrives as a push).
//!
//! Like the people commands (see [`crate::cli_people`]) they print compact
//! text, or with `--json` exactly one JSON document shaped like the
//! server's answer:
//! - `group create`, `group info`: the group;
//! - `group members`: `{"members": [...]}`, every page;
//! - `group list`: `{"groups": [...]}`, every page;
//! - `group requests`: `{"requests": [...]}`, every page;
//! - the changes: `{"conv": ID, "seq": N}`, the position of the event the
//!   change wrote in the group (no `seq` when nothing changed, nor for a
//!   rejection, which writes no event); a `group join` that filed a
//!   request for the admins instead answers `{"conv": ID, "requested": true}`;
//! - `receipts`: `{"conv": ID, "counts": [{"seq", "read", "unread"}]}`;
//! - `read-by`: `{"users": [...]}`, every page.
//!
//! Input the protocol bounds (names, texts, the mute's length, the
//! history shown to new members) is checked while the command line is
//! parsed, with the limits of [`magpie_proto::limits`]: a mistake is a
//! usage error (exit status 2) that names the field, and nothing is sent.

use crate::cli_client::{Failure, Output};
use crate::cli_people::{Printer, cell, clean, line, nickname, note, table, time};
use clap::{Args, Subcommand};
use magpie_client::Client;
use magpie_client::ClientError;
use magpie_proto::limits::{
    AVATAR_MAX, GROUP_ANNOUNCEMENT_MAX, GROUP_DESCRIPTION_MAX, GROUP_HISTORY_VISIBLE_MAX,
    GROUP_MUTE_MAX_SECS, GROUP_NAME_MAX, READ_RECEIPTS_MAX, check_text,
};
use magpie_proto::{
    ConvId, GroupChanged, GroupCreate, GroupFields, GroupInfo, GroupJoinRequest, GroupMember,
    GroupRole, JoinPolicy, ReadBy, ReadCount, ReadReceiptsOk, Reader, Seq,
};
use serde::Serialize;

/// The help of every command's ID argument.
const GROUP_ID: &str = "The group's id (its conversation; see `group list`)";
/// The help of the CONV argument of `receipts` and `read-by`.
const CONV_ID: &str = "The conversation's id (a group's id; see `conversations`)";

/// The group commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// Groups: make them, manage their members and settings, list yours.
    /// Post in one with `send --group ID TEXT`.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// How many members have read each of your messages SEQ... in
    /// conversation CONV (a group, typically): one line per SEQ.
    Receipts {
        #[arg(value_name = "CONV", value_parser = conversation, help = CONV_ID)]
        conv: ConvId,
        /// Seqs of messages you sent there (others are not counted).
        #[arg(value_name = "SEQ", required = true, value_parser = seq)]
        seqs: Vec<Seq>,
    },
    /// List who has read your message SEQ in conversation CONV (every
    /// page), or with --unread who has not.
    ReadBy {
        #[arg(value_name = "CONV", value_parser = conversation, help = CONV_ID)]
        conv: ConvId,
        /// The seq of a message you sent there.
        #[arg(value_name = "SEQ", value_parser = seq)]
        seq: Seq,
        /// List the members who have not read it instead.
        #[arg(long)]
        unread: bool,
    },
}

// A member argument is the field `name` (shown as USER), never `user`:
// clap would take a `user` for the global `--user` option, and the login
// would be made as the member named.
#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Make a group that you own; prints its id (the conversation to
    /// `send --group` to).
    Create(CreateArgs),
    /// Show group ID's profile and settings, and your role in it.
    Info {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
    },
    /// List the members of group ID with their roles, group nicknames and
    /// mutes (every page).
    Members {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
    },
    /// List the groups you are in (every page).
    List,
    /// Add USERs to group ID (owner and admins; anyone in a temporary
    /// group).
    Invite {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER", required = true)]
        users: Vec<String>,
    },
    /// Put USER out of group ID (the owner, or an admin for plain members).
    Remove {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Leave group ID (the owner transfers it or dissolves it first).
    Leave {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
    },
    /// Join group ID if anyone may join it (`--policy open`), or ask its
    /// owner and admins to let you in (`--policy request`).
    Join {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        /// A note for the admins with your request.
        #[arg(long, value_name = "TEXT", value_parser = note)]
        note: Option<String>,
    },
    /// List the pending requests to join group ID, with their notes
    /// (owner and admins; every page).
    Requests {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
    },
    /// Let USER, who asked to join group ID, in (owner and admins).
    Approve {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Turn down USER's request to join group ID (owner and admins); they
    /// are told.
    Reject {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Make USER an admin of group ID, or a plain member again (owner
    /// only; ownership moves with `group transfer`).
    Role {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
        /// admin or member.
        #[arg(value_name = "ROLE", value_parser = role)]
        role: GroupRole,
    },
    /// Keep USER from sending in group ID for DURATION (the owner, or an
    /// admin for plain members).
    Mute {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
        /// Seconds, or a number with a unit: 90, 30s, 10m, 2h, 1d.
        #[arg(value_name = "DURATION", value_parser = mute_duration)]
        seconds: u64,
    },
    /// Lift USER's mute in group ID.
    Unmute {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Let only the owner and admins send in group ID (on), or everyone
    /// again (off).
    MuteAll {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        /// on or off.
        #[arg(value_name = "on|off", value_parser = on_off, action = clap::ArgAction::Set)]
        on: bool,
    },
    /// Hand group ID to USER, a member; you stay on as an admin.
    Transfer {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "USER")]
        name: String,
    },
    /// End group ID for everyone (owner only). Its history stays readable.
    Dissolve {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
    },
    /// Change group ID's profile or settings (owner and admins); the
    /// others keep their value.
    Set {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[command(flatten)]
        fields: SetArgs,
    },
    /// Set your own nickname in group ID ("" clears it).
    Nickname {
        #[arg(value_name = "ID", value_parser = conv_id, help = GROUP_ID)]
        conv: ConvId,
        #[arg(value_name = "TEXT", value_parser = nickname)]
        text: String,
    },
}

/// `group create NAME ...`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The group's name.
    #[arg(value_name = "NAME", value_parser = group_name)]
    name: String,
    /// A user to add at once (repeat for more).
    #[arg(long = "member", value_name = "USER")]
    members: Vec<String>,
    /// A temporary group: any member may invite, and it ends when its
    /// last member leaves.
    #[arg(long)]
    temporary: bool,
    /// Anyone who knows the group's id may join (the same as `--policy
    /// open`; default: invite only).
    #[arg(long, conflicts_with = "policy")]
    open: bool,
    /// Who may become a member: invite, open or request (see `group set`).
    #[arg(long, value_name = "POLICY", value_parser = policy)]
    policy: Option<JoinPolicy>,
    /// What the group is about.
    #[arg(long, value_name = "TEXT", value_parser = description)]
    description: Option<String>,
    /// The announcement shown to members.
    #[arg(long, value_name = "TEXT", value_parser = announcement)]
    announcement: Option<String>,
}

impl CreateArgs {
    fn request(&self) -> GroupCreate {
        GroupCreate {
            name: self.name.clone(),
            members: self.members.clone(),
            description: self.description.clone(),
            announcement: self.announcement.clone(),
            // Only when asked: otherwise the server's default applies.
            join_policy: self.policy.or(self.open.then_some(JoinPolicy::Open)),
            temporary: self.temporary,
            ..GroupCreate::default()
        }
    }
}

/// The fields `group set` can change; at least one is required.
#[derive(Args, Debug)]
#[group(required = true, multiple = true)]
pub struct SetArgs {
    /// The group's name.
    #[arg(long, value_name = "TEXT", value_parser = group_name)]
    name: Option<String>,
    /// Avatar reference (a URL).
    #[arg(long, value_name = "REF", value_parser = avatar)]
    avatar: Option<String>,
    /// What the group is about.
    #[arg(long, value_name = "TEXT", value_parser = description)]
    description: Option<String>,
    /// The announcement shown to members.
    #[arg(long, value_name = "TEXT", value_parser = announcement)]
    announcement: Option<String>,
    /// Who may become a member: invite (added by the owner and admins),
    /// open (anyone with the id may join) or request (anyone may ask; the
    /// owner and admins approve).
    #[arg(long, value_name = "POLICY", value_parser = policy)]
    policy: Option<JoinPolicy>,
    /// How many entries from before they joined new members may read.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=i64::from(GROUP_HISTORY_VISIBLE_MAX)))]
    history_visible: Option<u32>,
}

impl SetArgs {
    fn fields(&self) -> GroupFields {
        GroupFields {
            name: self.name.clone(),
            avatar: self.avatar.clone(),
            description: self.description.clone(),
            announcement: self.announcement.clone(),
            join_policy: self.policy,
            history_visible: self.history_visible,
        }
    }
}

// Checks of the command line, run by clap while parsing: a mistake is a
// usage error (exit status 2) and nothing is sent.

fn group_name(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("a group needs a name".to_owned());
    }
    line("name", value, GROUP_NAME_MAX)
}

fn avatar(value: &str) -> Result<String, String> {
    line("avatar", value, AVATAR_MAX)
}

/// A free text that may span lines.
fn text(field: &str, value: &str, max: usize) -> Result<String, String> {
    check_text(field, value, max).map(|()| value.to_owned())
}

fn description(value: &str) -> Result<String, String> {
    text("description", value, GROUP_DESCRIPTION_MAX)
}

fn announcement(value: &str) -> Result<String, String> {
    text("announcement", value, GROUP_ANNOUNCEMENT_MAX)
}

fn conv_id(value: &str) -> Result<ConvId, String> {
    match value.parse::<ConvId>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err("a group is named by its id, a positive number (see `group list`)".to_owned()),
    }
}

/// Any conversation, not only a group: receipts are counted in both.
fn conversation(value: &str) -> Result<ConvId, String> {
    match value.parse::<ConvId>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(
            "a conversation is named by its id, a positive number (see `conversations`)".to_owned(),
        ),
    }
}

fn seq(value: &str) -> Result<Seq, String> {
    match value.parse::<Seq>() {
        Ok(seq) if seq > 0 => Ok(seq),
        _ => Err("a message is named by its seq, a positive number (see `history`)".to_owned()),
    }
}

fn role(value: &str) -> Result<GroupRole, String> {
    match value {
        "admin" => Ok(GroupRole::Admin),
        "member" => Ok(GroupRole::Member),
        _ => Err("role must be admin or member (ownership moves with `group transfer`)".to_owned()),
    }
}

fn on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("mute-all must be on or off".to_owned()),
    }
}

fn policy(value: &str) -> Result<JoinPolicy, String> {
    match value {
        "invite" => Ok(JoinPolicy::Invite),
        "open" => Ok(JoinPolicy::Open),
        "request" => Ok(JoinPolicy::Request),
        _ => Err("policy must be invite, open or request".to_owned()),
    }
}

/// A mute's length in seconds: `90`, `90s`, `10m`, `2h` or `1d`, up to
/// the protocol's longest mute. Zero is refused: on the wire it lifts a
/// mute, which `group unmute` says plainly.
fn mute_duration(value: &str) -> Result<u64, String> {
    const FORMS: &str = "seconds or a number with a unit s, m, h or d: 90, 10m, 2h, 1d";
    let text = value.trim();
    let (digits, scale) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let scale = match unit.to_ascii_lowercase() {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(format!("duration must be {FORMS}")),
            };
            (&text[..at], scale)
        }
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("duration must be {FORMS}"));
    }
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| "duration is too long".to_owned())?;
    if seconds == 0 {
        return Err("duration must be at least 1s (`group unmute` lifts a mute)".to_owned());
    }
    if seconds > GROUP_MUTE_MAX_SECS {
        return Err(format!(
            "duration must be at most {}",
            show_duration(GROUP_MUTE_MAX_SECS)
        ));
    }
    Ok(seconds)
}

/// Run a group command (or `receipts`, `read-by`) on an authenticated
/// client.
pub(crate) async fn perform(
    command: &GroupsCommand,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let mut print = Printer { out, json };
    match command {
        GroupsCommand::Group { command } => group(command, client, &mut print).await,
        GroupsCommand::Receipts { conv, seqs } => {
            let answer = receipts(client, *conv, seqs).await?;
            print.emit(&answer, || show_receipts(seqs, &answer.counts))
        }
        GroupsCommand::ReadBy { conv, seq, unread } => {
            let list = ReaderList {
                users: all_readers(client, *conv, *seq, *unread).await?,
            };
            print.emit(&list, || show_readers(*seq, *unread, &list.users))
        }
    }
}

/// Run one `group ...` command.
async fn group(
    command: &GroupCommand,
    client: &Client,
    print: &mut Printer<'_>,
) -> Result<(), Failure> {
    match command {
        GroupCommand::Create(args) => {
            let group = client.group_create(args.request()).await?;
            print.emit(&group, || {
                format!(
                    "created group {}: {}\n{}",
                    group.conv,
                    clean(&group.name),
                    show_info(&group)
                )
            })
        }
        GroupCommand::Info { conv } => {
            let group = client.group_info(*conv).await?;
            print.emit(&group, || show_info(&group))
        }
        GroupCommand::Members { conv } => {
            let list = MemberList {
                members: client.group_members(*conv).await?,
            };
            print.emit(&list, || {
                show_members(&list.members, magpie_server::clock::now_ms())
            })
        }
        GroupCommand::List => {
            let list = GroupList {
                groups: client.groups().await?,
            };
            print.emit(&list, || show_groups(&list.groups))
        }
        GroupCommand::Requests { conv } => {
            let list = RequestList {
                requests: client.group_requests(*conv).await?,
            };
            print.emit(&list, || show_requests(*conv, &list.requests))
        }
        GroupCommand::Reject { conv, name } => {
            // A rejection writes no event in the group, so its answer has
            // no seq; here that does not mean nothing changed.
            let done = client.group_reject(*conv, name).await?;
            print.emit(&done, || {
                format!(
                    "rejected the request of {} to join group {conv}",
                    clean(name)
                )
            })
        }
        change => {
            let (done, text) = apply(change, client).await?;
            print.emit(&done, || changed(&done, text))
        }
    }
}

/// Perform one of the commands that change a group: the server's answer,
/// and what was done in words.
async fn apply(command: &GroupCommand, client: &Client) -> Result<(GroupChanged, String), Failure> {
    use GroupCommand as C;
    let done = match command {
        C::Invite { conv, users } => {
            let names: Vec<&str> = users.iter().map(String::as_str).collect();
            let done = client.group_invite(*conv, &names).await?;
            let who: Vec<String> = users.iter().map(|u| clean(u)).collect();
            (done, format!("invited {} to group {conv}", who.join(", ")))
        }
        C::Remove { conv, name } => (
            client.group_remove(*conv, name).await?,
            format!("removed {} from group {conv}", clean(name)),
        ),
        C::Leave { conv } => (
            client.group_leave(*conv).await?,
            format!("left group {conv}"),
        ),
        C::Join { conv, note } => {
            let done = match note {
                Some(note) => client.group_ask(*conv, note).await?,
                None => client.group_join(*conv).await?,
            };
            // The group's policy decides, not the command: an open group
            // lets a note's author in, a request group files a request
            // without one.
            let text = if done.requested {
                format!("asked to join group {conv}: request sent to the group's admins")
            } else {
                format!("joined group {conv}")
            };
            (done, text)
        }
        C::Approve { conv, name } => (
            client.group_approve(*conv, name).await?,
            format!("{} is a member of group {conv} now", clean(name)),
        ),
        C::Role { conv, name, role } => (
            client.group_role(*conv, name, *role).await?,
            format!("{} is {} of group {conv}", clean(name), role_title(*role)),
        ),
        C::Mute {
            conv,
            name,
            seconds,
        } => (
            client.group_mute(*conv, name, *seconds).await?,
            format!(
                "muted {} in group {conv} for {}",
                clean(name),
                show_duration(*seconds)
            ),
        ),
        C::Unmute { conv, name } => (
            client.group_mute(*conv, name, 0).await?,
            format!("unmuted {} in group {conv}", clean(name)),
        ),
        C::MuteAll { conv, on } => (
            client.group_mute_all(*conv, *on).await?,
            if *on {
                format!("mute-all is on in group {conv}: only the owner and admins may send")
            } else {
                format!("mute-all is off in group {conv}: every member may send")
            },
        ),
        C::Transfer { conv, name } => (
            client.group_transfer(*conv, name).await?,
            format!("{} owns group {conv} now; you are an admin", clean(name)),
        ),
        C::Dissolve { conv } => (
            client.group_dissolve(*conv).await?,
            format!("dissolved group {conv}"),
        ),
        C::Set { conv, fields } => {
            let fields = fields.fields();
            let what = field_names(&fields).join(", ");
            (
                client.group_set(*conv, fields).await?,
                format!("updated group {conv}: {what}"),
            )
        }
        C::Nickname { conv, text } => (
            client.group_nickname(*conv, text).await?,
            if text.is_empty() {
                format!("cleared your nickname in group {conv}")
            } else {
                format!("your nickname in group {conv} is {}", clean(text))
            },
        ),
        C::Create(_)
        | C::Info { .. }
        | C::Members { .. }
        | C::List
        | C::Requests { .. }
        | C::Reject { .. } => {
            return Err(Failure::Usage("this command changes nothing".to_owned()));
        }
    };
    Ok(done)
}

/// `group members --json`: every page at once.
#[derive(Serialize)]
struct MemberList {
    members: Vec<GroupMember>,
}

/// `group list --json`: every page at once.
#[derive(Serialize)]
struct GroupList {
    groups: Vec<GroupInfo>,
}

/// `group requests --json`: every page at once.
#[derive(Serialize)]
struct RequestList {
    requests: Vec<GroupJoinRequest>,
}

/// `read-by --json`: every page at once.
#[derive(Serialize)]
struct ReaderList {
    users: Vec<Reader>,
}

/// The counts of every seq in `seqs`, in as many requests as the
/// protocol's limit per request makes it take, so that the command line
/// need not know that limit.
async fn receipts(client: &Client, conv: ConvId, seqs: &[Seq]) -> Result<ReadReceiptsOk, Failure> {
    let mut counts = Vec::new();
    for chunk in seqs.chunks(READ_RECEIPTS_MAX) {
        counts.extend(client.read_receipts(conv, chunk).await?.counts);
    }
    Ok(ReadReceiptsOk { conv, counts })
}

/// Every page of who has read (or, with `unread`, not read) entry `seq`.
async fn all_readers(
    client: &Client,
    conv: ConvId,
    seq: Seq,
    unread: bool,
) -> Result<Vec<Reader>, Failure> {
    let mut users = Vec::new();
    let mut after = None;
    loop {
        let query = ReadBy {
            conv,
            seq,
            unread,
            after,
            limit: None,
        };
        let page = client.read_by(query).await?;
        users.extend(page.users);
        match page.next {
            None => return Ok(users),
            // A next page must start past this one, or the loop would
            // never end.
            Some(next) if after.is_none_or(|a| next > a) => after = Some(next),
            Some(_) => {
                return Err(
                    ClientError::Protocol("the read-by pages do not advance".into()).into(),
                );
            }
        }
    }
}

// Text output.

/// What a change did, and whether it did anything: a repeat (muting the
/// muted) writes no event, and the server answers without a `seq`.
fn changed(done: &GroupChanged, text: String) -> String {
    match done.seq {
        Some(_) => text,
        // A request to join writes no event either: it waits for the
        // admins.
        None if done.requested => text,
        None => format!("{text} (it already was: nothing changed)"),
    }
}

/// The wire name of a role.
pub(crate) fn role_name(role: GroupRole) -> &'static str {
    match role {
        GroupRole::Member => "member",
        GroupRole::Admin => "admin",
        GroupRole::Owner => "owner",
    }
}

fn role_title(role: GroupRole) -> &'static str {
    match role {
        GroupRole::Member => "a member",
        GroupRole::Admin => "an admin",
        GroupRole::Owner => "the owner",
    }
}

fn policy_name(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::Invite => "invite",
        JoinPolicy::Open => "open",
        JoinPolicy::Request => "request",
    }
}

/// The settings a `group set` changes, by their flag names.
fn field_names(fields: &GroupFields) -> Vec<&'static str> {
    [
        (fields.name.is_some(), "name"),
        (fields.avatar.is_some(), "avatar"),
        (fields.description.is_some(), "description"),
        (fields.announcement.is_some(), "announcement"),
        (fields.join_policy.is_some(), "policy"),
        (fields.history_visible.is_some(), "history-visible"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// Seconds in the largest unit that divides them: `90s`, `10m`, `2h`.
fn show_duration(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn show_info(g: &GroupInfo) -> String {
    let join = match g.join_policy {
        JoinPolicy::Invite => "invite only",
        JoinPolicy::Open => "open: anyone with the id may join",
        JoinPolicy::Request => "by request: the owner and admins approve who asks",
    };
    let history = match g.history_visible {
        0 => "new members see nothing from before they joined".to_owned(),
        n => format!("new members see the last {n} entries from before they joined"),
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows = [
        ("group", g.conv.to_string()),
        ("name", cell(&g.name)),
        ("owner", cell(&g.owner)),
        ("your role", role_name(g.role).to_owned()),
        (
            "members",
            format!("{} (at most {})", g.members, g.member_limit),
        ),
        ("joining", join.to_owned()),
        ("history", history),
        ("temporary", yes_no(g.temporary)),
        (
            "mute-all",
            if g.muted_all { "on" } else { "off" }.to_owned(),
        ),
        ("description", cell(&g.description)),
        ("announcement", cell(&g.announcement)),
        ("avatar", cell(&g.avatar)),
        ("created", time(g.created_at)),
    ];
    let mut text = String::new();
    for (name, value) in rows {
        text.push_str(&format!("{name:<13} {value}\n"));
    }
    text
}

/// One line per member. A mute that has run out by `now` (ms) is not
/// shown: it no longer stops anyone.
fn show_members(members: &[GroupMember], now: i64) -> String {
    if members.is_empty() {
        return "no members".to_owned();
    }
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let muted = match m.muted_until {
                Some(until) if until > now => format!("until {}", time(until)),
                _ => "-".to_owned(),
            };
            vec![
                m.user_id.to_string(),
                cell(&m.user),
                role_name(m.role).to_owned(),
                cell(&m.nickname),
                muted,
            ]
        })
        .collect();
    table(&["ID", "USER", "ROLE", "NICKNAME", "MUTED"], &rows)
}

fn show_groups(groups: &[GroupInfo]) -> String {
    if groups.is_empty() {
        return "you are in no groups".to_owned();
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let mut notes = vec![policy_name(g.join_policy)];
            if g.temporary {
                notes.push("temporary");
            }
            if g.muted_all {
                notes.push("mute-all");
            }
            vec![
                g.conv.to_string(),
                cell(&g.name),
                role_name(g.role).to_owned(),
                g.members.to_string(),
                notes.join(", "),
            ]
        })
        .collect();
    table(&["ID", "NAME", "ROLE", "MEMBERS", "NOTES"], &rows)
}

/// One line per pending request to join, oldest user id first.
fn show_requests(conv: ConvId, requests: &[GroupJoinRequest]) -> String {
    if requests.is_empty() {
        return format!("no pending requests to join group {conv}");
    }
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            vec![
                r.user_id.to_string(),
                cell(&r.user),
                cell(&r.note),
                time(r.ts),
            ]
        })
        .collect();
    table(&["ID", "USER", "NOTE", "ASKED"], &rows)
}

/// One line per seq asked about, in the order asked. The server leaves
/// out the entries the caller did not send; they are named as such rather
/// than silently dropped.
fn show_receipts(seqs: &[Seq], counts: &[ReadCount]) -> String {
    let lines: Vec<String> = seqs
        .iter()
        .map(|seq| match counts.iter().find(|c| c.seq == *seq) {
            Some(c) => format!("seq {seq}: read {}, unread {}", c.read, c.unread),
            None => format!("seq {seq}: not a message you sent there"),
        })
        .collect();
    lines.join("\n")
}

/// The members who have read entry `seq` (or not, with `unread`), with
/// how far each has read.
fn show_readers(seq: Seq, unread: bool, users: &[Reader]) -> String {
    if users.is_empty() {
        return if unread {
            format!("everyone has read seq {seq}")
        } else {
            format!("nobody has read seq {seq} yet")
        };
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|r| vec![r.user_id.to_string(), cell(&r.user), r.read_seq.to_string()])
        .collect();
    table(&["ID", "USER", "READ UP TO"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `magpie client`'s arguments, parsed on their own.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: crate::cli_client::ClientArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("client").chain(args.iter().copied()))
    }

    fn group_command(args: &[&str]) -> GroupCommand {
        use crate::cli_client::ClientCommand;
        match parse(args).map(|c| c.args.command) {
            Ok(ClientCommand::Groups(GroupsCommand::Group { command })) => command,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn durations_take_seconds_or_a_unit() {
        for (text, seconds) in [
            ("90", 90),
            ("30s", 30),
            ("10m", 600),
            ("2h", 7200),
            ("1d", 86_400),
            ("2H", 7200),
        ] {
            assert_eq!(mute_duration(text), Ok(seconds), "{text}");
        }
        for bad in [
            "",
            "m",
            "10x",
            "-5",
            "1.5h",
            "1 h",
            "ten",
            "99999999999999999999d",
        ] {
            let err = mute_duration(bad).expect_err(bad);
            assert!(err.starts_with("duration"), "{bad}: {err}");
        }
        assert!(mute_duration("0").is_err_and(|e| e.contains("unmute")));
        assert_eq!(mute_duration("30d"), Ok(GROUP_MUTE_MAX_SECS));
        assert!(mute_duration("31d").is_err_and(|e| e.contains("at most 30d")));
        assert_eq!(show_duration(90), "90s");
        assert_eq!(show_duration(600), "10m");
        assert_eq!(show_duration(86_400 * 3), "3d");
    }

    #[test]
    fn create_asks_for_what_was_given_only() {
        let GroupCommand::Create(args) = group_command(&[
            "group", "create", "R&D", "--member", "bob", "--member", "carol", "--open",
        ]) else {
            panic!("create")
        };
        let request = args.request();
        assert_eq!(request.members, ["bob", "carol"]);
        assert_eq!(request.join_policy, Some(JoinPolicy::Open));
        assert!(!request.temporary);
        assert_eq!(request.description, None);
        let GroupCommand::Create(plain) = group_command(&["group", "create", "x"]) else {
            panic!("create")
        };
        assert_eq!(plain.request().join_policy, None);
        let GroupCommand::Create(noted) =
            group_command(&["group", "create", "x", "--announcement", "one\ntwo"])
        else {
            panic!("create")
        };
        assert_eq!(noted.request().announcement.as_deref(), Some("one\ntwo"));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["group", "set", "7"][..],
            &["group", "role", "7", "bob", "owner"],
            &["group", "mute", "7", "bob", "10x"],
            &["group", "mute-all", "7", "yes"],
            &["group", "set", "7", "--policy", "closed"],
            &["group", "info", "0"],
            &["group", "invite", "7"],
            &["group", "create", " "],
            &["group", "create", "a\nb"],
            &["group", "set", "7", "--history-visible", "1001"],
            &["group", "nickname", "7", "a\tb"],
        ] {
            let err = parse(bad).expect_err(&bad.join(" "));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        let GroupCommand::Set { fields, .. } = group_command(&[
            "group",
            "set",
            "7",
            "--name",
            "x",
            "--history-visible",
            "20",
        ]) else {
            panic!("set")
        };
        assert_eq!(field_names(&fields.fields()), ["name", "history-visible"]);
    }

    #[test]
    fn members_print_one_line_each_with_role_nickname_and_mute() {
        let member = |user_id, user: &str, role, nickname: &str, muted_until| GroupMember {
            user_id,
            user: user.to_owned(),
            role,
            nickname: nickname.to_owned(),
            muted_until,
            joined_at: 1,
            status: magpie_proto::Status::default(),
            status_text: String::new(),
        };
        let now = 1_700_000_000_000;
        let text = show_members(
            &[
                member(1, "alice", GroupRole::Owner, "boss", None),
                member(2, "bob", GroupRole::Member, "", Some(now + 60_000)),
                member(3, "carol", GroupRole::Admin, "", Some(now - 1)),
            ],
            now,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID  USER   ROLE    NICKNAME  MUTED");
        assert_eq!(lines[1], "1   alice  owner   boss      -");
        assert_eq!(
            lines[2],
            "2   bob    member  -         until 2023-11-14 22:14"
        );
        assert_eq!(lines[3], "3   carol  admin   -         -");
        assert_eq!(show_members(&[], now), "no members");
    }

    #[test]
    fn a_member_argument_leaves_the_login_user_alone() {
        for args in [
            &["--user", "alice", "group", "mute", "7", "bob", "2h"][..],
            &["--user", "alice", "group", "remove", "7", "bob"],
            &["--user", "alice", "group", "role", "7", "bob", "admin"],
            &["--user", "alice", "group", "unmute", "7", "bob"],
            &["--user", "alice", "group", "transfer", "7", "bob"],
            &["group", "transfer", "7", "bob", "--user", "alice"],
        ] {
            let cli = parse(args).expect("parses");
            assert_eq!(cli.args.conn.user.as_deref(), Some("alice"), "{args:?}");
            let crate::cli_client::ClientCommand::Groups(GroupsCommand::Group { command }) =
                cli.args.command
            else {
                panic!("{args:?}")
            };
            let named = match command {
                GroupCommand::Mute { name, .. }
                | GroupCommand::Remove { name, .. }
                | GroupCommand::Role { name, .. }
                | GroupCommand::Unmute { name, .. }
                | GroupCommand::Transfer { name, .. } => name,
                other => panic!("{other:?}"),
            };
            assert_eq!(named, "bob", "{args:?}");
        }
    }

    #[test]
    fn join_policies_include_requests() {
        let GroupCommand::Set { fields, .. } =
            group_command(&["group", "set", "7", "--policy", "request"])
        else {
            panic!("set")
        };
        assert_eq!(fields.fields().join_policy, Some(JoinPolicy::Request));
        for (args, policy) in [
            (
                &["group", "create", "x", "--policy", "request"][..],
                Some(JoinPolicy::Request),
            ),
            (
                &["group", "create", "x", "--policy", "invite"],
                Some(JoinPolicy::Invite),
            ),
            (&["group", "create", "x", "--open"], Some(JoinPolicy::Open)),
        ] {
            let GroupCommand::Create(create) = group_command(args) else {
                panic!("{args:?}")
            };
            assert_eq!(create.request().join_policy, policy, "{args:?}");
        }
        let err = parse(&["group", "create", "x", "--open", "--policy", "invite"])
            .expect_err("--open and --policy conflict");
        assert_eq!(err.exit_code(), 2);
        let err = policy("closed").expect_err("closed");
        assert!(err.contains("request"), "{err}");
    }

    #[test]
    fn join_takes_a_note_for_the_admins() {
        let GroupCommand::Join { conv, note } =
            group_command(&["group", "join", "7", "--note", "hi"])
        else {
            panic!("join")
        };
        assert_eq!((conv, note.as_deref()), (7, Some("hi")));
        let GroupCommand::Join { note, .. } = group_command(&["group", "join", "7"]) else {
            panic!("join")
        };
        assert_eq!(note, None);
        let long = "x".repeat(magpie_proto::limits::REQUEST_NOTE_MAX + 1);
        for bad in [
            &["group", "join", "7", "--note", "a\nb"][..],
            &["group", "join", "7", "--note", &long],
            &["group", "approve", "7"],
            &["group", "reject", "0", "bob"],
            &["group", "requests"],
        ] {
            let err = parse(bad).expect_err(&bad.join(" "));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn receipts_and_read_by_name_a_conversation_and_seqs() {
        match parse(&["receipts", "7", "3", "5"]).map(|c| c.args.command) {
            Ok(crate::cli_client::ClientCommand::Groups(GroupsCommand::Receipts {
                conv,
                seqs,
            })) => {
                assert_eq!((conv, seqs), (7, vec![3, 5]));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["read-by", "7", "3", "--unread"]).map(|c| c.args.command) {
            Ok(crate::cli_client::ClientCommand::Groups(GroupsCommand::ReadBy {
                conv,
                seq,
                unread,
            })) => assert_eq!((conv, seq, unread), (7, 3, true)),
            other => panic!("{other:?}"),
        }
        for bad in [
            &["receipts", "7"][..],
            &["receipts", "7", "0"],
            &["receipts", "x", "1"],
            &["read-by", "7"],
            &["read-by", "7", "-1"],
        ] {
            let err = parse(bad).expect_err(&bad.join(" "));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn receipts_print_one_line_per_seq_asked() {
        let counts = [
            ReadCount {
                seq: 5,
                read: 2,
                unread: 1,
            },
            ReadCount {
                seq: 3,
                read: 0,
                unread: 3,
            },
        ];
        assert_eq!(
            show_receipts(&[3, 4, 5], &counts),
            "seq 3: read 0, unread 3\n\
             seq 4: not a message you sent there\n\
             seq 5: read 2, unread 1"
        );
        let reader = |user_id, user: &str, read_seq| Reader {
            user_id,
            user: user.to_owned(),
            read_seq,
        };
        assert_eq!(
            show_readers(4, false, &[reader(2, "bob", 4), reader(13, "carol", 9)]),
            "ID  USER   READ UP TO\n2   bob    4\n13  carol  9\n"
        );
        assert_eq!(show_readers(4, false, &[]), "nobody has read seq 4 yet");
        assert_eq!(show_readers(4, true, &[]), "everyone has read seq 4");
    }

    #[test]
    fn requests_print_user_note_and_time() {
        let request = GroupJoinRequest {
            conv: 7,
            user_id: 4,
            user: "dave".to_owned(),
            note: "hi".to_owned(),
            ts: 1_700_000_000_000,
        };
        assert_eq!(
            show_requests(7, &[request]),
            "ID  USER  NOTE  ASKED\n4   dave  hi    2023-11-14 22:13\n"
        );
        assert_eq!(show_requests(7, &[]), "no pending requests to join group 7");
    }

    #[test]
    fn a_repeated_change_says_nothing_changed() {
        let done = |seq| GroupChanged {
            conv: 7,
            seq,
            requested: false,
        };
        assert_eq!(
            changed(&done(Some(3)), "joined group 7".into()),
            "joined group 7"
        );
        assert!(changed(&done(None), "joined group 7".into()).contains("nothing changed"));
        let asked = GroupChanged {
            conv: 7,
            seq: None,
            requested: true,
        };
        assert_eq!(changed(&asked, "asked".into()), "asked");
    }
}
