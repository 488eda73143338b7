//! The file commands of `magpie client`: `upload` and `download` move
//! bytes over the server's HTTP file API (docs/PROTOCOL.md, section 12);
//! `files`, `file rm` and `file url` list, delete and sign over the
//! message connection.
//!
//! - `upload PATH` first offers the content by hash (instant upload: the
//!   server already stores it, and a proof of possession makes it a file of
//!   yours without sending it), then sends it by tus in chunks. An upload
//!   interrupted (killed, connection lost) is continued by running the
//!   same command again: the upload's URL is kept in a small state file,
//!   `uploads.json` under `$MAGPIE_STATE_DIR`, `$XDG_STATE_HOME/magpie` or
//!   `~/.local/state/magpie`, keyed by the HTTP server, the user, the
//!   file's canonical path, size, modification time and name, and removed
//!   once the upload is complete.
//! - `download ID` writes `NAME.part` and renames it to `NAME` once the
//!   whole file is there and its SHA-256 matches the server's; a run
//!   interrupted is continued by the next one from the bytes already in
//!   `NAME.part` (HTTP Range). The default NAME is the file's own, and
//!   only if it is a plain file name: nothing is ever written outside the
//!   current directory because of a name from the server.
//!
//! The HTTP calls carry a session token: `MAGPIE_TOKEN`, or the token of a
//! login made with `MAGPIE_PASSWORD` for this command alone (and logged
//! out at its end). The HTTP base is `--http URL` (or `MAGPIE_HTTP`), by
//! default derived from `--server` (`ws://h:p/ws` → `http://h:p`,
//! `tcp://h:p` → `http://h:7071`).
//!
//! - `send-file`, `send-image`, `send-voice` and `send-video` send a file
//!   as a message of that kind, addressed like `send` (`PEER`, or `--conv
//!   ID` / `--group ID`): a local PATH is uploaded first exactly as by
//!   `upload` (instant when possible, resumable, with its progress bar),
//!   or `--file ID` names a file already on the server (an earlier upload,
//!   or a received file to forward). They print, like `send`, one JSON
//!   line: the server's acknowledgement and the `file` id sent. The
//!   server checks that the bytes are what the kind says; a refusal
//!   (`invalid_media`) names the kind.
//!
//! - `avatar PATH` (or `--file ID`) makes an image your avatar, `--group
//!   ID` a group's (owner and admins); a PATH is uploaded first as by
//!   `upload`. It prints the avatar's own file id, which the profile's or
//!   group's `avatar` becomes.
//! - `group-files ID` lists the files shared in a group, newest first (one
//!   page, `--before SEQ`, `--limit N`, or `--all` pages), and
//!   `group-files ID rm FILE_ID` removes one (its sender, or the group's
//!   owner and admins).
//!
//! Output, like the other commands': compact text, or with `--json` one
//! JSON document: `upload` the [`FileInfo`] with `"instant": bool`,
//! `download` `{"path", "size", "sha256"}`, `files` and `group-files` the
//! server's answer (with `--all`, every page's files in one), `file url`
//! `{"url", "expires_at"}` (the URL made absolute), `avatar` `{"avatar":
//! ID}` and `file rm` and `group-files rm` `{"ok": true}`. A progress bar goes to stderr when it is a terminal.

use crate::cli_client::{
    Credentials, Failure, Output, Secret, Secrets, ServerArgs, session_credentials, with_session,
};
use crate::cli_people::{Printer, cell, clean, table, time};
use clap::{Args, Subcommand};
use magpie_client::files::{FileClient, FileError, SendTo, UploadStatus, hash_file};
use magpie_client::{Client, ClientError};
use magpie_proto::{
    ConvId, ErrorCode, FileId, FileInfo, MessageKind, Platform, SendOk, Seq, UserId, is_file_id,
    to_hex,
};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Environment variable naming the directory of the upload state file
/// (for tests, and for anyone who wants it elsewhere).
const STATE_DIR_ENV: &str = "MAGPIE_STATE_DIR";
/// The state file's name in that directory.
const STATE_FILE: &str = "uploads.json";
/// Entries older than this are dropped: the server forgets unfinished
/// uploads after a day by default.
const STATE_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// The help of a group ID argument.
const GROUP_ID: &str = "The group's id (its conversation; see `group list`)";

/// The help of every command's file ID argument.
const FILE_ID: &str = "The file's id (32 hex digits; see `files`)";

/// The file commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum FilesCommand {
    /// Upload the file at PATH and print what the server stored: instantly
    /// if the server already has the same content, else sent in chunks.
    /// An interrupted upload is continued by running the same command
    /// again.
    Upload(UploadArgs),
    /// Download file ID into the current directory under its own name (or
    /// to -o PATH), checking its SHA-256. An interrupted download is
    /// continued by running the same command again.
    Download(DownloadArgs),
    /// List your uploaded files (one page) and your storage quota.
    Files {
        /// Start after this file id (the `next` of the previous page).
        #[arg(long, value_name = "ID", value_parser = file_id)]
        after: Option<FileId>,
        /// Page size (server default 50, at most 500).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: Option<u32>,
    },
    /// Delete one of your uploaded files, or print a download URL.
    File {
        #[command(subcommand)]
        command: FileCommand,
    },
    /// Set your avatar to the image at PATH (uploaded first, as by
    /// `upload`) or to an image already on the server (--file ID); with
    /// --group ID, that group's avatar (owner and admins). Prints the
    /// avatar's file id, which the profile's or group's `avatar` becomes.
    #[command(override_usage = "magpie client avatar [OPTIONS] PATH\n       \
        magpie client avatar [OPTIONS] --file ID\n       \
        magpie client avatar [OPTIONS] --group ID PATH\n       \
        magpie client avatar [OPTIONS] --group ID --file ID")]
    Avatar(AvatarArgs),
    /// List the files shared in group ID (newest first; one page, or every
    /// page with --all), or remove one with `group-files ID rm FILE_ID`
    /// (its sender, or the group's owner and admins).
    #[command(
        override_usage = "magpie client group-files [OPTIONS] ID [--before SEQ] [--limit N] [--all]\n       \
        magpie client group-files [OPTIONS] ID rm FILE_ID"
    )]
    GroupFiles(GroupFilesArgs),
}

/// `avatar [PATH] [--file ID] [--group ID]`.
#[derive(Args, Debug)]
pub struct AvatarArgs {
    /// The image to upload and use.
    #[arg(value_name = "PATH", required_unless_present = "file")]
    path: Option<PathBuf>,
    /// Use this image already on the server instead of uploading a PATH.
    #[arg(long = "file", value_name = "ID", value_parser = file_id, conflicts_with = "path")]
    file: Option<FileId>,
    /// Set this group's avatar instead of yours (owner and admins).
    #[arg(long = "group", value_name = "ID", value_parser = group_id)]
    group: Option<ConvId>,
    #[command(flatten)]
    http: HttpArg,
}

/// `group-files ID [rm FILE_ID] ...`.
#[derive(Args, Debug)]
pub struct GroupFilesArgs {
    #[arg(value_name = "ID", value_parser = group_id, help = GROUP_ID)]
    conv: ConvId,
    /// Only files sent before this seq (the `next` of the previous page).
    #[arg(long, value_name = "SEQ", value_parser = clap::value_parser!(i64).range(1..))]
    before: Option<Seq>,
    /// Page size (server default 50, at most 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// Follow `next` through every page.
    #[arg(long)]
    all: bool,
    #[command(subcommand)]
    command: Option<GroupFilesCommand>,
}

#[derive(Subcommand, Debug)]
pub enum GroupFilesCommand {
    /// Remove file FILE_ID from the group's files (its sender, or the
    /// group's owner and admins); the message that carried it stays.
    Rm {
        #[arg(value_name = "FILE_ID", value_parser = file_id, help = FILE_ID)]
        id: FileId,
    },
}

#[derive(Subcommand, Debug)]
pub enum FileCommand {
    /// Delete your uploaded file ID (copies sent in conversations stay).
    Rm {
        #[arg(value_name = "ID", value_parser = file_id, help = FILE_ID)]
        id: FileId,
    },
    /// Print a signed URL for file ID that works without a token for an
    /// hour (for browsers, players, download managers).
    Url {
        #[arg(value_name = "ID", value_parser = file_id, help = FILE_ID)]
        id: FileId,
        /// The URL of the image's thumbnail instead.
        #[arg(long)]
        thumbnail: bool,
        #[command(flatten)]
        http: HttpArg,
    },
}

/// The commands that send a file as a message, flattened into `magpie
/// client`'s own next to `send`.
#[derive(Subcommand, Debug)]
pub enum SendFileCommand {
    /// Send a file (any content) as a message to user PEER, or into a
    /// conversation or group by its id (--conv/--group ID).
    ///
    /// PATH is uploaded first, as by `upload` (instantly when the server
    /// already has the content; an interrupted upload is continued by
    /// running the same command again). With `--file ID`, a file already
    /// on the server is sent instead: one you uploaded, or one you
    /// received (forwarding it). Prints the server's acknowledgement and
    /// the id of the file sent as one JSON line, like `send`.
    #[command(
        name = "send-file",
        override_usage = "magpie client send-file [OPTIONS] PEER PATH\n       \
        magpie client send-file [OPTIONS] PEER --file ID\n       \
        magpie client send-file [OPTIONS] --conv ID PATH\n       \
        magpie client send-file [OPTIONS] --conv ID --file ID"
    )]
    File(SendFileArgs),
    /// Send an image (JPEG, PNG, GIF or WebP) as a message, like `send-file`; the
    /// server refuses content that is not one.
    #[command(
        name = "send-image",
        override_usage = "magpie client send-image [OPTIONS] PEER PATH\n       \
        magpie client send-image [OPTIONS] PEER --file ID\n       \
        magpie client send-image [OPTIONS] --conv ID PATH\n       \
        magpie client send-image [OPTIONS] --conv ID --file ID"
    )]
    Image(SendFileArgs),
    /// Send a voice recording (Opus in Ogg or WebM) as a message, like `send-file`; the
    /// server refuses content that is not one.
    #[command(
        name = "send-voice",
        override_usage = "magpie client send-voice [OPTIONS] PEER PATH\n       \
        magpie client send-voice [OPTIONS] PEER --file ID\n       \
        magpie client send-voice [OPTIONS] --conv ID PATH\n       \
        magpie client send-voice [OPTIONS] --conv ID --file ID"
    )]
    Voice(SendFileArgs),
    /// Send a video (MP4, QuickTime or WebM) as a message, like `send-file`; the
    /// server refuses content that is not one.
    #[command(
        name = "send-video",
        override_usage = "magpie client send-video [OPTIONS] PEER PATH\n       \
        magpie client send-video [OPTIONS] PEER --file ID\n       \
        magpie client send-video [OPTIONS] --conv ID PATH\n       \
        magpie client send-video [OPTIONS] --conv ID --file ID"
    )]
    Video(SendFileArgs),
}

impl SendFileCommand {
    fn parts(&self) -> (MessageKind, &SendFileArgs) {
        match self {
            SendFileCommand::File(args) => (MessageKind::File, args),
            SendFileCommand::Image(args) => (MessageKind::Image, args),
            SendFileCommand::Voice(args) => (MessageKind::Voice, args),
            SendFileCommand::Video(args) => (MessageKind::Video, args),
        }
    }
}

/// `send-file [PEER] [PATH] ...` and its kin.
#[derive(Args, Debug)]
pub struct SendFileArgs {
    /// The conversation or group to post in, instead of a PEER.
    #[arg(long, visible_alias = "group", value_name = "ID")]
    conv: Option<ConvId>,
    /// PEER PATH; PEER alone with --file; PATH alone with --conv/--group;
    /// nothing with both.
    #[arg(value_name = "PEER|PATH", num_args = 0..=2)]
    args: Vec<String>,
    /// Send this file already on the server instead of uploading a PATH:
    /// one you uploaded, or one you received (forwarding it).
    #[arg(long = "file", value_name = "ID", value_parser = file_id)]
    file: Option<FileId>,
    /// A caption to go with the file.
    #[arg(long, value_name = "TEXT")]
    caption: Option<String>,
    /// The name to upload PATH under (default: PATH's file name).
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    name: Option<String>,
    #[command(flatten)]
    http: HttpArg,
}

/// What a `send-*` command sends: a local file to upload first, or a file
/// on the server.
enum Source<'a> {
    Path(&'a Path),
    Id(&'a str),
}

impl SendFileArgs {
    /// Where the message goes and what it carries, from the flags and the
    /// positional arguments.
    fn target(&self) -> Result<(SendTo<'_>, Source<'_>), Failure> {
        let usage = || {
            Failure::Usage(
                "give PEER PATH, PEER --file ID, --conv ID PATH or --conv ID --file ID (--group ID for a group)"
                    .into(),
            )
        };
        let (to, rest) = match (self.conv, self.args.as_slice()) {
            (Some(conv), rest) => (SendTo::Conv(conv), rest),
            (None, [peer, rest @ ..]) => (SendTo::User(peer.as_str()), rest),
            (None, []) => return Err(usage()),
        };
        let source = match (&self.file, rest) {
            (Some(id), []) => Source::Id(id),
            (None, [path]) => Source::Path(Path::new(path)),
            (Some(_), [_]) => {
                return Err(Failure::Usage(
                    "give either a PATH to upload or --file ID, not both".into(),
                ));
            }
            _ => return Err(usage()),
        };
        Ok((to, source))
    }
}

/// What a `send-*` command prints: the acknowledgement, as `send` prints
/// it, and the id of the file sent (the upload, or the `--file`).
#[derive(Serialize)]
struct SentFile<'a> {
    #[serde(flatten)]
    ack: &'a SendOk,
    file: &'a str,
}

/// Run one `send-*` command.
pub(crate) async fn send(
    command: &SendFileCommand,
    conn: &ServerArgs,
    secrets: &Secrets,
    out: &mut Output,
) -> Result<(), Failure> {
    let (kind, args) = command.parts();
    let (to, source) = args.target()?;
    let caption = args.caption.as_deref().unwrap_or("");
    match source {
        Source::Id(id) => {
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                let ack = client
                    .send_file(to, kind, id, caption)
                    .await
                    .map_err(|e| send_failure(e, kind))?;
                out.line(&SentFile {
                    ack: &ack,
                    file: id,
                })
            })
            .await
        }
        Source::Path(path) => {
            // Everything that can be checked locally is, before connecting.
            let base = args.http.resolve(conn)?;
            let local = LocalFile::inspect(path)?;
            let name = args.name.as_ref().unwrap_or(&local.default_name);
            let credentials = session_credentials(conn, secrets)?;
            with_http_session(
                conn,
                &credentials,
                &base,
                async |client, session, files| {
                    let (info, _) = upload(&local, name, false, &session, &base, files).await?;
                    match client.send_file(to, kind, &info.id, caption).await {
                        Ok(ack) => out.line(&SentFile {
                            ack: &ack,
                            file: &info.id,
                        }),
                        Err(e) => {
                            // The upload is not undone: a retry sends it
                            // without uploading again.
                            let again = if e.code() == Some(ErrorCode::InvalidMedia) {
                                "send-file (any content) with --file"
                            } else {
                                "--file"
                            };
                            eprintln!(
                                "the file stays uploaded as {id}: send it with {again} {id}, or delete it with `file rm {id}`",
                                id = info.id
                            );
                            Err(send_failure(e, kind))
                        }
                    }
                },
            )
            .await
        }
    }
}

/// A refused `send` of a file as the CLI reports it: content that is not
/// what the kind says is named as such.
fn send_failure(e: ClientError, kind: MessageKind) -> Failure {
    if e.code() != Some(ErrorCode::InvalidMedia) {
        return e.into();
    }
    let message = e.message();
    // The server's own message says what the kind needed and what the
    // content is; lead with the kind when it does not.
    if message.starts_with("the file is not ") {
        return Failure::Failed("invalid_media", message);
    }
    let lead = match kind {
        MessageKind::Image => "the file is not an image",
        MessageKind::Voice => "the file is not a voice recording (Opus in Ogg or WebM)",
        MessageKind::Video => "the file is not a video",
        _ => "the file is not what the kind says",
    };
    Failure::Failed("invalid_media", format!("{lead}: {message}"))
}

/// `--http URL`, for the commands that use the HTTP port.
#[derive(Args, Debug)]
pub struct HttpArg {
    /// The server's HTTP base (http://host:port); default: derived from
    /// --server (ws://h:p/ws → http://h:p, tcp://h:p → http://h:7071).
    #[arg(long = "http", env = "MAGPIE_HTTP", value_name = "URL", value_parser = http_base)]
    base: Option<String>,
}

impl HttpArg {
    fn resolve(&self, conn: &ServerArgs) -> Result<String, Failure> {
        resolve_http(self.base.as_deref(), conn)
    }
}

/// The HTTP base: `base` (from `--http`) if given, else derived from
/// `--server`. Shared with the drive commands, which take `--http` too.
pub(crate) fn resolve_http(base: Option<&str>, conn: &ServerArgs) -> Result<String, Failure> {
    match base {
        Some(base) => Ok(base.to_owned()),
        None => FileClient::http_base_for(&conn.server).ok_or_else(|| {
            Failure::Usage(format!(
                "cannot tell the HTTP address from --server {:?}; give --http URL",
                conn.server
            ))
        }),
    }
}

/// `upload PATH ...`.
#[derive(Args, Debug)]
pub struct UploadArgs {
    /// The file to upload.
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// The name to store it under (default: PATH's file name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Always send the bytes, without first asking whether the server
    /// already stores the content.
    #[arg(long)]
    no_instant: bool,
    #[command(flatten)]
    http: HttpArg,
}

/// `download ID ...`.
#[derive(Args, Debug)]
pub struct DownloadArgs {
    #[arg(value_name = "ID", value_parser = file_id, help = FILE_ID)]
    id: FileId,
    /// Where to write it (a directory: under the file's name there);
    /// default: the file's name in the current directory.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
    #[command(flatten)]
    http: HttpArg,
}

/// Run one file command.
pub(crate) async fn execute(
    command: &FilesCommand,
    conn: &ServerArgs,
    json: bool,
    secrets: &Secrets,
    out: &mut Output,
) -> Result<(), Failure> {
    let mut printer = Printer { out, json };
    match command {
        FilesCommand::Upload(args) => {
            // Everything that can be checked locally is, before connecting.
            let base = args.http.resolve(conn)?;
            let local = LocalFile::inspect(&args.path)?;
            let name = match &args.name {
                Some(name) => name.clone(),
                None => local.default_name.clone(),
            };
            let credentials = session_credentials(conn, secrets)?;
            with_http_session(
                conn,
                &credentials,
                &base,
                async |_client, session, files| {
                    let (info, instant) =
                        upload(&local, &name, args.no_instant, &session, &base, files).await?;
                    printer.emit(
                        &Uploaded {
                            file: &info,
                            instant,
                        },
                        || show_uploaded(&info, instant),
                    )
                },
            )
            .await
        }
        FilesCommand::Download(args) => {
            let base = args.http.resolve(conn)?;
            let credentials = session_credentials(conn, secrets)?;
            with_http_session(
                conn,
                &credentials,
                &base,
                async |client, _session, files| {
                    download(
                        &args.id,
                        args.output.as_deref(),
                        None,
                        client,
                        files,
                        &mut printer,
                    )
                    .await
                },
            )
            .await
        }
        FilesCommand::Files { after, limit } => {
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                let page = client.files(after.as_deref(), *limit).await?;
                printer.emit(&page, || show_files(&page))
            })
            .await
        }
        FilesCommand::File {
            command: FileCommand::Rm { id },
        } => {
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                client.file_delete(id).await?;
                printer.done(format!("deleted {id}"))
            })
            .await
        }
        FilesCommand::File {
            command:
                FileCommand::Url {
                    id,
                    thumbnail,
                    http,
                },
        } => {
            let base = http.resolve(conn)?;
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                let signed = client.file_url(id, *thumbnail).await?;
                let shown = SignedUrl {
                    url: absolute(&base, &signed.url),
                    expires_at: signed.expires_at,
                };
                printer.emit(&shown, || shown.url.clone())
            })
            .await
        }
        FilesCommand::Avatar(args) => avatar(args, conn, secrets, &mut printer).await,
        FilesCommand::GroupFiles(args) => {
            if args.command.is_some() && (args.before.is_some() || args.limit.is_some() || args.all)
            {
                return Err(Failure::Usage(
                    "--before, --limit and --all list files; `rm` takes only the FILE_ID".into(),
                ));
            }
            let credentials = session_credentials(conn, secrets)?;
            with_session(
                &conn.server,
                &credentials,
                async |client: &mut Client| match &args.command {
                    Some(GroupFilesCommand::Rm { id }) => {
                        client.group_file_delete(args.conv, id).await?;
                        printer.done(format!("removed {id} from group {}", args.conv))
                    }
                    None => {
                        let mut page = client
                            .group_files(args.conv, args.before, args.limit)
                            .await?;
                        while args.all
                            && let Some(before) = page.next
                        {
                            let more = client
                                .group_files(args.conv, Some(before), args.limit)
                                .await?;
                            page.files.extend(more.files);
                            page.next = more.next;
                        }
                        printer.emit(&page, || show_group_files(&page))
                    }
                },
            )
            .await
        }
    }
}

// Avatars.

/// What `avatar --json` prints.
#[derive(Serialize)]
struct AvatarShown<'a> {
    avatar: &'a str,
}

/// `avatar`: upload PATH if given, then make the file the avatar.
async fn avatar(
    args: &AvatarArgs,
    conn: &ServerArgs,
    secrets: &Secrets,
    printer: &mut Printer<'_>,
) -> Result<(), Failure> {
    let mut shown = |id: &str| printer.emit(&AvatarShown { avatar: id }, || id.to_owned());
    match (&args.file, &args.path) {
        (Some(id), _) => {
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                let avatar = client.avatar_set(id, args.group).await?;
                shown(&avatar)
            })
            .await
        }
        (None, Some(path)) => {
            // Everything that can be checked locally is, before connecting.
            let base = args.http.resolve(conn)?;
            let local = LocalFile::inspect(path)?;
            let credentials = session_credentials(conn, secrets)?;
            with_http_session(conn, &credentials, &base, async |client, session, files| {
                let name = local.default_name.clone();
                let (info, _) = upload(&local, &name, false, &session, &base, files).await?;
                match client.avatar_set(&info.id, args.group).await {
                    Ok(avatar) => shown(&avatar),
                    Err(e) => {
                        eprintln!(
                            "the file stays uploaded as {id}: delete it with `file rm {id}`",
                            id = info.id
                        );
                        Err(e.into())
                    }
                }
            })
            .await
        }
        (None, None) => Err(Failure::Usage("give a PATH or --file ID".into())),
    }
}

/// Who the HTTP calls act as.
#[derive(Debug)]
pub(crate) struct Session {
    user_id: UserId,
}

/// Connect to the message server, authenticate, and run `work` with a
/// [`FileClient`] carrying the session's token: `MAGPIE_TOKEN` as it is,
/// or the token of a password login, which is logged out at the end (the
/// token stops working; uploads left unfinished stay the user's and can
/// be resumed with another session).
pub(crate) async fn with_http_session<T>(
    conn: &ServerArgs,
    credentials: &Credentials,
    base: &str,
    work: impl AsyncFnOnce(&Client, Session, &FileClient) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let client = Client::connect(&conn.server).await?;
    let result = async {
        let (session, token) = match credentials {
            Credentials::Token(token) => {
                let auth = client.resume(token.expose()).await?;
                (
                    Session {
                        user_id: auth.user_id,
                    },
                    token.clone(),
                )
            }
            Credentials::Password(user, password) => {
                let auth = client
                    .login_on(user, password.expose(), None, Some(Platform::Cli))
                    .await?;
                let token = auth.token.ok_or_else(|| {
                    Failure::from(ClientError::Protocol(
                        "login answer carries no token".into(),
                    ))
                })?;
                (
                    Session {
                        user_id: auth.user_id,
                    },
                    Secret::new(token),
                )
            }
        };
        let files = FileClient::new(base, token.expose()).map_err(file_failure)?;
        work(&client, session, &files).await
    }
    .await;
    if matches!(credentials, Credentials::Password(..)) {
        // Fails harmlessly if the login itself failed.
        let _ = client.logout().await;
    }
    client.close().await;
    result
}

// Upload.

/// The file to upload, as found before connecting.
#[derive(Debug)]
pub(crate) struct LocalFile {
    /// The path with links resolved: read, and the key of its state.
    canonical: PathBuf,
    size: u64,
    /// Modification time in nanoseconds since the epoch (0 if unknown).
    mtime_ns: u64,
    pub(crate) default_name: String,
}

impl LocalFile {
    pub(crate) fn inspect(path: &Path) -> Result<LocalFile, Failure> {
        let unreadable = |e: std::io::Error| Failure::Usage(format!("{}: {e}", path.display()));
        let canonical = std::fs::canonicalize(path).map_err(unreadable)?;
        let meta = std::fs::metadata(&canonical).map_err(unreadable)?;
        if !meta.is_file() {
            return Err(Failure::Usage(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        // Readable now, rather than failing once connected.
        std::fs::File::open(&canonical).map_err(unreadable)?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        // The name given, not a link's target's.
        let default_name = path
            .file_name()
            .or_else(|| canonical.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        Ok(LocalFile {
            canonical,
            size: meta.len(),
            mtime_ns,
            default_name,
        })
    }
}

/// What `upload --json` prints: the stored file, and whether it was an
/// instant upload (no bytes sent).
#[derive(Serialize)]
struct Uploaded<'a> {
    #[serde(flatten)]
    file: &'a FileInfo,
    instant: bool,
}

/// Upload `local` under `name` (instantly unless `no_instant`, resuming
/// an upload an earlier run left): the stored file, and whether no bytes
/// had to be sent. Shared by `upload`, the `send-*` commands and `drive
/// upload`.
pub(crate) async fn upload(
    local: &LocalFile,
    name: &str,
    no_instant: bool,
    session: &Session,
    base: &str,
    files: &FileClient,
) -> Result<(FileInfo, bool), Failure> {
    let key = UploadKey {
        server: base.to_owned(),
        user: session.user_id,
        path: local.canonical.to_string_lossy().into_owned(),
        size: local.size,
        mtime_ns: local.mtime_ns,
        name: name.to_owned(),
    };
    let state = StateFile::locate();
    let resume = match &state {
        Some(state) => earlier_upload(state, &key, files).await?,
        None => None,
    };
    let forget = |state: &Option<StateFile>| {
        if let Some(state) = state {
            state.update(|entries| entries.retain(|e| !e.key.same_upload(&key)));
        }
    };
    // Completed by an earlier run that ended before it could say so.
    if let Some((
        _,
        UploadStatus {
            file: Some(info), ..
        },
    )) = &resume
    {
        eprintln!("the upload an earlier run started is complete");
        forget(&state);
        return Ok((info.clone(), false));
    }

    if !no_instant {
        match files.instant(&local.canonical, name).await {
            Ok(Some(info)) => {
                // An unfinished upload of the same bytes is no longer
                // needed: give its reservation back.
                if let Some((url, _)) = &resume {
                    let _ = files.terminate(url).await;
                }
                forget(&state);
                return Ok((info, true));
            }
            Ok(None) => {}
            // Offers are rate-limited; sending the bytes is not.
            Err(e) if e.status() == Some(429) => {}
            Err(e) => return Err(file_failure(e)),
        }
    }

    let url = match resume {
        Some((url, status)) => {
            eprintln!(
                "resuming the upload at {} of {} bytes",
                status.offset, status.length
            );
            url
        }
        None => {
            let url = files
                .create_upload(local.size, name)
                .await
                .map_err(file_failure)?;
            // Saved before any byte goes, so that an interruption from now
            // on is resumable.
            if let Some(state) = &state {
                let entry = UploadEntry {
                    key: key.clone(),
                    url: url.clone(),
                    created_at: magpie_server::clock::now_ms(),
                };
                state.update(|entries| entries.push(entry));
            }
            url
        }
    };
    let bar = progress_bar("uploading");
    let result = files
        .upload_file(&local.canonical, name, Some(&url), |sent, total| {
            bar.set_length(total);
            bar.set_position(sent);
        })
        .await;
    bar.finish_and_clear();
    let (_, info) = result.map_err(file_failure)?;
    forget(&state);
    Ok((info, false))
}

/// The upload an earlier run left for `key`, with its state on the server;
/// `None` if there is none or the server no longer has it. Entries for
/// the same file as it was before it changed (size, time or name) are
/// dropped, and their unfinished uploads terminated.
async fn earlier_upload(
    state: &StateFile,
    key: &UploadKey,
    files: &FileClient,
) -> Result<Option<(String, UploadStatus)>, Failure> {
    let entries = state.load();
    let stale: Vec<&UploadEntry> = entries.iter().filter(|e| e.key.outdated_by(key)).collect();
    for entry in &stale {
        // Never terminate a finished upload: that deletes its file.
        if let Ok(UploadStatus { file: None, .. }) = files.upload_status(&entry.url).await {
            let _ = files.terminate(&entry.url).await;
        }
    }
    if !stale.is_empty() {
        state.update(|entries| entries.retain(|e| !e.key.outdated_by(key)));
    }
    let Some(entry) = entries.iter().find(|e| e.key.same_upload(key)) else {
        return Ok(None);
    };
    match files.upload_status(&entry.url).await {
        Ok(status) => Ok(Some((entry.url.clone(), status))),
        // Expired, terminated, or never this user's.
        Err(e) if matches!(e.status(), Some(404 | 410)) => {
            state.update(|entries| entries.retain(|e| !e.key.same_upload(key)));
            Ok(None)
        }
        Err(e) => Err(file_failure(e)),
    }
}

fn show_uploaded(info: &FileInfo, instant: bool) -> String {
    let mut rows = vec![
        ("id", info.id.clone()),
        ("name", cell(&info.name)),
        ("size", format!("{} bytes", info.size)),
        ("kind", kind(info)),
    ];
    if instant {
        rows.push(("sent", "nothing: the server already had the content".into()));
    }
    labelled(&rows)
}

// Download.

/// What `download --json` prints.
#[derive(Serialize)]
struct Downloaded {
    path: String,
    size: u64,
    sha256: String,
}

/// Download file `id` to `output` (a directory: under its name there), or
/// under its name in the current directory, the name being `name` if
/// given (`drive download` passes the entry's, which a rename may have
/// made different from the file's) and the file's own otherwise. Shared
/// by `download` and `drive download`.
pub(crate) async fn download(
    id: &str,
    output: Option<&Path>,
    name: Option<&str>,
    client: &Client,
    files: &FileClient,
    printer: &mut Printer<'_>,
) -> Result<(), Failure> {
    let info = client.file_info(id).await?;
    let (dest, named_by_user) = destination(output, name.unwrap_or(&info.name))?;
    let done = |printer: &mut Printer<'_>| {
        let shown = Downloaded {
            path: dest.display().to_string(),
            size: info.size,
            sha256: info.sha256.clone(),
        };
        printer.emit(&shown, || {
            format!("saved {} ({} bytes)", clean(&shown.path), shown.size)
        })
    };

    match std::fs::symlink_metadata(&dest) {
        Ok(meta) if meta.is_dir() => {
            return Err(Failure::Failed(
                "exists",
                format!("{} is a directory", dest.display()),
            ));
        }
        Ok(meta) => {
            if meta.is_file() && meta.len() == info.size && same_content(&dest, &info).await? {
                eprintln!("{} is already there", dest.display());
                return done(printer);
            }
            if !named_by_user {
                return Err(Failure::Failed(
                    "exists",
                    format!(
                        "{} already exists with other content; remove it or choose where to write with -o PATH",
                        dest.display()
                    ),
                ));
            }
        }
        Err(_) => {}
    }

    let part = part_path(&dest);
    let mut had = match std::fs::metadata(&part) {
        Ok(meta) if meta.is_file() && meta.len() > 0 && meta.len() <= info.size => meta.len(),
        _ => 0,
    };
    if had > 0 {
        eprintln!("resuming the download at {had} of {} bytes", info.size);
    }
    loop {
        let bar = progress_bar("downloading");
        let result = files
            .download(id, &part, |received, total| {
                bar.set_length(total);
                bar.set_position(received);
            })
            .await;
        bar.finish_and_clear();
        result.map_err(file_failure)?;
        let (sha256, size) = hash_file(&part).await.map_err(file_failure)?;
        let sha256 = to_hex(&sha256);
        if size == info.size && sha256 == info.sha256 {
            break;
        }
        let _ = std::fs::remove_file(&part);
        if had > 0 {
            // The partial file was not a prefix of this one (left by
            // another file of the same name, or altered): start over.
            eprintln!("the partial download did not match the file; downloading it again");
            had = 0;
            continue;
        }
        return Err(Failure::Failed(
            "checksum_mismatch",
            format!(
                "the downloaded content does not match the file: SHA-256 {sha256} ({size} bytes), expected {} ({} bytes); nothing was saved",
                info.sha256, info.size
            ),
        ));
    }
    std::fs::rename(&part, &dest).map_err(|e| {
        Failure::Failed(
            "io",
            format!("renaming {} to {}: {e}", part.display(), dest.display()),
        )
    })?;
    done(printer)
}

/// Where to write a download, and whether the user named the place (then
/// an existing file there is replaced; a name from the server never
/// replaces one).
fn destination(output: Option<&Path>, name: &str) -> Result<(PathBuf, bool), Failure> {
    match output {
        Some(dir) if dir.is_dir() => Ok((dir.join(plain_name(name)?), false)),
        Some(path) => Ok((path.to_path_buf(), true)),
        None => Ok((PathBuf::from(plain_name(name)?), false)),
    }
}

/// `name` if it is a plain file name, safe to create in a directory: one
/// path component, not `.` or `..`, no separators or control characters.
pub(crate) fn plain_name(name: &str) -> Result<&str, Failure> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name));
    if plain {
        Ok(name)
    } else {
        Err(Failure::Failed(
            "unsafe_name",
            format!(
                "the file's name {:?} is not a plain file name; choose where to write it with -o PATH",
                clean(name)
            ),
        ))
    }
}

/// `PATH.part`.
fn part_path(dest: &Path) -> PathBuf {
    let mut part = OsString::from(dest.as_os_str());
    part.push(".part");
    PathBuf::from(part)
}

async fn same_content(path: &Path, info: &FileInfo) -> Result<bool, Failure> {
    let (sha256, size) = hash_file(path).await.map_err(file_failure)?;
    Ok(size == info.size && to_hex(&sha256) == info.sha256)
}

// The listing.

fn show_files(page: &magpie_proto::FilesOk) -> String {
    let rows: Vec<Vec<String>> = page
        .files
        .iter()
        .map(|f| {
            vec![
                f.id.clone(),
                f.size.to_string(),
                kind_name(f),
                time(f.created_at),
                cell(&f.name),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        "no files\n".to_owned()
    } else {
        table(&["ID", "SIZE", "KIND", "CREATED", "NAME"], &rows)
    };
    let quota = page.quota;
    text.push_str(&format!(
        "quota: {} of {} used, {} reserved by unfinished uploads\n",
        bytes(quota.used),
        bytes(quota.limit),
        bytes(quota.reserved)
    ));
    if let Some(next) = &page.next {
        text.push_str(&format!("more: --after {next}\n"));
    }
    text
}

fn show_group_files(page: &magpie_proto::GroupFilesOk) -> String {
    let rows: Vec<Vec<String>> = page
        .files
        .iter()
        .map(|f| {
            vec![
                f.seq.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                cell(&f.name),
                f.size.to_string(),
                kind_name(f),
                f.owner.to_string(),
                f.id.clone(),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        "no files\n".to_owned()
    } else {
        table(&["SEQ", "NAME", "SIZE", "KIND", "SENDER", "ID"], &rows)
    };
    if let Some(next) = page.next {
        text.push_str(&format!("more: --before {next}\n"));
    }
    text
}

/// `file url --json`.
#[derive(Serialize)]
struct SignedUrl {
    url: String,
    expires_at: i64,
}

/// `path` on the HTTP server at `base`, unless already absolute.
pub(crate) fn absolute(base: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        path.to_owned()
    } else {
        format!("{}{path}", base.trim_end_matches('/'))
    }
}

// Text helpers.

/// `file`, `image`, `voice` or `video`.
fn kind_name(info: &FileInfo) -> String {
    serde_json::to_value(info.media.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "file".to_owned())
}

/// The kind and the type: `image (image/png)`.
fn kind(info: &FileInfo) -> String {
    format!("{} ({})", kind_name(info), clean(&info.media.mime))
}

/// `label  value` lines, the labels padded to one width.
fn labelled(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:width$}  {value}\n"))
        .collect()
}

/// A size for people: bytes, or KiB/MiB/GiB with one decimal.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A byte progress bar on stderr if it is a terminal; hidden otherwise.
pub(crate) fn progress_bar(verb: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(verb.to_owned());
    bar
}

// Errors.

/// A failure of the HTTP file API as the CLI reports it: the server's
/// error code and message when it sent one.
pub(crate) fn file_failure(e: FileError) -> Failure {
    match e {
        FileError::Server {
            error: Some(body), ..
        } => Failure::Failed(body.code.as_str(), body.message),
        FileError::Server {
            status,
            error: None,
        } => Failure::Failed("http", format!("the server answered HTTP {status}")),
        FileError::Http(e) => {
            // reqwest's own message is terse; its causes say what failed.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            Failure::Failed("http", message)
        }
        FileError::Io(e) => Failure::Failed("io", e.to_string()),
        FileError::Protocol(message) => Failure::Failed("protocol", message),
    }
}

// Arguments.

fn file_id(value: &str) -> Result<FileId, String> {
    if is_file_id(value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{value:?} is not a file id (32 lowercase hex digits)"
        ))
    }
}

fn group_id(value: &str) -> Result<ConvId, String> {
    match value.parse::<ConvId>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err("a group is named by its id, a positive number (see `group list`)".to_owned()),
    }
}

pub(crate) fn http_base(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(format!("{value:?} is not an http:// or https:// URL")),
    }
}

// The upload state file.

/// What identifies one upload of one file: the same file (path, size,
/// modification time) under the same name, by the same user, to the same
/// server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UploadKey {
    server: String,
    user: UserId,
    path: String,
    size: u64,
    mtime_ns: u64,
    name: String,
}

impl UploadKey {
    fn same_upload(&self, other: &UploadKey) -> bool {
        self == other
    }

    /// The same local path for the same user and server (the file may
    /// have changed since).
    fn same_path(&self, other: &UploadKey) -> bool {
        self.server == other.server && self.user == other.user && self.path == other.path
    }

    /// An upload of what the file at the same path was before it changed
    /// (or under another name): of no use for `other`.
    fn outdated_by(&self, other: &UploadKey) -> bool {
        self.same_path(other) && !self.same_upload(other)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadEntry {
    #[serde(flatten)]
    key: UploadKey,
    /// The upload's URL on `key.server` (a path).
    url: String,
    /// When the upload was made (ms since the epoch).
    created_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateDoc {
    #[serde(default)]
    uploads: Vec<UploadEntry>,
}

/// `uploads.json`. Problems with it never fail an upload: at worst it
/// cannot be resumed, which is said on stderr.
#[derive(Debug)]
struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// `$MAGPIE_STATE_DIR/uploads.json`, else
    /// `$XDG_STATE_HOME/magpie/uploads.json`, else
    /// `~/.local/state/magpie/uploads.json`; `None` without a home.
    fn locate() -> Option<StateFile> {
        let var = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let dir = var(STATE_DIR_ENV)
            .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("magpie")))
            .or_else(|| var("HOME").map(|h| h.join(".local/state/magpie")));
        match dir {
            Some(dir) => Some(StateFile {
                path: dir.join(STATE_FILE),
            }),
            None => {
                eprintln!(
                    "warning: no state directory (set {STATE_DIR_ENV} or HOME): an interrupted upload will start over"
                );
                None
            }
        }
    }

    fn load(&self) -> Vec<UploadEntry> {
        match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<StateDoc>(&bytes) {
                Ok(doc) => doc.uploads,
                Err(e) => {
                    eprintln!(
                        "warning: ignoring {}, which is not valid: {e}",
                        self.path.display()
                    );
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                eprintln!("warning: cannot read {}: {e}", self.path.display());
                Vec::new()
            }
        }
    }

    /// Read, change and write back the entries (dropping old ones),
    /// replacing the file atomically.
    fn update(&self, change: impl FnOnce(&mut Vec<UploadEntry>)) {
        let mut uploads = self.load();
        change(&mut uploads);
        let now = magpie_server::clock::now_ms();
        uploads.retain(|e| now.saturating_sub(e.created_at) < STATE_MAX_AGE_MS);
        if let Err(e) = self.write(&StateDoc { uploads }) {
            eprintln!(
                "warning: cannot save {}: {e}; an interrupted upload will start over",
                self.path.display()
            );
        }
    }

    fn write(&self, doc: &StateDoc) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
        let mut temp = self.path.clone().into_os_string();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_written_without_o() {
        for good in ["a.bin", "会议纪要.docx", ".hidden", "a b", "..x"] {
            assert!(plain_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "/etc/passwd",
            "a\\b",
            "a\nb",
            "a\0b",
        ] {
            assert!(plain_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_part_file_sits_next_to_the_destination() {
        assert_eq!(part_path(Path::new("d/a.bin")), Path::new("d/a.bin.part"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 + 1), "3.0 MiB");
    }

    #[test]
    fn http_bases_are_checked() {
        assert_eq!(http_base("http://h:1/").as_deref(), Ok("http://h:1"));
        assert!(http_base("ftp://h").is_err());
        assert!(http_base("http://").is_err());
    }

    #[test]
    fn state_survives_a_round_trip_and_drops_old_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateFile {
            path: dir.path().join("sub").join(STATE_FILE),
        };
        let key = UploadKey {
            server: "http://h:1".into(),
            user: 7,
            path: "/x/a.bin".into(),
            size: 10,
            mtime_ns: 5,
            name: "a.bin".into(),
        };
        let now = magpie_server::clock::now_ms();
        let fresh = UploadEntry {
            key: key.clone(),
            url: "/api/uploads/1".into(),
            created_at: now,
        };
        let old = UploadEntry {
            url: "/api/uploads/2".into(),
            created_at: now - STATE_MAX_AGE_MS - 1,
            ..fresh.clone()
        };
        state.update(|e| e.extend([fresh, old]));
        let loaded = state.load();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].url, "/api/uploads/1");
        assert!(loaded[0].key.same_upload(&key));
        let moved = UploadKey {
            mtime_ns: 6,
            ..key.clone()
        };
        assert!(loaded[0].key.outdated_by(&moved));
        assert!(!loaded[0].key.outdated_by(&key));
    }
}
