//! `magpie admin`: the operators' tool.
//!
//! Every command except `bootstrap` talks to a running server over the
//! protocol, signed in as an administrator, so its effects are live: a
//! disabled account's sessions close at once on every node, a new
//! department is pushed to every client. It signs in the way `magpie
//! client` does (see [`crate::cli_client`]): `MAGPIE_TOKEN`, or --user
//! with `MAGPIE_PASSWORD`, and reports errors the same way, with the same
//! exit statuses.
//!
//! `bootstrap` works on the database directly, before the server has ever
//! run or while it runs, to make the first administrator: it opens the
//! store the way `magpie serve` does (the same --config file, --data-dir,
//! --database-url and environment) and creates the account with the admin
//! role, or promotes an existing one.
//!
//! Passwords for other accounts never come from the command line:
//! `user add` lets the server generate one unless --password-from-env
//! takes it from `MAGPIE_NEW_PASSWORD`; `user reset-password` generates one
//! unless `MAGPIE_NEW_PASSWORD` is set. A generated password is printed
//! once. (`MAGPIE_PASSWORD` stays the administrator's own.)
//!
//! Text by default; with `--json` one JSON document:
//! - `bootstrap`: `{"user_id", "user", "created", "enabled", "password"?}`;
//! - `user add`: `{"user_id", "user", "password"?}` as the server answers;
//! - `user list`: `{"users": [...]}`, every page;
//! - `user show`, `set`, `disable`, `enable`, `delete`: the account;
//! - `user reset-password`: `{"user_id", "user", "password"?}` (the
//!   password only when generated);
//! - `user import`: `{"rows": [...], "created": N, "failed": N}`, each row
//!   `{"line", "user", "status": "created" | "failed", ...}` with
//!   `user_id` and a generated `password`, or the `error` `{code,
//!   message}`; exit status 1 if any row failed;
//! - `dept add`: the department; `dept rename`, `move`, `reorder`,
//!   `delete`: `{"version": N}`, the directory's new version;
//! - `dept list`: the tree as the server returns it;
//! - `quota`: `{"ok": true}`.

use crate::cli_client::{
    Failure, NEW_PASSWORD_ENV, Output, Secret, Secrets, ServerArgs, finish, require_user,
    session_credentials, with_session,
};
use crate::cli_directory::{resolve_dept, show_tree};
use crate::cli_people::{Printer, cell, clean, line, nickname, table, time};
use crate::serve::ServeArgs;
use clap::{Args, Subcommand};
use magpie_client::{Client, ClientError};
use magpie_proto::limits::{
    DEPT_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, TITLE_MAX, USERNAME_MAX, normalize_username,
};
use magpie_proto::{
    AccountState, AdminUser, AdminUserCreate, AdminUserSet, DeptId, DeptUpdate, DirectoryOk, Role,
    UserId,
};
use magpie_server::Config;
use magpie_store::{AccountChange, NewAccount, SqlStore, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `magpie admin`.
#[derive(Args, Debug)]
#[command(after_help = "\
Every command but `bootstrap` signs in to the server (--server) as an
administrator, as `magpie client` does:
  MAGPIE_TOKEN         a session token from `magpie client login`, or
  MAGPIE_PASSWORD      the password of --user (MAGPIE_USER)
  MAGPIE_NEW_PASSWORD  a password for the account being created or reset
                       (otherwise one is generated and printed once)

`bootstrap --user NAME` makes NAME an administrator directly in the
database, found like `magpie serve` finds it (--config, --data-dir,
--database-url and their MAGPIE_* variables); the password comes from
MAGPIE_PASSWORD or is generated and printed once.

Output: text, or with --json one JSON document.
Exit status: 0 ok, 1 server, connection or storage error (or rows of an
import failed), 2 usage or configuration error.")]
pub struct AdminArgs {
    #[command(flatten)]
    pub conn: ServerArgs,

    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The operations of `magpie admin`.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Make --user an administrator directly in the database: create the
    /// account (password from MAGPIE_PASSWORD, or generated and printed
    /// once) or promote an existing one. Works whether or not the server
    /// runs; takes the database settings of `magpie serve`.
    Bootstrap(Box<ServeArgs>),
    /// Accounts: create, list, show, change, disable, delete, import.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Departments of the company directory.
    Dept {
        #[command(subcommand)]
        command: DeptCommand,
    },
    /// Set a user's drive and file storage quota: BYTES (a number, or
    /// with a unit: 500M, 10G, 1.5T; units are powers of 1024), or
    /// `default` for the server's default.
    // The account is `name`, not `user`: clap would take a `user` for the
    // global `--user` option, and sign in as the account named.
    Quota {
        #[arg(value_name = "USER")]
        name: String,
        #[arg(value_name = "BYTES|default", value_parser = quota_bytes)]
        bytes: QuotaBytes,
    },
}

/// A quota as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaBytes {
    /// The server's default.
    Default,
    Bytes(u64),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the server generates its password (printed
    /// once) unless --password-from-env.
    Add {
        #[arg(value_name = "NAME", value_parser = username)]
        name: String,
        /// Take the password from MAGPIE_NEW_PASSWORD instead.
        #[arg(long)]
        password_from_env: bool,
        /// Display name.
        #[arg(long, value_name = "TEXT", value_parser = nickname)]
        nickname: Option<String>,
        /// Department (see `dept list`).
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        dept: Option<DeptId>,
        /// Job title.
        #[arg(long, value_name = "TEXT", value_parser = title)]
        title: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// List accounts (every page), optionally only usernames starting
    /// with --prefix.
    List {
        #[arg(long, value_name = "TEXT", value_parser = prefix)]
        prefix: Option<String>,
    },
    /// Show one account.
    Show {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Disable an account: it cannot sign in, and its sessions close at
    /// once on every node.
    Disable {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Delete an account for good: it cannot sign in, leaves the
    /// directory and search, its profile is cleared; its messages stay in
    /// others' history. Asks first unless --yes.
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Give an account a new password (generated and printed once, unless
    /// MAGPIE_NEW_PASSWORD is set); every session of it is signed out.
    ResetPassword {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Change an account's department, title or role.
    Set(UserSetArgs),
    /// Create accounts from a CSV file with the header
    /// `username,nickname,dept,title` and optionally `,password`. `dept`
    /// is empty, a department id, a name only one department has, or a
    /// path of names (`HQ/R&D`); an empty password is generated. Each row
    /// is reported; a failed row does not stop the others.
    Import {
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
}

/// `user set NAME ...`: at least one change.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
pub struct UserSetArgs {
    #[arg(value_name = "NAME")]
    name: String,
    /// Move into department ID (0: out of the directory).
    #[arg(long, value_name = "ID", group = "change",
          value_parser = clap::value_parser!(i64).range(0..))]
    dept: Option<DeptId>,
    /// Job title ("" clears it).
    #[arg(long, value_name = "TEXT", group = "change", value_parser = title)]
    title: Option<String>,
    /// user or admin.
    #[arg(long, value_name = "ROLE", group = "change", value_parser = role)]
    role: Option<Role>,
}

#[derive(Subcommand, Debug)]
pub enum DeptCommand {
    /// Create a department; prints its id.
    Add {
        #[arg(value_name = "NAME", value_parser = dept_name)]
        name: String,
        /// The parent department (default: top level).
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        parent: Option<DeptId>,
        /// Position among its siblings (ascending; ties by id).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        order: Option<i64>,
    },
    /// Rename department ID.
    Rename {
        #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        id: DeptId,
        #[arg(value_name = "NAME", value_parser = dept_name)]
        name: String,
    },
    /// Move department ID under another (--parent 0: to the top level).
    Move {
        #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        id: DeptId,
        #[arg(long, value_name = "ID", required = true,
              value_parser = clap::value_parser!(i64).range(0..))]
        parent: DeptId,
    },
    /// Set department ID's position among its siblings.
    Reorder {
        #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        id: DeptId,
        #[arg(value_name = "ORDER", allow_negative_numbers = true)]
        order: i64,
    },
    /// Delete department ID (only an empty one: no members, no children).
    Delete {
        #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        id: DeptId,
    },
    /// Print the department tree with member counts.
    List,
}

// Checks of the command line, run by clap while parsing.

fn username(value: &str) -> Result<String, String> {
    normalize_username(value)
        .map(|_| value.to_owned())
        .ok_or_else(|| {
            format!("usernames are 3-{USERNAME_MAX} characters of a-z, 0-9, '_', '.', '-'")
        })
}

fn title(value: &str) -> Result<String, String> {
    line("title", value, TITLE_MAX)
}

fn prefix(value: &str) -> Result<String, String> {
    line("prefix", value, USERNAME_MAX)
}

fn dept_name(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("a department needs a name".to_owned());
    }
    line("department name", value, DEPT_NAME_MAX)
}

/// `default`, or a size: `1073741824`, `500M`, `10G`, `1.5TiB`.
fn quota_bytes(value: &str) -> Result<QuotaBytes, String> {
    if value.eq_ignore_ascii_case("default") {
        return Ok(QuotaBytes::Default);
    }
    let bad = || format!("{value:?} is not a size like 1073741824, 500M, 10G or 1.5T, nor default");
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole
            .checked_mul(1 << shift)
            .map(QuotaBytes::Bytes)
            .ok_or_else(bad);
    }
    let fraction: f64 = number.parse().map_err(|_| bad())?;
    let bytes = (fraction * (1u64 << shift) as f64).round();
    if bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64 {
        Ok(QuotaBytes::Bytes(bytes as u64))
    } else {
        Err(bad())
    }
}

fn role(value: &str) -> Result<Role, String> {
    match value {
        "user" => Ok(Role::User),
        "admin" => Ok(Role::Admin),
        _ => Err("role must be user or admin".to_owned()),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
    }
}

fn state_name(state: AccountState) -> &'static str {
    match state {
        AccountState::Active => "active",
        AccountState::Disabled => "disabled",
        AccountState::Deleted => "deleted",
    }
}

/// Run one `magpie admin` command; failures are reported on stderr and
/// turned into the exit status.
pub async fn run(args: AdminArgs) -> ExitCode {
    let secrets = Secrets::from_env();
    let result = execute(args, &secrets).await;
    finish(&secrets, result)
}

async fn execute(args: AdminArgs, secrets: &Secrets) -> Result<(), Failure> {
    let mut out = Output::new();
    let json = args.json;
    match args.command {
        AdminCommand::Bootstrap(serve) => {
            let mut print = Printer {
                out: &mut out,
                json,
            };
            bootstrap(&args.conn, *serve, secrets, &mut print).await
        }
        command => {
            // Everything that can be checked is checked before connecting.
            let plan = Plan::prepare(command, secrets)?;
            let credentials = session_credentials(&args.conn, secrets)?;
            with_session(
                &args.conn.server,
                &credentials,
                async |client: &mut Client| {
                    let mut print = Printer {
                        out: &mut out,
                        json,
                    };
                    plan.perform(client, &mut print).await
                },
            )
            .await
        }
    }
}

/// A command with its local input read and checked: the password to set,
/// the rows to import, the confirmation given.
enum Plan {
    User(UserCommand, Option<NewPassword>),
    Import(Vec<ImportRow>),
    Dept(DeptCommand),
    Quota(String, QuotaBytes),
}

impl Plan {
    fn prepare(command: AdminCommand, secrets: &Secrets) -> Result<Plan, Failure> {
        match command {
            AdminCommand::User {
                command: UserCommand::Import { file },
            } => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
                let rows = parse_import(&text)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
                Ok(Plan::Import(rows))
            }
            AdminCommand::User { command } => {
                let password = match &command {
                    UserCommand::Add {
                        password_from_env: true,
                        ..
                    } => match secrets.new_password()? {
                        Some(secret) => Some(NewPassword {
                            secret,
                            generated: false,
                        }),
                        None => {
                            return Err(Failure::Usage(format!(
                                "--password-from-env: {NEW_PASSWORD_ENV} must hold the password"
                            )));
                        }
                    },
                    UserCommand::ResetPassword { .. } => Some(match secrets.new_password()? {
                        Some(secret) => NewPassword {
                            secret,
                            generated: false,
                        },
                        None => NewPassword {
                            secret: Secret::new(magpie_server::auth::generated_password()),
                            generated: true,
                        },
                    }),
                    _ => None,
                };
                if let Some(p) = &password {
                    check_password(p.secret.expose(), NEW_PASSWORD_ENV)?;
                }
                if let UserCommand::Delete { name, yes: false } = &command
                    && !confirm(&format!(
                        "Delete the account {} for good? It cannot be undone.",
                        clean(name)
                    ))?
                {
                    return Err(Failure::Failed(
                        "aborted",
                        "nothing deleted (pass --yes to skip the question)".to_owned(),
                    ));
                }
                Ok(Plan::User(command, password))
            }
            AdminCommand::Dept { command } => Ok(Plan::Dept(command)),
            AdminCommand::Quota { name, bytes } => Ok(Plan::Quota(name, bytes)),
            AdminCommand::Bootstrap(_) => Err(Failure::Usage(
                "bootstrap does not connect to a server".to_owned(),
            )),
        }
    }

    async fn perform(self, client: &Client, print: &mut Printer<'_>) -> Result<(), Failure> {
        match self {
            Plan::User(command, password) => user(command, password, client, print).await,
            Plan::Import(rows) => import(rows, client, print).await,
            Plan::Dept(command) => dept(command, client, print).await,
            Plan::Quota(name, bytes) => {
                let (bytes, shown) = match bytes {
                    QuotaBytes::Default => (None, "the server's default".to_owned()),
                    QuotaBytes::Bytes(n) => (Some(n), format!("{n} bytes")),
                };
                client.admin_quota_set(&name, bytes).await?;
                print.done(format!("the quota of {} is {shown}", clean(&name)))
            }
        }
    }
}

/// A password for another account, from `MAGPIE_NEW_PASSWORD` or
/// generated here (then printed once).
struct NewPassword {
    secret: Secret,
    generated: bool,
}

/// Ask `question` on stderr; true for "y" or "yes" on stdin. Shared with
/// `drive purge`, which also destroys for good.
pub(crate) fn confirm(question: &str) -> Result<bool, Failure> {
    use std::io::{IsTerminal, Write};
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().read_line(&mut answer);
    if !std::io::stdin().is_terminal() {
        // Nobody typed the line break that ends the question's line.
        eprintln!();
    }
    read.map_err(|e| Failure::Failed("io", format!("reading the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn check_password(password: &str, source: &str) -> Result<(), Failure> {
    if (PASSWORD_MIN..=PASSWORD_MAX).contains(&password.len()) {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{source}: passwords are {PASSWORD_MIN}-{PASSWORD_MAX} bytes"
        )))
    }
}

// Accounts.

async fn user(
    command: UserCommand,
    password: Option<NewPassword>,
    client: &Client,
    print: &mut Printer<'_>,
) -> Result<(), Failure> {
    let set_state = async |name: String, state: AccountState| {
        client
            .admin_user_set(AdminUserSet {
                user: name,
                state: Some(state),
                ..AdminUserSet::default()
            })
            .await
    };
    match command {
        UserCommand::Add {
            name,
            password_from_env: _,
            nickname,
            dept,
            title,
            admin,
        } => {
            let created = client
                .admin_user_create(AdminUserCreate {
                    user: name,
                    password: password.map(|p| p.secret.expose().to_owned()),
                    nickname,
                    dept,
                    title,
                    role: admin.then_some(Role::Admin),
                })
                .await?;
            print.emit(&created, || {
                let mut text = format!("created {} (id {})", clean(&created.user), created.user_id);
                if let Some(password) = &created.password {
                    text.push_str(&format!(
                        "\npassword: {}\n(shown only now)",
                        clean(password)
                    ));
                }
                text
            })
        }
        UserCommand::List { prefix } => {
            let list = UserList {
                users: all_users(client, prefix.as_deref()).await?,
            };
            if print.json {
                return print.out.line(&list);
            }
            let names = dept_names(client).await?;
            print.out.text(&users_table(&list.users, &names))
        }
        UserCommand::Show { name } => {
            let account = client.admin_user(&name).await?;
            show(client, print, &account, None).await
        }
        UserCommand::Disable { name } => {
            let account = set_state(name, AccountState::Disabled).await?;
            show(
                client,
                print,
                &account,
                Some("disabled: its sessions were closed"),
            )
            .await
        }
        UserCommand::Enable { name } => {
            let account = set_state(name, AccountState::Active).await?;
            show(client, print, &account, Some("enabled")).await
        }
        UserCommand::Delete { name, yes: _ } => {
            let account = set_state(name, AccountState::Deleted).await?;
            show(client, print, &account, Some("deleted")).await
        }
        UserCommand::ResetPassword { name } => {
            let Some(password) = password else {
                return Err(Failure::Usage("no password to set".to_owned()));
            };
            let account = client
                .admin_user_set(AdminUserSet {
                    user: name,
                    password: Some(password.secret.expose().to_owned()),
                    ..AdminUserSet::default()
                })
                .await?;
            // Printed only when generated: a password from the environment
            // is known to whoever set it.
            let reset = PasswordReset {
                user_id: account.user_id,
                user: &account.user,
                password: password.generated.then(|| password.secret.expose()),
            };
            print.emit(&reset, || {
                let mut text = format!(
                    "new password for {} (id {}); its sessions were signed out",
                    clean(&account.user),
                    account.user_id
                );
                if let Some(password) = reset.password {
                    text.push_str(&format!(
                        "\npassword: {}\n(shown only now)",
                        clean(password)
                    ));
                }
                text
            })
        }
        UserCommand::Set(set) => {
            let account = client
                .admin_user_set(AdminUserSet {
                    user: set.name,
                    role: set.role,
                    dept: set.dept,
                    title: set.title,
                    ..AdminUserSet::default()
                })
                .await?;
            show(client, print, &account, Some("changed")).await
        }
        UserCommand::Import { .. } => Err(Failure::Usage(
            "import is prepared before connecting".to_owned(),
        )),
    }
}

/// `user reset-password --json`.
#[derive(Serialize)]
struct PasswordReset<'a> {
    user_id: UserId,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

/// `user list --json`: every page at once.
#[derive(Serialize)]
struct UserList {
    users: Vec<AdminUser>,
}

/// Every page of the accounts whose username starts with `prefix`.
async fn all_users(client: &Client, prefix: Option<&str>) -> Result<Vec<AdminUser>, Failure> {
    let mut users = Vec::new();
    let mut after: Option<UserId> = None;
    loop {
        let page = client.admin_users_page(prefix, after, None).await?;
        let last = page.users.last().map(|u| u.user_id);
        users.extend(page.users);
        match page.next {
            None => return Ok(users),
            // A next page must start past this one, or the loop would
            // never end.
            Some(next) if last.is_some() && after.is_none_or(|a| next > a) => after = Some(next),
            Some(_) => {
                return Err(
                    ClientError::Protocol("the account pages do not advance".into()).into(),
                );
            }
        }
    }
}

/// Department names by id, to show accounts' departments by name.
async fn dept_names(client: &Client) -> Result<HashMap<DeptId, String>, Failure> {
    let tree = client.directory().await?;
    Ok(tree
        .departments
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect())
}

fn dept_label(dept: Option<DeptId>, names: &HashMap<DeptId, String>) -> String {
    match dept {
        None => "-".to_owned(),
        Some(id) => match names.get(&id) {
            Some(name) => format!("{} [{id}]", clean(name)),
            None => format!("[{id}]"),
        },
    }
}

/// Print one account: as JSON, or as text after `what` happened to it.
async fn show(
    client: &Client,
    print: &mut Printer<'_>,
    account: &AdminUser,
    what: Option<&str>,
) -> Result<(), Failure> {
    if print.json {
        return print.out.line(account);
    }
    let names = dept_names(client).await?;
    let mut text = String::new();
    if let Some(what) = what {
        text.push_str(&format!("{}: {what}\n", clean(&account.user)));
    }
    let rows = [
        (
            "user",
            format!("{} (id {})", clean(&account.user), account.user_id),
        ),
        ("nickname", cell(&account.nickname)),
        ("role", role_name(account.role).to_owned()),
        ("state", state_name(account.state).to_owned()),
        ("dept", dept_label(account.dept, &names)),
        ("title", cell(&account.title)),
        ("created", time(account.created_at)),
    ];
    for (name, value) in rows {
        text.push_str(&format!("{name:<9} {value}\n"));
    }
    print.out.text(&text)
}

fn users_table(users: &[AdminUser], names: &HashMap<DeptId, String>) -> String {
    if users.is_empty() {
        return "no accounts".to_owned();
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.user_id.to_string(),
                cell(&u.user),
                cell(&u.nickname),
                role_name(u.role).to_owned(),
                state_name(u.state).to_owned(),
                dept_label(u.dept, names),
                cell(&u.title),
                time(u.created_at),
            ]
        })
        .collect();
    table(
        &[
            "ID", "USER", "NICKNAME", "ROLE", "STATE", "DEPT", "TITLE", "CREATED",
        ],
        &rows,
    )
}

// Import.

/// One data row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImportRow {
    /// Line number in the file (the header is line 1).
    line: usize,
    fields: Vec<String>,
    /// Fields the header names: 4, or 5 with `password`.
    expected: usize,
}

/// What happened to one row.
#[derive(Debug, Serialize)]
struct RowResult {
    line: usize,
    user: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RowError>,
}

#[derive(Debug, Serialize)]
struct RowError {
    code: String,
    message: String,
}

/// `user import --json`.
#[derive(Debug, Serialize)]
struct ImportReport {
    rows: Vec<RowResult>,
    created: usize,
    failed: usize,
}

const IMPORT_HEADER: [&str; 4] = ["username", "nickname", "dept", "title"];

/// The rows of an import file after its header. A row with the wrong
/// number of fields is kept, to be reported as failed; a malformed file
/// (bad header, unterminated quote) is refused whole.
fn parse_import(text: &str) -> Result<Vec<ImportRow>, String> {
    let mut records = parse_csv(text.strip_prefix('\u{FEFF}').unwrap_or(text))?.into_iter();
    let Some((_, header)) = records.next() else {
        return Err("the file is empty; it needs the header username,nickname,dept,title".into());
    };
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let expected = match header.as_slice() {
        [u, n, d, t] if [u, n, d, t] == IMPORT_HEADER => 4,
        [u, n, d, t, p] if [u, n, d, t] == IMPORT_HEADER && p == "password" => 5,
        _ => {
            return Err(format!(
                "the header must be username,nickname,dept,title (and optionally ,password), not {:?}",
                header.join(",")
            ));
        }
    };
    Ok(records
        .map(|(line, fields)| ImportRow {
            line,
            fields,
            expected,
        })
        .collect())
}

/// CSV records (RFC 4180: commas, double quotes with `""` for a quote,
/// quoted fields may hold commas and line breaks; CRLF or LF) with the
/// line each starts on. Blank lines are skipped. Parsed by hand: the
/// workspace has no CSV crate.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut in_quotes = false;
    // The current field was quoted: text after its closing quote is an error.
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                in_quotes = true;
                was_quoted = true;
            }
            '"' => return Err(format!("line {line}: a quote inside an unquoted field")),
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    records.push((start, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                start = line;
            }
            _ if was_quoted => {
                return Err(format!("line {line}: text after a closing quote"));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(format!("line {start}: a quoted field is not closed"));
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        records.push((start, fields));
    }
    Ok(records)
}

async fn import(
    rows: Vec<ImportRow>,
    client: &Client,
    print: &mut Printer<'_>,
) -> Result<(), Failure> {
    // Department names are resolved against the tree as it is now.
    let needs_tree = rows
        .iter()
        .any(|r| r.fields.get(2).is_some_and(|d| !d.trim().is_empty()));
    let tree = if needs_tree {
        client.directory().await?
    } else {
        DirectoryOk {
            version: 0,
            departments: Vec::new(),
        }
    };
    let mut results = Vec::with_capacity(rows.len());
    for row in rows {
        results.push(import_row(client, &tree, row).await?);
    }
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    let report = ImportReport {
        created: results.len() - failed,
        failed,
        rows: results,
    };
    print.emit(&report, || show_import(&report))?;
    if failed > 0 {
        return Err(Failure::Failed(
            "import",
            format!("{failed} of {} rows failed", report.rows.len()),
        ));
    }
    Ok(())
}

/// Create the account of one row. Refusals become the row's error; only a
/// lost connection (nothing more can be created) stops the import.
async fn import_row(
    client: &Client,
    tree: &DirectoryOk,
    row: ImportRow,
) -> Result<RowResult, Failure> {
    let user = row
        .fields
        .first()
        .map(|u| u.trim().to_owned())
        .unwrap_or_default();
    let failed = |code: &str, message: String| RowResult {
        line: row.line,
        user: user.clone(),
        status: "failed",
        user_id: None,
        password: None,
        error: Some(RowError {
            code: code.to_owned(),
            message,
        }),
    };
    let [_, nickname, dept, title, rest @ ..] = row.fields.as_slice() else {
        return Ok(failed(
            "invalid_row",
            format!(
                "expected {} fields, found {}",
                row.expected,
                row.fields.len()
            ),
        ));
    };
    if row.fields.len() != row.expected {
        return Ok(failed(
            "invalid_row",
            format!(
                "expected {} fields, found {}",
                row.expected,
                row.fields.len()
            ),
        ));
    }
    let dept = match dept.trim() {
        "" => None,
        name => match resolve_dept(tree, name) {
            Ok(id) => Some(id),
            Err(message) => return Ok(failed("unknown_department", message)),
        },
    };
    let password = rest.first().filter(|p| !p.is_empty()).cloned();
    if let Some(p) = &password
        && !(PASSWORD_MIN..=PASSWORD_MAX).contains(&p.len())
    {
        return Ok(failed(
            "invalid_password",
            format!("passwords are {PASSWORD_MIN}-{PASSWORD_MAX} bytes"),
        ));
    }
    let optional = |s: &String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let answer = client
        .admin_user_create(AdminUserCreate {
            user: user.clone(),
            password,
            nickname: optional(nickname),
            dept,
            title: optional(title),
            role: None,
        })
        .await;
    match answer {
        Ok(created) => Ok(RowResult {
            line: row.line,
            user: created.user,
            status: "created",
            user_id: Some(created.user_id),
            password: created.password,
            error: None,
        }),
        Err(ClientError::Server(body)) => Ok(failed(body.code.as_str(), body.message)),
        Err(e) => Err(e.into()),
    }
}

fn show_import(report: &ImportReport) -> String {
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let detail = match (&r.error, &r.password) {
                (Some(e), _) => format!("{}: {}", e.code, clean(&e.message)),
                (None, Some(p)) => format!("password: {}", clean(p)),
                (None, None) => format!("id {}", r.user_id.unwrap_or_default()),
            };
            vec![
                r.line.to_string(),
                cell(&r.user),
                r.status.to_owned(),
                detail,
            ]
        })
        .collect();
    let mut text = table(&["LINE", "USER", "RESULT", "DETAIL"], &rows);
    text.push_str(&format!(
        "{} created, {} failed\n",
        report.created, report.failed
    ));
    if report.rows.iter().any(|r| r.password.is_some()) {
        text.push_str("(generated passwords are shown only now)\n");
    }
    text
}

// Departments.

async fn dept(
    command: DeptCommand,
    client: &Client,
    print: &mut Printer<'_>,
) -> Result<(), Failure> {
    let update = async |update: DeptUpdate, what: String, print: &mut Printer<'_>| {
        let version = client.dept_update(update).await?;
        print.emit(&version, || {
            format!("{what} (directory version {})", version.version)
        })
    };
    match command {
        DeptCommand::Add {
            name,
            parent,
            order,
        } => {
            let dept = client.dept_create(&name, parent, order).await?;
            print.emit(&dept, || {
                format!("created department {} [{}]", clean(&dept.name), dept.id)
            })
        }
        DeptCommand::Rename { id, name } => {
            let what = format!("renamed department {id} to {}", clean(&name));
            let change = DeptUpdate {
                id,
                name: Some(name),
                ..DeptUpdate::default()
            };
            update(change, what, print).await
        }
        DeptCommand::Move { id, parent } => {
            let what = match parent {
                0 => format!("moved department {id} to the top level"),
                p => format!("moved department {id} under {p}"),
            };
            let change = DeptUpdate {
                id,
                parent: Some(parent),
                ..DeptUpdate::default()
            };
            update(change, what, print).await
        }
        DeptCommand::Reorder { id, order } => {
            let change = DeptUpdate {
                id,
                order: Some(order),
                ..DeptUpdate::default()
            };
            update(change, format!("department {id} has order {order}"), print).await
        }
        DeptCommand::Delete { id } => {
            let version = client.dept_delete(id).await?;
            print.emit(&version, || {
                format!(
                    "deleted department {id} (directory version {})",
                    version.version
                )
            })
        }
        DeptCommand::List => {
            let tree = client.directory().await?;
            print.emit(&tree, || show_tree(&tree))
        }
    }
}

// Bootstrap.

/// `bootstrap --json`.
#[derive(Debug, Serialize)]
struct Bootstrapped {
    user_id: UserId,
    user: String,
    /// A new account (else an existing one was promoted).
    created: bool,
    /// An existing disabled account was enabled again.
    enabled: bool,
    /// The generated password, when MAGPIE_PASSWORD was not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

async fn bootstrap(
    conn: &ServerArgs,
    serve: ServeArgs,
    secrets: &Secrets,
    print: &mut Printer<'_>,
) -> Result<(), Failure> {
    let name = require_user(conn)?;
    let username = normalize_username(&name).ok_or_else(|| {
        Failure::Usage(format!(
            "--user: usernames are 3-{USERNAME_MAX} characters of a-z, 0-9, '_', '.', '-'"
        ))
    })?;
    let password = if secrets.has_password() {
        let password = secrets.password()?;
        check_password(password.expose(), "MAGPIE_PASSWORD")?;
        Some(password)
    } else {
        None
    };
    let password_given = password.is_some();
    let (config, _log) = serve
        .resolve()
        .map_err(|e| Failure::Usage(format!("{e:#}")))?;
    let store: Arc<dyn Store> = Arc::new(open_store(&config).await?);
    let result = make_admin(&store, &username, password).await;
    store.close().await;
    let done = result?;
    print.emit(&done, || {
        let who = format!("{} (id {})", clean(&done.user), done.user_id);
        match (&done.password, done.created, done.enabled) {
            (Some(p), _, _) => format!(
                "created the administrator {who}\npassword: {}\n(shown only now)",
                clean(p)
            ),
            (None, true, _) => format!("created the administrator {who}"),
            (None, false, enabled) => {
                let mut text = format!("{who} is an administrator now");
                if enabled {
                    text.push_str(", and enabled again");
                }
                if password_given {
                    text.push_str(" (the account existed: its password is unchanged)");
                }
                text
            }
        }
    })
}

/// Open the store named by `config`, exactly as `magpie serve` does.
async fn open_store(config: &Config) -> Result<SqlStore, Failure> {
    magpie_server::open_store(config)
        .await
        .map_err(|e| Failure::Failed("storage", e.to_string()))
}

/// Create `username` as an administrator, or promote it (enabling it if
/// disabled). The password is hashed by the server's own code.
async fn make_admin(
    store: &Arc<dyn Store>,
    username: &str,
    password: Option<Secret>,
) -> Result<Bootstrapped, Failure> {
    let now = magpie_server::clock::now_ms();
    if let Some(existing) = store.user_by_name(username).await.map_err(storage)? {
        let state = match store.standing(existing.id).await.map_err(storage)? {
            Some((_, state)) => state,
            None => return Err(Failure::Failed("unknown_user", "no such user".to_owned())),
        };
        if state == AccountState::Deleted {
            return Err(Failure::Failed(
                "account_deleted",
                format!("{username} was deleted, which is final: choose another name"),
            ));
        }
        let enable = state == AccountState::Disabled;
        store
            .change_account(
                existing.id,
                &AccountChange {
                    role: Some(Role::Admin),
                    state: enable.then_some(AccountState::Active),
                    ..AccountChange::default()
                },
                now,
            )
            .await
            .map_err(storage)?;
        return Ok(Bootstrapped {
            user_id: existing.id,
            user: existing.username,
            created: false,
            enabled: enable,
            password: None,
        });
    }
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (Secret::new(magpie_server::auth::generated_password()), true),
    };
    // The server's own hashing (Argon2id, its parameters and rules), off
    // the async threads: it takes tens of milliseconds.
    let plain = password.expose().to_owned();
    let hash = tokio::task::spawn_blocking(move || magpie_server::auth::hash_password(&plain))
        .await
        .map_err(|e| Failure::Failed("internal", e.to_string()))?
        .map_err(|e| Failure::Client(ClientError::Server(e)))?;
    let (user_id, _) = store
        .create_account(
            &NewAccount {
                username,
                password_hash: &hash,
                nickname: "",
                dept: None,
                title: "",
                role: Role::Admin,
            },
            now,
        )
        .await
        .map_err(storage)?;
    Ok(Bootstrapped {
        user_id,
        user: username.to_owned(),
        created: true,
        enabled: false,
        password: generated.then(|| password.expose().to_owned()),
    })
}

fn storage(e: StoreError) -> Failure {
    match e {
        StoreError::UsernameTaken => {
            Failure::Failed("username_taken", "that username is taken".to_owned())
        }
        other => Failure::Failed("storage", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: AdminArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("admin").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn arguments_are_checked_while_parsing() {
        assert!(parse(&["user", "add", "ab"]).is_err(), "too short");
        assert!(parse(&["user", "add", "bob", "--dept", "0"]).is_err());
        assert!(parse(&["user", "add", "bob", "--title", "a\nb"]).is_err());
        assert!(parse(&["user", "set", "bob"]).is_err(), "nothing to change");
        assert!(parse(&["user", "set", "bob", "--dept", "0"]).is_ok());
        assert!(parse(&["user", "set", "bob", "--role", "root"]).is_err());
        assert!(parse(&["dept", "add", " "]).is_err());
        assert!(parse(&["dept", "move", "3"]).is_err(), "--parent needed");
        assert!(parse(&["dept", "move", "3", "--parent", "0"]).is_ok());
        assert!(parse(&["dept", "reorder", "3", "-2"]).is_ok());
        assert!(parse(&["dept", "add", "x", "--order", "-1"]).is_ok());
        assert!(parse(&["quota", "bob", "lots"]).is_err());
        assert!(parse(&["quota", "bob", "default"]).is_ok());
        let cli = parse(&["bootstrap", "--user", "root", "--data-dir", "/x"]).expect("bootstrap");
        assert_eq!(cli.args.conn.user.as_deref(), Some("root"));
        match cli.args.command {
            AdminCommand::Bootstrap(serve) => {
                assert_eq!(serve.data_dir, Some(PathBuf::from("/x")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quotas_read_with_units() {
        assert_eq!(quota_bytes("default"), Ok(QuotaBytes::Default));
        assert_eq!(quota_bytes("1024"), Ok(QuotaBytes::Bytes(1024)));
        assert_eq!(quota_bytes("10G"), Ok(QuotaBytes::Bytes(10 << 30)));
        assert_eq!(quota_bytes("500MiB"), Ok(QuotaBytes::Bytes(500 << 20)));
        assert_eq!(quota_bytes("1.5k"), Ok(QuotaBytes::Bytes(1536)));
        for bad in ["", "G", "10X", "-1", "1.2.3G", "99999999999T"] {
            assert!(quota_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csv_fields_records_and_quotes() {
        let text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\n\n\"two\nlines\",z,\nlast,row";
        assert_eq!(
            parse_csv(text),
            Ok(vec![
                (1, vec!["a".into(), "b".into(), "c".into()]),
                (2, vec!["x, y".into(), "say \"hi\"".into(), String::new()]),
                (4, vec!["two\nlines".into(), "z".into(), String::new()]),
                (6, vec!["last".into(), "row".into()]),
            ])
        );
        assert!(parse_csv("a,\"open").is_err());
        assert!(parse_csv("a,b\"c").is_err());
        assert!(parse_csv("\"a\"b").is_err());
        assert_eq!(parse_csv(""), Ok(vec![]));
    }

    #[test]
    fn import_files_need_the_header() {
        let rows =
            parse_import("\u{FEFF}Username,nickname,dept,title\nbob,Bob,,\nonly\n").expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].expected), (2, 4));
        assert_eq!(rows[1].fields, ["only"]);
        let with_password = parse_import("username,nickname,dept,title,password\n").expect("ok");
        assert!(with_password.is_empty());
        assert!(parse_import("").is_err());
        assert!(parse_import("user,nickname,dept,title\n").is_err());
        assert!(parse_import("username,nickname,dept\n").is_err());
    }

    #[test]
    fn generated_passwords_are_long_enough() {
        let p = magpie_server::auth::generated_password();
        assert_eq!(p.len(), 16);
        assert!(check_password(&p, "x").is_ok());
        assert_ne!(p, magpie_server::auth::generated_password());
        assert!(check_password("short", "x").is_err());
    }
}
