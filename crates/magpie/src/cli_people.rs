//! The people commands of `magpie client`: profiles, search, friends and
//! friend requests, friend categories, the blocklist and the change stream.
//!
//! Each prints compact text by default: one line per result, or a table
//! with a header row. With `--json` it prints exactly one JSON document
//! instead, shaped like the server's answer:
//! - `profile`, `profile set`: the profile;
//! - `search`: `{"users": [...], "next": ID}` (`next` only when more follow);
//! - `friend list`: `{"friends": [...], "categories": [...]}`, every page;
//! - `friend requests`: `{"incoming": [...], "outgoing": [...]}`;
//! - `friend request`: `{"status": "pending" | "friends"}`;
//! - `friend remark`, `friend category`: the friend;
//! - `category create`, `category rename`: the category;
//! - `blocks`: `{"users": [...]}`, every page;
//! - `changes`: `{"changes": [...], "head": N, "reset": BOOL}`; a change
//!   of a kind this build does not know is printed as the server sent it;
//! - the others (accept, reject, cancel, remove, category delete, block,
//!   unblock): `{"ok": true}`.
//!
//! Input the protocol bounds (profile fields, notes, remarks, names, the
//! search query, page sizes) is checked while the command line is parsed,
//! with the limits of [`magpie_proto::limits`], so a mistake is a usage
//! error (exit status 2) that names the field, and nothing is sent.

use crate::cli_client::{Failure, Output};
use clap::{Args, Subcommand};
use magpie_client::{Client, ClientError};
use magpie_proto::limits::{
    AVATAR_MAX, CATEGORY_NAME_MAX, NICKNAME_MAX, REMARK_MAX, REQUEST_NOTE_MAX, SEARCH_LIMIT_MAX,
    SEARCH_QUERY_MAX, SIGNATURE_MAX, check_line, is_birthday, is_email, is_phone,
};
use magpie_proto::{
    Category, CategoryId, Change, ChangeEvent, Friend, FriendRequestOk, Gender, JoinOutcome,
    LeftReason, PendingRequest, Profile, ProfileSet, RequestOutcome, RequestStatus, UserCard,
    UserId, UsersOk,
};
use serde::Serialize;

/// The people commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum PeopleCommand {
    /// Show your profile, or USER's (`profile set ...` changes yours).
    Profile(ProfileArgs),
    /// Find users by username, nickname, phone or email (one page).
    ///
    /// A QUERY with @ matches an email exactly; digits (optionally after +)
    /// match a phone exactly and usernames by prefix; anything else matches
    /// usernames by prefix and nicknames by substring. Results are ordered
    /// by user id; when more follow, pass the printed `next` as --after.
    Search {
        /// What to look for.
        #[arg(value_parser = search_query)]
        query: String,
        /// Continue after this user id.
        #[arg(long, value_name = "ID")]
        after: Option<UserId>,
        /// Page size (server default 20, at most 50).
        #[arg(long, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=i64::from(SEARCH_LIMIT_MAX)))]
        limit: Option<u32>,
    },
    /// Friends and friend requests.
    Friend {
        #[command(subcommand)]
        command: FriendCommand,
    },
    /// Friend categories (named groups of friends; `friend list` shows them).
    Category {
        #[command(subcommand)]
        command: CategoryCommand,
    },
    /// Block USER: ends any friendship, and neither can message the other.
    Block {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Unblock USER.
    Unblock {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// List the users you have blocked (every page).
    Blocks,
    /// Print your change stream after --after (every page).
    ///
    /// Also prints `head`, the seq to pass as --after next time. When the
    /// server no longer keeps the changes asked for, it says so (`reset`):
    /// reload friends, requests and blocks, then continue from `head`.
    Changes {
        /// The last seq already seen (0: from the start).
        #[arg(long, value_name = "N", default_value_t = 0,
              value_parser = clap::value_parser!(i64).range(0..))]
        after: i64,
    },
}

/// `profile [USER]`, `profile show [USER]`, `profile set ...`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ProfileArgs {
    /// Whose profile (default: yours). For a user named `set` or `show`,
    /// use `profile show USER`.
    #[arg(value_name = "USER")]
    name: Option<String>,
    #[command(subcommand)]
    command: Option<ProfileCommand>,
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Show your profile, or USER's.
    Show {
        #[arg(value_name = "USER")]
        name: Option<String>,
    },
    /// Change fields of your profile; the others keep their value. An
    /// empty value ("") clears a field.
    Set(ProfileSetArgs),
}

/// The fields `profile set` can change; at least one is required.
#[derive(Args, Debug)]
#[group(required = true, multiple = true)]
pub struct ProfileSetArgs {
    /// Display name.
    #[arg(long, value_name = "TEXT", value_parser = nickname)]
    nickname: Option<String>,
    /// Avatar reference (a URL).
    #[arg(long, value_name = "REF", value_parser = avatar)]
    avatar: Option<String>,
    /// One-line status text.
    #[arg(long, value_name = "TEXT", value_parser = signature)]
    signature: Option<String>,
    /// male, female, other or unspecified ("" is unspecified).
    #[arg(long, value_name = "GENDER", value_parser = gender)]
    gender: Option<Gender>,
    /// A date from 1900 on.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = birthday)]
    birthday: Option<String>,
    /// Digits, optionally after + (shown to friends only).
    #[arg(long, value_name = "NUMBER", value_parser = phone)]
    phone: Option<String>,
    /// An email address (shown to friends only).
    #[arg(long, value_name = "ADDRESS", value_parser = email)]
    email: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum FriendCommand {
    /// Ask USER to be friends (if USER had asked you, you are friends now).
    Request {
        #[arg(value_name = "USER")]
        name: String,
        /// A short note shown with the request.
        #[arg(long, value_name = "TEXT", default_value = "", value_parser = note)]
        note: String,
    },
    /// Accept USER's friend request.
    Accept {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Reject USER's friend request.
    Reject {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Withdraw your friend request to USER.
    Cancel {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// End your friendship with USER.
    Remove {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// List all your friends (every page) and your categories.
    List,
    /// List pending friend requests, to you and from you.
    Requests,
    /// Set your private alias for friend USER ("" clears it).
    Remark {
        #[arg(value_name = "USER")]
        name: String,
        #[arg(value_parser = remark)]
        text: String,
    },
    /// Put friend USER in category ID (0: in none).
    Category {
        #[arg(value_name = "USER")]
        name: String,
        #[arg(value_parser = clap::value_parser!(i64).range(0..))]
        id: CategoryId,
    },
}

#[derive(Subcommand, Debug)]
pub enum CategoryCommand {
    /// Create a category; prints its id.
    Create {
        #[arg(value_parser = category_name)]
        name: String,
    },
    /// Rename category ID.
    Rename {
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: CategoryId,
        #[arg(value_parser = category_name)]
        name: String,
    },
    /// Delete category ID; its friends are left in no category.
    Delete {
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: CategoryId,
    },
}

// Checks of the command line, run by clap while parsing. Each error names
// the field; clap adds the flag and the value.

pub(crate) fn line(field: &str, value: &str, max: usize) -> Result<String, String> {
    check_line(field, value, max).map(|()| value.to_owned())
}

pub(crate) fn nickname(value: &str) -> Result<String, String> {
    line("nickname", value, NICKNAME_MAX)
}

fn avatar(value: &str) -> Result<String, String> {
    line("avatar", value, AVATAR_MAX)
}

fn signature(value: &str) -> Result<String, String> {
    line("signature", value, SIGNATURE_MAX)
}

/// A note with a request: to be friends, or to join a group.
pub(crate) fn note(value: &str) -> Result<String, String> {
    line("note", value, REQUEST_NOTE_MAX)
}

fn remark(value: &str) -> Result<String, String> {
    line("remark", value, REMARK_MAX)
}

fn category_name(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("a category needs a name".to_owned());
    }
    line("category name", value, CATEGORY_NAME_MAX)
}

fn search_query(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("the search query must not be empty".to_owned());
    }
    line("query", value.trim(), SEARCH_QUERY_MAX)
}

fn gender(value: &str) -> Result<Gender, String> {
    match value {
        "male" => Ok(Gender::Male),
        "female" => Ok(Gender::Female),
        "other" => Ok(Gender::Other),
        "unspecified" | "" => Ok(Gender::Unspecified),
        _ => Err("gender must be male, female, other or unspecified".to_owned()),
    }
}

/// A profile field with a format: empty (to clear it) or passing `ok`.
fn formatted(value: &str, ok: fn(&str) -> bool, what: &str) -> Result<String, String> {
    if value.is_empty() || ok(value) {
        Ok(value.to_owned())
    } else {
        Err(what.to_owned())
    }
}

fn birthday(value: &str) -> Result<String, String> {
    formatted(
        value,
        is_birthday,
        "birthday must be a real date YYYY-MM-DD from 1900 on",
    )
}

fn phone(value: &str) -> Result<String, String> {
    formatted(
        value,
        is_phone,
        "phone must be 5 to 20 digits, optionally after +",
    )
}

fn email(value: &str) -> Result<String, String> {
    formatted(
        value,
        is_email,
        "email must be an address like name@example.com",
    )
}

/// Run a people command on an authenticated client.
pub(crate) async fn perform(
    command: &PeopleCommand,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let mut print = Printer { out, json };
    match command {
        PeopleCommand::Profile(args) => {
            let profile = match &args.command {
                None => client.profile(args.name.as_deref()).await?,
                Some(ProfileCommand::Show { name }) => client.profile(name.as_deref()).await?,
                Some(ProfileCommand::Set(set)) => client.set_profile(set.update()).await?,
            };
            print.emit(&profile, || show_profile(&profile))
        }
        PeopleCommand::Search {
            query,
            after,
            limit,
        } => {
            let page = client.search(query, *after, *limit).await?;
            print.emit(&page, || show_search(&page))
        }
        PeopleCommand::Friend { command } => friend(command, client, &mut print).await,
        PeopleCommand::Category { command } => match command {
            CategoryCommand::Create { name } => {
                let category = client.category_create(name).await?;
                print.emit(&category, || {
                    format!("created {}", show_category(&category))
                })
            }
            CategoryCommand::Rename { id, name } => {
                let category = client.category_rename(*id, name).await?;
                print.emit(&category, || {
                    format!("renamed {}", show_category(&category))
                })
            }
            CategoryCommand::Delete { id } => {
                client.category_delete(*id).await?;
                print.done(format!("deleted category {id}"))
            }
        },
        PeopleCommand::Block { name } => {
            client.block(name).await?;
            print.done(format!("blocked {}", clean(name)))
        }
        PeopleCommand::Unblock { name } => {
            client.unblock(name).await?;
            print.done(format!("unblocked {}", clean(name)))
        }
        PeopleCommand::Blocks => {
            let users = all_blocks(client).await?;
            let list = UserList { users };
            print.emit(&list, || {
                if list.users.is_empty() {
                    "no blocked users".to_owned()
                } else {
                    users_table(&list.users)
                }
            })
        }
        PeopleCommand::Changes { after } => {
            let caught = client.catch_up_changes(*after).await?;
            let list = ChangeList {
                changes: caught.changes.iter().collect(),
                head: caught.head,
                reset: caught.reset,
            };
            print.emit(&list, || show_changes(*after, &list))
        }
    }
}

async fn friend(
    command: &FriendCommand,
    client: &Client,
    print: &mut Printer<'_>,
) -> Result<(), Failure> {
    match command {
        FriendCommand::Request { name, note } => {
            let status = client.friend_request(name, note).await?;
            let name = clean(name);
            print.emit(&FriendRequestOk { status }, || match status {
                RequestStatus::Pending => format!("asked {name} to be friends"),
                RequestStatus::Friends => {
                    format!("{name} had asked you too: you are friends now")
                }
            })
        }
        FriendCommand::Accept { name } => {
            client.friend_accept(name).await?;
            print.done(format!("{} and you are friends now", clean(name)))
        }
        FriendCommand::Reject { name } => {
            client.friend_reject(name).await?;
            print.done(format!("rejected the request of {}", clean(name)))
        }
        FriendCommand::Cancel { name } => {
            client.friend_cancel(name).await?;
            print.done(format!("withdrew your request to {}", clean(name)))
        }
        FriendCommand::Remove { name } => {
            client.friend_remove(name).await?;
            print.done(format!("{} is no longer your friend", clean(name)))
        }
        FriendCommand::List => {
            let (friends, categories) = client.friends().await?;
            let list = FriendList {
                friends,
                categories,
            };
            print.emit(&list, || show_friends(&list))
        }
        FriendCommand::Requests => {
            let requests = client.friend_requests().await?;
            print.emit(&requests, || {
                show_requests(&requests.incoming, &requests.outgoing)
            })
        }
        FriendCommand::Remark { name, text } => {
            let friend = client.friend_set(name, Some(text), None).await?;
            print.emit(&friend, || {
                if friend.remark.is_empty() {
                    format!("{}: no remark", show_card(&friend.user))
                } else {
                    format!(
                        "{}: remark {}",
                        show_card(&friend.user),
                        clean(&friend.remark)
                    )
                }
            })
        }
        FriendCommand::Category { name, id } => {
            let friend = client.friend_set(name, None, Some(*id)).await?;
            print.emit(&friend, || match friend.category {
                Some(id) => format!("{}: in category {id}", show_card(&friend.user)),
                None => format!("{}: in no category", show_card(&friend.user)),
            })
        }
    }
}

impl ProfileSetArgs {
    fn update(&self) -> ProfileSet {
        ProfileSet {
            nickname: self.nickname.clone(),
            avatar: self.avatar.clone(),
            signature: self.signature.clone(),
            gender: self.gender,
            birthday: self.birthday.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
        }
    }
}

/// Every page of the blocklist.
async fn all_blocks(client: &Client) -> Result<Vec<UserCard>, Failure> {
    let mut users = Vec::new();
    let mut after = None;
    loop {
        let page = client.blocks(after, None).await?;
        let last = page.users.last().map(|u| u.user_id);
        users.extend(page.users);
        match page.next {
            None => return Ok(users),
            // A next page must start past this one, or the loop would
            // never end.
            Some(next) if last.is_some() && after.is_none_or(|a| next > a) => after = Some(next),
            Some(_) => {
                return Err(ClientError::Protocol("the blocks pages do not advance".into()).into());
            }
        }
    }
}

/// Prints one result: as JSON or as text.
pub(crate) struct Printer<'a> {
    pub(crate) out: &'a mut Output,
    pub(crate) json: bool,
}

impl Printer<'_> {
    /// Print `value` as JSON, or the text `human` makes of it.
    pub(crate) fn emit<T: Serialize>(
        &mut self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        if self.json {
            self.out.line(value)
        } else {
            self.out.text(&human())
        }
    }

    /// Report an operation that answers nothing: `{"ok":true}` or `text`.
    pub(crate) fn done(&mut self, text: String) -> Result<(), Failure> {
        self.emit(&Done { ok: true }, || text)
    }
}

#[derive(Serialize)]
struct Done {
    ok: bool,
}

/// `friend list --json`: every page at once.
#[derive(Serialize)]
struct FriendList {
    friends: Vec<Friend>,
    categories: Vec<Category>,
}

/// `blocks --json`: every page at once.
#[derive(Serialize)]
struct UserList {
    users: Vec<UserCard>,
}

/// `changes --json`.
#[derive(Serialize)]
struct ChangeList<'a> {
    changes: Vec<&'a Change>,
    /// The seq to pass as --after next time.
    head: i64,
    /// The stream no longer holds the changes after --after: reload
    /// friends, requests and blocks, then continue from `head`.
    reset: bool,
}

// Text output.

/// Text from the server made safe for a terminal: control characters
/// (the server refuses them, but it is not ours to trust) become U+FFFD.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// A cell: cleaned text, or `-` when empty.
pub(crate) fn cell(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        clean(text)
    }
}

/// `user (nickname)`, or the username alone when there is no nickname.
pub(crate) fn show_card(card: &UserCard) -> String {
    if card.nickname.is_empty() {
        clean(&card.user)
    } else {
        format!("{} ({})", clean(&card.user), clean(&card.nickname))
    }
}

fn show_category(category: &Category) -> String {
    format!("category {}: {}", category.id, clean(&category.name))
}

fn gender_name(gender: Gender) -> &'static str {
    match gender {
        Gender::Unspecified => "unspecified",
        Gender::Male => "male",
        Gender::Female => "female",
        Gender::Other => "other",
    }
}

/// Columns a terminal gives `text`: two for the wide characters of East
/// Asian scripts and emoji, one for the others (a close enough estimate
/// for aligning columns, without a table of every code point).
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// Rows under a header, columns separated by two spaces.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (column, text) in widths.iter_mut().zip(row) {
            *column = (*column).max(width(text));
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (text, column) in row.iter().zip(&widths) {
            let pad = column.saturating_sub(width(text));
            line.push_str(text);
            line.extend(std::iter::repeat_n(' ', pad + 2));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn users_table(users: &[UserCard]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| vec![u.user_id.to_string(), cell(&u.user), cell(&u.nickname)])
        .collect();
    table(&["ID", "USER", "NICKNAME"], &rows)
}

fn show_profile(p: &Profile) -> String {
    let optional = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), cell);
    let rows = [
        ("user", format!("{} (id {})", clean(&p.user), p.user_id)),
        ("nickname", cell(&p.nickname)),
        ("avatar", cell(&p.avatar)),
        ("signature", cell(&p.signature)),
        ("gender", gender_name(p.gender).to_owned()),
        ("birthday", optional(&p.birthday)),
        ("phone", optional(&p.phone)),
        ("email", optional(&p.email)),
        ("updated", time(p.updated_at)),
    ];
    let mut text = String::new();
    for (name, value) in rows {
        text.push_str(&format!("{name:<10} {value}\n"));
    }
    text
}

fn show_search(page: &UsersOk) -> String {
    if page.users.is_empty() {
        return "no users found".to_owned();
    }
    let mut text = users_table(&page.users);
    if let Some(next) = page.next {
        text.push_str(&format!("more: --after {next}\n"));
    }
    text
}

fn show_friends(list: &FriendList) -> String {
    let category_name = |id: CategoryId| {
        list.categories
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_string(), |c| format!("{} ({id})", clean(&c.name)))
    };
    let mut text = if list.friends.is_empty() {
        "no friends\n".to_owned()
    } else {
        let rows: Vec<Vec<String>> = list
            .friends
            .iter()
            .map(|f| {
                vec![
                    f.user.user_id.to_string(),
                    cell(&f.user.user),
                    cell(&f.user.nickname),
                    cell(&f.remark),
                    f.category.map_or_else(|| "-".to_owned(), category_name),
                    time(f.since),
                ]
            })
            .collect();
        table(
            &["ID", "USER", "NICKNAME", "REMARK", "CATEGORY", "SINCE"],
            &rows,
        )
    };
    let categories: Vec<String> = list
        .categories
        .iter()
        .map(|c| format!("{} {}", c.id, clean(&c.name)))
        .collect();
    if categories.is_empty() {
        text.push_str("categories: none\n");
    } else {
        text.push_str(&format!("categories: {}\n", categories.join(", ")));
    }
    text
}

fn show_requests(incoming: &[PendingRequest], outgoing: &[PendingRequest]) -> String {
    if incoming.is_empty() && outgoing.is_empty() {
        return "no pending friend requests".to_owned();
    }
    let rows: Vec<Vec<String>> = incoming
        .iter()
        .map(|r| ("from", &r.from, r))
        .chain(outgoing.iter().map(|r| ("to", &r.to, r)))
        .map(|(way, who, r)| {
            vec![
                way.to_owned(),
                cell(&who.user),
                cell(&who.nickname),
                time(r.ts),
                cell(&r.note),
            ]
        })
        .collect();
    table(&["", "USER", "NICKNAME", "SENT", "NOTE"], &rows)
}

fn show_changes(after: i64, list: &ChangeList<'_>) -> String {
    let mut text = String::new();
    if list.reset {
        text.push_str(&format!(
            "the server cannot continue after {after} (reset): reload friends, requests and blocks\n"
        ));
    } else if list.changes.is_empty() {
        text.push_str(&format!("no changes after {after}\n"));
    } else {
        let rows: Vec<Vec<String>> = list
            .changes
            .iter()
            .map(|change| {
                let (kind, what) = describe(&change.event);
                vec![
                    change.seq.to_string(),
                    time(change.ts),
                    kind.to_owned(),
                    what,
                ]
            })
            .collect();
        text.push_str(&table(&["SEQ", "TIME", "KIND", "WHAT"], &rows));
    }
    text.push_str(&format!(
        "head: {} (next time: --after {})\n",
        list.head, list.head
    ));
    text
}

/// A change's kind as on the wire, and a short description.
fn describe(event: &ChangeEvent) -> (&str, String) {
    match event {
        ChangeEvent::FriendRequest(r) => (
            "friend_request",
            format!(
                "{} -> {}{}",
                clean(&r.from.user),
                clean(&r.to.user),
                quoted_note(&r.note)
            ),
        ),
        ChangeEvent::FriendRequestClosed(r) => {
            let outcome = match r.outcome {
                RequestOutcome::Accepted => "accepted",
                RequestOutcome::Rejected => "rejected",
                RequestOutcome::Cancelled => "cancelled",
                RequestOutcome::Ignored => "ignored",
            };
            (
                "friend_request_closed",
                format!(
                    "{} -> {}: {outcome}",
                    clean(&r.from.user),
                    clean(&r.to.user)
                ),
            )
        }
        ChangeEvent::FriendAdded(f) => ("friend_added", show_card(&f.user)),
        ChangeEvent::FriendUpdated(f) => (
            "friend_updated",
            format!(
                "{}: remark {}, category {}",
                show_card(&f.user),
                cell(&f.remark),
                f.category.map_or_else(|| "-".to_owned(), |c| c.to_string())
            ),
        ),
        ChangeEvent::FriendRemoved(u) => ("friend_removed", show_card(u)),
        ChangeEvent::CategoryUpdated(c) => ("category_updated", show_category(c)),
        ChangeEvent::CategoryDeleted(c) => ("category_deleted", format!("category {}", c.id)),
        ChangeEvent::Blocked(u) => ("blocked", show_card(u)),
        ChangeEvent::Unblocked(u) => ("unblocked", show_card(u)),
        ChangeEvent::Profile(p) => (
            "profile",
            show_card(&UserCard {
                user_id: p.user_id,
                user: p.user.clone(),
                nickname: p.nickname.clone(),
                avatar: String::new(),
            }),
        ),
        ChangeEvent::DriveEntry(e) => (
            "drive_entry",
            format!(
                "{} {}{}",
                e.id,
                clean(&e.name),
                if e.trashed_at.is_some() {
                    " (in the bin)"
                } else {
                    ""
                }
            ),
        ),
        ChangeEvent::DriveRemoved(r) => ("drive_removed", r.entries.join(", ")),
        ChangeEvent::ConvSettings(s) => ("conv_settings", crate::cli_conv_settings::show(s)),
        ChangeEvent::GroupJoined(g) => (
            "group_joined",
            format!(
                "group {} {} as {}",
                g.conv,
                clean(&g.name),
                crate::cli_groups::role_name(g.role)
            ),
        ),
        ChangeEvent::GroupLeft(g) => {
            let reason = match g.reason {
                LeftReason::Left => "left",
                LeftReason::Removed => "removed",
                LeftReason::Dissolved => "dissolved",
            };
            (
                "group_left",
                format!(
                    "group {}: {reason} (readable up to #{})",
                    g.conv, g.last_seq
                ),
            )
        }
        ChangeEvent::GroupRequest(r) => (
            "group_request",
            format!("{} {}{}", r.conv, clean(&r.user), quoted_note(&r.note)),
        ),
        ChangeEvent::GroupRequestClosed(r) => {
            let outcome = match r.outcome {
                JoinOutcome::Approved => "approved",
                JoinOutcome::Rejected => "rejected",
                JoinOutcome::Dropped => "dropped",
            };
            (
                "group_request_closed",
                format!("{} {} {outcome}", r.conv, clean(&r.user)),
            )
        }
        ChangeEvent::Unknown { kind, .. } => (kind.as_str(), "-".to_owned()),
    }
}

fn quoted_note(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!(": {:?}", clean(note))
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM` (UTC); `-` for 0.
pub(crate) fn time(ms: i64) -> String {
    if ms <= 0 {
        return "-".to_owned();
    }
    let secs = ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// `magpie client`'s arguments, parsed on their own.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: crate::cli_client::ClientArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("client").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn profile_takes_a_user_or_a_subcommand() {
        use crate::cli_client::ClientCommand;
        let name = |args: &[&str]| match parse(args).map(|c| c.args.command) {
            Ok(ClientCommand::People(PeopleCommand::Profile(p))) => match p.command {
                None => p.name,
                Some(ProfileCommand::Show { name }) => name.map(|n| format!("show {n}")),
                Some(ProfileCommand::Set(_)) => Some("set".to_owned()),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(name(&["profile"]), None);
        assert_eq!(name(&["profile", "bob"]), Some("bob".into()));
        assert_eq!(name(&["profile", "show", "set"]), Some("show set".into()));
        assert_eq!(
            name(&["profile", "set", "--nickname", ""]),
            Some("set".into())
        );
    }

    #[test]
    fn bad_profile_fields_are_usage_errors_naming_the_field() {
        for (flag, value, field) in [
            ("--birthday", "2001-02-30", "birthday"),
            ("--birthday", "01-02-2001", "birthday"),
            ("--phone", "12ab5", "phone"),
            ("--email", "nobody", "email"),
            ("--gender", "robot", "gender"),
            ("--nickname", "a\nb", "nickname"),
        ] {
            let err = parse(&["profile", "set", flag, value]).expect_err(value);
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(text.contains(field), "{text}");
        }
        assert!(parse(&["profile", "set"]).is_err(), "at least one field");
        assert!(parse(&["profile", "set", "--birthday", "2000-02-29"]).is_ok());
        assert!(
            parse(&["profile", "set", "--birthday", ""]).is_ok(),
            "clears"
        );
        assert!(parse(&["search", " "]).is_err());
        assert!(parse(&["search", "bo", "--limit", "51"]).is_err());
        assert!(parse(&["friend", "category", "bob", "-1"]).is_err());
    }

    #[test]
    fn group_requests_in_the_change_stream_name_group_user_and_note() {
        use magpie_proto::{GroupJoinRequest, GroupRequestClosed};
        let asked = ChangeEvent::GroupRequest(GroupJoinRequest {
            conv: 7,
            user_id: 4,
            user: "dave".into(),
            note: "note".into(),
            ts: 1,
        });
        assert_eq!(
            describe(&asked),
            ("group_request", r#"7 dave: "note""#.to_owned())
        );
        let closed = ChangeEvent::GroupRequestClosed(GroupRequestClosed {
            conv: 7,
            user_id: 4,
            user: "dave".into(),
            outcome: JoinOutcome::Approved,
        });
        assert_eq!(
            describe(&closed),
            ("group_request_closed", "7 dave approved".to_owned())
        );
    }

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(time(0), "-");
        assert_eq!(time(1), "1970-01-01 00:00");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(time(1_700_000_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![
            vec!["1".to_owned(), "bob".to_owned()],
            vec!["22".to_owned(), "-".to_owned()],
        ];
        assert_eq!(table(&["ID", "USER"], &rows), "ID  USER\n1   bob\n22  -\n");
        let rows = vec![vec!["小明".to_owned(), "x".to_owned()]];
        assert_eq!(table(&["NAME", "ID"], &rows), "NAME  ID\n小明  x\n");
    }
}
