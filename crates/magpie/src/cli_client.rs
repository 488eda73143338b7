//! `magpie client`: a scriptable command-line client.
//!
//! The messaging commands (`send`, the file-sending `send-file`,
//! `send-image`, `send-voice` and `send-video` of [`crate::cli_files`],
//! `recall`, `edit`, `react`, `reply` and `forward` of
//! [`crate::cli_amend`], `listen`, `history`, `conversations`) print their results to stdout as
//! JSON, one document per line, so shell scripts and tests can pipe them
//! through `jq`. The people commands (`profile`, `search`, `friend`,
//! `category`, `block`, `unblock`, `blocks`, `changes`; see
//! [`crate::cli_people`]),
//! `presence`, `devices` and `device revoke` ([`crate::cli_presence`]),
//! the per-conversation settings `pin`, `mute`, `hide`, `mark-unread`,
//! `draft` and `settings` ([`crate::cli_conv_settings`]), `typing`
//! ([`crate::cli_typing`]),
//! `dept list` and `dept members` ([`crate::cli_directory`]), the
//! `group` commands ([`crate::cli_groups`]) and the file commands
//! `upload`, `download`, `files`, `file`, `avatar` and `group-files`
//! ([`crate::cli_files`]), `message-search` ([`crate::cli_search`]) and the
//! `drive` commands ([`crate::cli_drive`])
//! print
//! compact text for people, or with `--json` exactly one JSON document.
//! Errors go to stderr as `error: <code>: <message>` with a non-zero exit
//! status (2 for usage or configuration mistakes, 1 for server and
//! connection failures). `magpie admin` ([`crate::cli_admin`]) shares the connection,
//! credentials, output and errors defined here.
//!
//! Secrets never appear on the command line, where other users could read
//! them in the process list or shell history: the password comes only from
//! `MAGPIE_PASSWORD`, and a session token from `login` can be exported as
//! `MAGPIE_TOKEN` so later commands `resume` instead of sending the
//! password again.

use crate::cli_amend::{self, AmendCommand};
use crate::cli_conv_settings::{self, ConvSettingsCommand};
use crate::cli_directory::{self, DirectoryCommand};
use crate::cli_drive::{self, DriveCommand};
use crate::cli_files::{self, FilesCommand, SendFileCommand};
use crate::cli_groups::{self, GroupsCommand};
use crate::cli_people::{self, PeopleCommand};
use crate::cli_presence::{self, PresenceCommand};
use crate::cli_search::{self, MessageSearchArgs};
use crate::cli_typing::{self, TypingCommand};
use clap::{Args, Subcommand};
use magpie_client::{Accept, Client, ClientError, SyncState};
use magpie_proto::{Authenticated, ConvId, History, Platform, Push, Seq};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Environment variable holding the password (never a flag).
const PASSWORD_ENV: &str = "MAGPIE_PASSWORD";
/// Environment variable holding a session token from `login`.
const TOKEN_ENV: &str = "MAGPIE_TOKEN";
/// Environment variable holding a password to give another account
/// (`magpie admin user add --password-from-env`, `user reset-password`).
pub(crate) const NEW_PASSWORD_ENV: &str = "MAGPIE_NEW_PASSWORD";

/// Exit status for usage and configuration errors.
const EXIT_USAGE: u8 = 2;
/// Exit status for server and connection errors.
const EXIT_FAILURE: u8 = 1;

/// Arguments of `magpie client`.
#[derive(Args, Debug)]
#[command(after_help = "\
Secrets come from the environment only:
  MAGPIE_PASSWORD  the password, for register and login (and other commands
                   when MAGPIE_TOKEN is not set)
  MAGPIE_TOKEN     a session token printed by `login`; when set, commands
                   resume that session instead of using the password

Output: the messaging commands (send, send-file, send-image, send-voice,
send-video, recall, edit, react, reply, forward, listen, history,
conversations) print one JSON document per line on stdout.
The others (people, presence, devices, pin, mute, hide, mark-unread, draft,
settings, typing, dept, group, files, avatar, group-files, drive,
message-search) print compact text, or with --json one JSON document.
Exit status: 0 ok, 1 server or connection error, 2 usage or configuration error.")]
pub struct ClientArgs {
    #[command(flatten)]
    pub conn: ServerArgs,

    /// Print one JSON document on stdout instead of text (the people,
    /// presence, devices, settings, typing, dept, group, file and drive
    /// commands; the messaging
    /// commands always print JSON lines).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Where to connect and as whom: shared by `magpie client` and `magpie
/// admin`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Server to connect to: tcp://host:port or ws://host:port/ws.
    #[arg(
        long,
        env = "MAGPIE_SERVER",
        default_value = "tcp://127.0.0.1:7070",
        value_name = "URL",
        global = true
    )]
    pub server: String,

    /// Your username, for logging in with MAGPIE_PASSWORD (and the
    /// account to create with `client register` or `admin bootstrap`).
    #[arg(long, env = "MAGPIE_USER", value_name = "NAME", global = true)]
    pub user: Option<String>,
}

/// The operations `magpie client` can perform.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create the account --user with the password in MAGPIE_PASSWORD.
    Register,
    /// Log in with --user and MAGPIE_PASSWORD; print the session token as
    /// {"user_id","user","token","expires_at"}.
    Login {
        /// A name for this session ("laptop", "ci").
        #[arg(long, value_name = "NAME")]
        device: Option<String>,
    },
    /// Send TEXT to user PEER (`send PEER TEXT`), or into a conversation
    /// or group by its id (`send --conv ID TEXT`, `send --group ID TEXT`),
    /// and print the server's acknowledgement.
    Send {
        /// The conversation or group to post in, instead of a PEER.
        #[arg(long, visible_alias = "group", value_name = "ID")]
        conv: Option<magpie_proto::ConvId>,
        /// PEER TEXT, or TEXT alone with --conv/--group.
        #[arg(value_name = "[PEER] TEXT", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Mention a member of the group (@USER); repeat for several.
        #[arg(long = "mention", value_name = "USER", requires = "conv")]
        mentions: Vec<String>,
        /// Mention everyone in the group (@all; owner and admins).
        #[arg(long, requires = "conv")]
        mention_all: bool,
    },
    #[command(flatten)]
    SendFiles(SendFileCommand),
    #[command(flatten)]
    Amend(AmendCommand),
    /// Print incoming messages as they arrive, one JSON line each.
    Listen {
        /// Exit successfully after this many messages.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Exit successfully after this many seconds.
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        timeout: Option<Duration>,
    },
    /// Print one page of the conversation with PEER, or of a conversation
    /// or group by its id (`history --group ID`), oldest first.
    History {
        /// The other participant's username.
        #[arg(required_unless_present = "conv")]
        peer: Option<String>,
        /// The conversation or group to read, instead of a PEER.
        #[arg(
            long,
            visible_alias = "group",
            value_name = "ID",
            conflicts_with = "peer"
        )]
        conv: Option<magpie_proto::ConvId>,
        /// Only messages with a seq below this one.
        #[arg(long, value_name = "SEQ")]
        before: Option<Seq>,
        /// Page size (server default 50, at most 500).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Print the conversation list, most recently active first.
    Conversations,
    /// Search your messages (every conversation you can read), newest
    /// first: `message-search QUERY [--conv ID] [--from USER] [--after TS]
    /// [--before TS]`. (`search` finds people.)
    MessageSearch(MessageSearchArgs),
    /// Revoke the session in MAGPIE_TOKEN.
    Logout,
    #[command(flatten)]
    People(PeopleCommand),
    #[command(flatten)]
    Presence(PresenceCommand),
    #[command(flatten)]
    ConvSettings(ConvSettingsCommand),
    #[command(flatten)]
    Typing(TypingCommand),
    #[command(flatten)]
    Directory(DirectoryCommand),
    #[command(flatten)]
    Groups(GroupsCommand),
    #[command(flatten)]
    Files(FilesCommand),
    #[command(flatten)]
    Drive(DriveCommand),
}

/// Run one `magpie client` command. Errors are reported on stderr here and
/// turned into the exit status, so the caller only has to exit with it.
pub async fn run(args: ClientArgs) -> anyhow::Result<ExitCode> {
    let secrets = Secrets::from_env();
    let result = execute(&args, &secrets).await;
    Ok(finish(&secrets, result))
}

/// The exit status of a command's `result`, after reporting a failure on
/// stderr as `error: <code>: <message>` (with any secret redacted).
pub(crate) fn finish(secrets: &Secrets, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`magpie client listen | head -1`) is the reader
        // saying it has seen enough, not a failure.
        Err(Failure::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            let (code, message, status) = failure.describe();
            eprintln!("error: {code}: {}", secrets.redact(&message));
            ExitCode::from(status)
        }
    }
}

async fn execute(args: &ClientArgs, secrets: &Secrets) -> Result<(), Failure> {
    // Check the configuration before touching the network, so that
    // mistakes are reported the same way whether or not a server is up.
    let mut out = Output::new();
    match &args.command {
        ClientCommand::Register | ClientCommand::Login { .. } => {
            let (user, password) = (require_user(&args.conn)?, secrets.password()?);
            let client = Client::connect(&args.conn.server).await?;
            let result = match &args.command {
                ClientCommand::Login { device } => client
                    .login_on(
                        &user,
                        password.expose(),
                        device.as_deref(),
                        Some(Platform::Cli),
                    )
                    .await
                    .map_err(Failure::from)
                    .and_then(|auth| print_login(&mut out, auth)),
                _ => match client.register(&user, password.expose()).await {
                    Ok(registered) => out.line(&registered),
                    Err(e) => Err(e.into()),
                },
            };
            client.close().await;
            result
        }
        ClientCommand::Logout => {
            let token = secrets.token.clone().ok_or_else(|| {
                Failure::Usage(format!(
                    "{TOKEN_ENV} must hold the session token to log out"
                ))
            })?;
            with_session(
                &args.conn.server,
                &Credentials::Token(token),
                async |client: &mut Client| Ok(client.logout().await?),
            )
            .await
        }
        ClientCommand::Files(command) => {
            cli_files::execute(command, &args.conn, args.json, secrets, &mut out).await
        }
        ClientCommand::SendFiles(command) => {
            cli_files::send(command, &args.conn, secrets, &mut out).await
        }
        ClientCommand::Drive(command) => {
            cli_drive::execute(command, &args.conn, args.json, secrets, &mut out).await
        }
        command => {
            if let ClientCommand::Send { conv, args, .. } = command {
                SendTarget::parse(*conv, args)?;
            }
            let credentials = session_credentials(&args.conn, secrets)?;
            with_session(
                &args.conn.server,
                &credentials,
                async |client: &mut Client| perform(command, args.json, client, &mut out).await,
            )
            .await
        }
    }
}

/// How a command authenticates: with `MAGPIE_TOKEN` when set, otherwise
/// with --user and `MAGPIE_PASSWORD`. Checked before connecting.
pub(crate) fn session_credentials(
    conn: &ServerArgs,
    secrets: &Secrets,
) -> Result<Credentials, Failure> {
    match &secrets.token {
        Some(token) => Ok(Credentials::Token(token.clone())),
        None => Ok(Credentials::Password(
            require_user(conn)?,
            secrets.password()?,
        )),
    }
}

/// Connect to `server`, authenticate with `credentials` and run `work`.
/// A session opened with the password only for this command is logged out
/// afterwards, rather than leaving one valid token behind per run.
pub(crate) async fn with_session<T>(
    server: &str,
    credentials: &Credentials,
    work: impl AsyncFnOnce(&mut Client) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut client = Client::connect(server).await?;
    let result = match authenticate(&client, credentials).await {
        Ok(_) => work(&mut client).await,
        Err(e) => Err(e),
    };
    if matches!(credentials, Credentials::Password(..)) {
        // Fails harmlessly if the login itself failed.
        let _ = client.logout().await;
    }
    client.close().await;
    result
}

/// Run a command that needs a session on an authenticated client.
async fn perform(
    command: &ClientCommand,
    json: bool,
    client: &mut Client,
    out: &mut Output,
) -> Result<(), Failure> {
    match command {
        ClientCommand::Send {
            conv,
            args,
            mentions,
            mention_all,
        } => {
            let ack = match SendTarget::parse(*conv, args)? {
                SendTarget::Peer(peer, text) => client.send(peer, text).await?,
                SendTarget::Conv(conv, text) if mentions.is_empty() && !mention_all => {
                    client.send_to_conv(conv, text).await?
                }
                SendTarget::Conv(conv, text) => {
                    let users: Vec<&str> = mentions.iter().map(String::as_str).collect();
                    client
                        .send_mentioning(conv, text, &users, *mention_all)
                        .await?
                }
            };
            out.line(&ack)
        }
        ClientCommand::Listen { count, timeout } => listen(client, out, *count, *timeout).await,
        ClientCommand::Amend(command) => cli_amend::perform(command, client, out).await,
        ClientCommand::History {
            peer,
            conv,
            before,
            limit,
        } => {
            // clap lets exactly one of the two through.
            let query = History {
                peer: peer.clone(),
                conv: *conv,
                before: *before,
                limit: *limit,
            };
            let page = client.history(query).await?;
            page.messages.iter().try_for_each(|m| out.line(m))
        }
        ClientCommand::Conversations => {
            let list = client.conversations().await?;
            list.iter().try_for_each(|c| out.line(c))
        }
        ClientCommand::People(command) => cli_people::perform(command, client, out, json).await,
        ClientCommand::Presence(command) => cli_presence::perform(command, client, out, json).await,
        ClientCommand::ConvSettings(command) => {
            cli_conv_settings::perform(command, client, out, json).await
        }
        ClientCommand::Typing(command) => cli_typing::perform(command, client, out, json).await,
        ClientCommand::Directory(command) => {
            cli_directory::perform(command, client, out, json).await
        }
        ClientCommand::Groups(command) => cli_groups::perform(command, client, out, json).await,
        ClientCommand::MessageSearch(args) => cli_search::perform(args, client, out, json).await,
        ClientCommand::Register
        | ClientCommand::Login { .. }
        | ClientCommand::Logout
        | ClientCommand::Files(_)
        | ClientCommand::SendFiles(_)
        | ClientCommand::Drive(_) => Err(Failure::Usage(
            "this command does not run in a session".to_owned(),
        )),
    }
}

/// Where `send` goes, from its flag and positional arguments.
enum SendTarget<'a> {
    Peer(&'a str, &'a str),
    Conv(magpie_proto::ConvId, &'a str),
}

impl<'a> SendTarget<'a> {
    fn parse(conv: Option<magpie_proto::ConvId>, args: &'a [String]) -> Result<Self, Failure> {
        match (conv, args) {
            (None, [peer, text]) => Ok(SendTarget::Peer(peer, text)),
            (Some(conv), [text]) => Ok(SendTarget::Conv(conv, text)),
            (None, _) => Err(Failure::Usage(
                "send PEER TEXT, or send --conv ID TEXT (--group ID for a group)".into(),
            )),
            (Some(_), _) => Err(Failure::Usage(
                "with --conv or --group, give only the TEXT (no PEER)".into(),
            )),
        }
    }
}

fn print_login(out: &mut Output, auth: Authenticated) -> Result<(), Failure> {
    let Some(token) = auth.token else {
        return Err(ClientError::Protocol("login answer carries no token".into()).into());
    };
    out.line(&LoginLine {
        user_id: auth.user_id,
        user: &auth.user,
        token: &token,
        expires_at: auth.expires_at,
    })
}

/// What `login` prints, fields in this order.
#[derive(Serialize)]
struct LoginLine<'a> {
    user_id: magpie_proto::UserId,
    user: &'a str,
    token: &'a str,
    expires_at: i64,
}

async fn authenticate(
    client: &Client,
    credentials: &Credentials,
) -> Result<Authenticated, Failure> {
    let auth = match credentials {
        Credentials::Token(token) => client.resume(token.expose()).await?,
        Credentials::Password(user, password) => {
            client
                .login_on(user, password.expose(), None, Some(Platform::Cli))
                .await?
        }
    };
    Ok(auth)
}

/// Print new messages until `count` messages, the `timeout`, or the end
/// of the connection (which is a failure: the caller expected more).
///
/// Exactly once and in order: positions start at each conversation's newest
/// message, pushes already seen are skipped, and a gap or a `resync` notice
/// is filled with `sync` before going on.
async fn listen(
    client: &mut Client,
    out: &mut Output,
    count: Option<u64>,
    timeout: Option<Duration>,
) -> Result<(), Failure> {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut positions = SyncState::from_cursors(newest_seqs(client).await?);
    // From here on every new message is printed: say so on stderr, so that
    // a script (or a test) can wait for it instead of sleeping.
    eprintln!("listening");
    let mut seen = 0u64;
    let mut goaway = None;
    let mut print = |message: &magpie_proto::Message, out: &mut Output| -> Result<bool, Failure> {
        out.line(message)?;
        seen += 1;
        Ok(count.is_some_and(|n| seen >= n))
    };
    loop {
        if count == Some(0) {
            return Ok(());
        }
        let push = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, client.next_push()).await {
                Ok(push) => push,
                Err(_elapsed) => return Ok(()),
            },
            None => client.next_push().await,
        };
        let catch_up = match push {
            Some(Push::Message(message)) => match positions.accept(&message) {
                Accept::New => {
                    if print(&message, out)? {
                        return Ok(());
                    }
                    false
                }
                Accept::Duplicate => false,
                Accept::Gap => true,
            },
            Some(Push::Resync(_)) => true,
            Some(Push::Goaway(notice)) => {
                goaway = Some(notice.reason);
                false
            }
            Some(
                Push::Read(_)
                | Push::Receipt(_)
                | Push::Change(_)
                | Push::Presence(_)
                | Push::Directory(_)
                | Push::Typing(_),
            ) => false,
            None => {
                let detail = match goaway {
                    Some(reason) => format!("connection closed by the server ({reason})"),
                    None => "connection closed".to_owned(),
                };
                return Err(Failure::ConnectionLost(detail));
            }
        };
        if catch_up {
            for message in positions.catch_up(client).await? {
                if print(&message, out)? {
                    return Ok(());
                }
            }
        }
    }
}

/// Every conversation of the user with its newest seq: the list's rows,
/// and the conversations the user hid, which the list leaves out (a new
/// message there must print as new, not as a gap that replays its
/// history).
async fn newest_seqs(client: &Client) -> Result<BTreeMap<ConvId, Seq>, Failure> {
    let mut newest: BTreeMap<ConvId, Seq> = client
        .conversations()
        .await?
        .iter()
        .map(|c| (c.conv, c.max_seq))
        .collect();
    for hidden in client.conv_settings().await? {
        if hidden.hidden_seq == 0 || newest.contains_key(&hidden.conv) {
            continue;
        }
        let page = client
            .history(History {
                conv: Some(hidden.conv),
                limit: Some(1),
                ..History::default()
            })
            .await;
        let page = match page {
            Ok(page) => page,
            // Left since (settings go with the membership: only a race).
            Err(e) if e.code() == Some(magpie_proto::ErrorCode::UnknownConversation) => continue,
            Err(e) => return Err(e.into()),
        };
        let last = page.messages.last().map_or(hidden.hidden_seq, |m| m.seq);
        newest.insert(hidden.conv, last);
    }
    Ok(newest)
}

pub(crate) fn require_user(conn: &ServerArgs) -> Result<String, Failure> {
    match &conn.user {
        Some(user) if !user.is_empty() => Ok(user.clone()),
        _ => Err(Failure::Usage(
            "--user (or MAGPIE_USER) is required".to_owned(),
        )),
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a valid duration"))
}

/// How to authenticate, decided before connecting.
#[derive(Debug)]
pub(crate) enum Credentials {
    Token(Secret),
    Password(String, Secret),
}

/// A password or token. Its `Debug` never shows the value, so it cannot
/// leak through a stray `{:?}`.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Secret {
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The secrets from the environment, read once.
#[derive(Debug)]
pub(crate) struct Secrets {
    password: Result<Secret, String>,
    token: Option<Secret>,
    /// `MAGPIE_NEW_PASSWORD`: a password for another account (`magpie
    /// admin`); `None` when unset or empty.
    new_password: Result<Option<Secret>, String>,
}

impl Secrets {
    pub(crate) fn from_env() -> Secrets {
        let password = match std::env::var(PASSWORD_ENV) {
            Ok(p) if !p.is_empty() => Ok(Secret(p)),
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                Err(format!("{PASSWORD_ENV} must hold the password"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("{PASSWORD_ENV} is not valid UTF-8"))
            }
        };
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret);
        let new_password = match std::env::var(NEW_PASSWORD_ENV) {
            Ok(p) if !p.is_empty() => Ok(Some(Secret(p))),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("{NEW_PASSWORD_ENV} is not valid UTF-8"))
            }
        };
        Secrets {
            password,
            token,
            new_password,
        }
    }

    pub(crate) fn password(&self) -> Result<Secret, Failure> {
        self.password.clone().map_err(Failure::Usage)
    }

    /// Whether `MAGPIE_PASSWORD` is set at all (even if unusable).
    pub(crate) fn has_password(&self) -> bool {
        std::env::var_os(PASSWORD_ENV).is_some_and(|p| !p.is_empty())
    }

    /// `MAGPIE_NEW_PASSWORD`, if set.
    pub(crate) fn new_password(&self) -> Result<Option<Secret>, Failure> {
        self.new_password.clone().map_err(Failure::Usage)
    }

    /// Remove any secret from text about to be printed. Our own messages
    /// never contain one; this guards against a server that echoes input.
    /// Secrets shorter than a few characters are left alone: they would
    /// match inside ordinary words and garble the message, and no server
    /// accepts such passwords anyway.
    fn redact(&self, text: &str) -> String {
        const MIN_REDACTED_LEN: usize = 4;
        let mut text = text.to_owned();
        let new_password = self.new_password.as_ref().ok().and_then(Option::as_ref);
        let secrets = [
            self.password.as_ref().ok(),
            self.token.as_ref(),
            new_password,
        ];
        for secret in secrets.into_iter().flatten() {
            if secret.expose().len() >= MIN_REDACTED_LEN {
                text = text.replace(secret.expose(), "<redacted>");
            }
        }
        text
    }
}

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad or missing configuration: nothing was attempted.
    Usage(String),
    /// The server refused or the connection failed.
    Client(ClientError),
    /// The connection ended while the command still needed it.
    ConnectionLost(String),
    /// Writing the output failed.
    Stdout(std::io::Error),
    /// Anything else that failed, with a short code: storage for `magpie
    /// admin bootstrap`, a confirmation refused, rows of an import.
    Failed(&'static str, String),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl Failure {
    /// The code, message and exit status to report.
    fn describe(&self) -> (&'static str, String, u8) {
        match self {
            Failure::Usage(message) => ("usage", message.clone(), EXIT_USAGE),
            // A malformed --server is a configuration mistake.
            Failure::Client(e @ ClientError::InvalidUrl(_)) => {
                (e.code_str(), e.message(), EXIT_USAGE)
            }
            Failure::Client(e) => (e.code_str(), e.message(), EXIT_FAILURE),
            Failure::ConnectionLost(message) => ("closed", message.clone(), EXIT_FAILURE),
            Failure::Stdout(e) => ("io", format!("writing output: {e}"), EXIT_FAILURE),
            Failure::Failed(code, message) => (code, message.clone(), EXIT_FAILURE),
        }
    }
}

/// Stdout, one JSON document per line, flushed after each so that a reader
/// sees every line as soon as it exists (`listen` into a pipe).
#[derive(Debug)]
pub(crate) struct Output {
    stdout: std::io::Stdout,
}

impl Output {
    pub(crate) fn new() -> Output {
        Output {
            stdout: std::io::stdout(),
        }
    }

    pub(crate) fn line<T: Serialize>(&mut self, value: &T) -> Result<(), Failure> {
        let mut text =
            serde_json::to_string(value).map_err(|e| Failure::Stdout(std::io::Error::other(e)))?;
        text.push('\n');
        self.text(&text)
    }

    /// Write `text` as it is, ending it with a line break if it has none.
    pub(crate) fn text(&mut self, text: &str) -> Result<(), Failure> {
        let mut lock = self.stdout.lock();
        let end: &[u8] = if text.ends_with('\n') { b"" } else { b"\n" };
        lock.write_all(text.as_bytes())
            .and_then(|()| lock.write_all(end))
            .and_then(|()| lock.flush())
            .map_err(Failure::Stdout)
    }
}
