//! `magpie client drive ...`: the personal drive (网盘) from the command
//! line.
//!
//! Entries are named by drive paths from the top, `/docs/2024/plan.txt`
//! (the leading `/` is optional; `/` alone is the top), found by listing
//! each folder on the way. An argument of exactly 32 lowercase hex digits
//! is taken as an entry's id instead (as `ls` and `--json` show them);
//! write a folder whose name looks like one as `/NAME`. `download` is the
//! exception: the protocol has no way to look an entry up by its id, so an
//! id there is the *file's* id (`file.id` in `ls --json`).
//!
//! - `ls [PATH] [--sort name|size|time] [--desc]`: a folder, every page
//!   (folders first), or one file;
//! - `mkdir PATH [-p]`: a folder; `-p`/`--parents` makes the missing
//!   folders on the way, and an existing folder is then no error;
//! - `mv SRC... DEST_FOLDER`, `rename PATH NEWNAME` (`--rename` takes
//!   `name (1)` on a clash instead of failing with `name_taken`);
//! - `rm PATH...` moves entries to the bin; `bin` lists it, `restore
//!   ID_OR_NAME...` brings entries back where they were, `purge [ID...]`
//!   deletes some (or, asking first unless `--yes`, all) for good;
//! - `upload LOCAL [DEST_FOLDER] [--name N]` uploads exactly as `upload`
//!   does (instant upload first, then resumable tus with a progress bar;
//!   see [`crate::cli_files`]) and places the file in the drive;
//!   `download PATH [LOCAL]` downloads as `download` does (resumable
//!   `.part`, SHA-256 checked), under the entry's name by default;
//! - `share PATH [--code C] [--expires 7d] [--max-downloads N]` prints the
//!   link (the HTTP base and the server's `/s/ID`) and its extraction
//!   code; `shares` lists yours, `unshare SHARE_ID` revokes one; `save
//!   LINK_OR_ID CODE [DEST_FOLDER]` saves what someone shared into your
//!   drive;
//! - `quota`, `search QUERY`, `recent [--limit N]`;
//! - `open LINK CODE [--download NAME] [-o LOCAL]` opens a share link
//!   over HTTP without an account: lists it, or downloads one file of it
//!   (NAME may be a path inside a shared folder).
//!
//! The HTTP base (for `upload`, `download`, share links and `open`) is
//! `--http URL` (or `MAGPIE_HTTP`), derived from `--server` by default, as
//! for the file commands; `open` takes it from a full link.
//!
//! Output: compact text, or with `--json` one JSON document:
//! - `ls`: `{"path": [{"id", "name"}...], "entries": [...]}`, every page;
//! - `mkdir`, `rename`: the entry; `upload`: the entry with `"instant":
//!   bool`; `download`: `{"path", "size", "sha256"}`;
//! - `mv`, `restore`, `save`, `search`, `recent`, `bin`: `{"entries":
//!   [...]}` (`bin` and `search` every page);
//! - `purge`: `{"purged": N, "pending": bool}`; `quota`: `{"used",
//!   "reserved", "limit"}`;
//! - `share`: the share with its absolute `link`; `shares`: `{"shares":
//!   [...]}`, each with its `link`;
//! - `rm`, `unshare`: `{"ok": true}`;
//! - `open`: the shared view (every page of the folder), or with
//!   `--download` `{"path", "size"}`.

use crate::cli_admin::confirm;
use crate::cli_client::{Failure, Output, Secrets, ServerArgs, session_credentials, with_session};
use crate::cli_files::{
    LocalFile, absolute, bytes, download, file_failure, http_base, plain_name, progress_bar,
    resolve_http, upload, with_http_session,
};
use crate::cli_people::{Printer, cell, clean, table, time};
use clap::{Args, Subcommand};
use magpie_client::drive::{ShareClient, ShareLink, drive_path_names, is_drive_top};
use magpie_client::{Client, ClientError};
use magpie_proto::{
    Crumb, DriveEntriesOk, DriveEntry, DriveListOk, DrivePurgeOk, DriveSave, DriveShare,
    DriveSortKey, EntryId, EntryKind, ErrorCode, MAX_ENTRIES_PER_REQUEST, Quota, ShareInfo,
    SharedView, is_file_id, valid_entry_name, valid_share_code,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The help of an entry argument.
const ENTRY: &str = "A drive path (/docs/a.txt) or an entry's id (32 hex digits)";
/// The help of a destination folder argument.
const FOLDER: &str = "A drive folder: a path (/docs; / for the top) or a folder's id";

/// The drive commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum DriveCommand {
    /// Your personal drive (网盘): folders and files kept on the server, a
    /// bin, and share links with an extraction code.
    Drive(DriveArgs),
}

/// `drive [--http URL] <command>`.
#[derive(Args, Debug)]
pub struct DriveArgs {
    /// The server's HTTP base (http://host:port), for uploads, downloads,
    /// share links and `open`; default: derived from --server
    /// (ws://h:p/ws → http://h:p, tcp://h:p → http://h:7071).
    #[arg(long = "http", env = "MAGPIE_HTTP", value_name = "URL",
          value_parser = http_base, global = true)]
    http: Option<String>,
    #[command(subcommand)]
    command: DriveSub,
}

// No argument is a field called `user`: clap would take it for the
// global `--user` option.
#[derive(Subcommand, Debug)]
pub enum DriveSub {
    /// List a folder (default: the top), folders first, or show one file.
    Ls {
        #[arg(value_name = "PATH", help = ENTRY)]
        path: Option<String>,
        /// Order by name, size or time (last change).
        #[arg(long, value_name = "KEY", value_parser = sort_key, default_value = "name")]
        sort: DriveSortKey,
        /// Largest, newest or Z first.
        #[arg(long)]
        desc: bool,
    },
    /// Make a folder.
    Mkdir {
        /// The new folder's path (/docs/2024).
        #[arg(value_name = "PATH")]
        path: String,
        /// Make the missing folders on the way too; an existing folder is
        /// then no error (like mkdir -p).
        #[arg(short = 'p', long)]
        parents: bool,
    },
    /// Move entries into a folder (all or none).
    #[command(override_usage = "magpie client drive mv [OPTIONS] SRC... DEST_FOLDER")]
    Mv {
        /// SRC... DEST_FOLDER: the entries, then where to (/ for the top).
        #[arg(value_name = "PATH", num_args = 2.., required = true)]
        paths: Vec<String>,
        /// On a name clash take `name (1)`, ... instead of failing.
        #[arg(long)]
        rename: bool,
    },
    /// Rename an entry in place.
    Rename {
        #[arg(value_name = "PATH", help = ENTRY)]
        path: String,
        #[arg(value_name = "NEWNAME", value_parser = entry_name)]
        name: String,
        /// On a name clash take `name (1)`, ... instead of failing.
        #[arg(long)]
        rename: bool,
    },
    /// Move entries to the bin (see `bin`, `restore`, `purge`).
    Rm {
        #[arg(value_name = "PATH", required = true, help = ENTRY)]
        paths: Vec<String>,
    },
    /// List the bin: what was deleted, from where, and when it goes for
    /// good.
    Bin,
    /// Bring entries back from the bin to where they were.
    Restore {
        /// An id, or the name of exactly one entry in the bin.
        #[arg(value_name = "ID_OR_NAME", required = true)]
        items: Vec<String>,
    },
    /// Delete entries of the bin for good; without any, empty the bin
    /// (asking first unless --yes).
    Purge {
        /// An id, or the name of exactly one entry in the bin.
        #[arg(value_name = "ID_OR_NAME")]
        items: Vec<String>,
        /// Empty the bin without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Upload a local file into a drive folder (default: the top), as
    /// `upload` does: instantly when the server has the content, else
    /// resumably (run the same command again after an interruption).
    Upload {
        #[arg(value_name = "LOCAL")]
        local: PathBuf,
        #[arg(value_name = "DEST_FOLDER", help = FOLDER)]
        dest: Option<String>,
        /// The entry's name (default: LOCAL's file name).
        #[arg(long, value_name = "N", value_parser = entry_name)]
        name: Option<String>,
        /// On a name clash take `name (1)`, ... instead of failing.
        #[arg(long)]
        rename: bool,
        /// Always send the bytes, without first offering them by hash.
        #[arg(long)]
        no_instant: bool,
    },
    /// Download a drive file (into the current directory under its name,
    /// or to LOCAL, a file or a directory), checking its SHA-256; an
    /// interrupted download is continued by running it again.
    Download {
        /// A drive path, or a file's id (`file.id` in `ls --json`).
        #[arg(value_name = "PATH")]
        path: String,
        #[arg(value_name = "LOCAL")]
        local: Option<PathBuf>,
    },
    /// Make a share link; prints the link and its extraction code.
    Share {
        #[arg(value_name = "PATH", help = ENTRY)]
        path: String,
        /// The extraction code, 4-16 letters or digits (default: a random
        /// one).
        #[arg(long, value_name = "C", value_parser = share_code)]
        code: Option<String>,
        /// The link stops working after this long: 30m, 12h, 7d, 2w
        /// (default: never).
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        expires: Option<Duration>,
        /// The link allows this many downloads (default: unlimited).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        max_downloads: Option<u32>,
    },
    /// List your share links (every page).
    Shares,
    /// Revoke a share link at once.
    Unshare {
        /// The share's id, or its link.
        #[arg(value_name = "SHARE_ID")]
        share: String,
    },
    /// Save what a share link holds into your drive (no bytes are copied).
    Save {
        /// The link (http://host/s/ID) or the share's id.
        #[arg(value_name = "LINK_OR_ID")]
        link: String,
        /// The extraction code.
        #[arg(value_name = "CODE")]
        code: String,
        #[arg(value_name = "DEST_FOLDER", help = FOLDER)]
        dest: Option<String>,
    },
    /// Show your storage: used, and the quota.
    Quota,
    /// Find your entries whose name contains QUERY (any case, any
    /// script), every page.
    Search {
        #[arg(value_name = "QUERY")]
        query: String,
    },
    /// List the files you added most recently.
    Recent {
        /// How many (server default 50, at most 100).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
    },
    /// Open a share link over HTTP, without an account: list what it
    /// holds, or download one file of it.
    Open {
        /// The link (http://host/s/ID), or the share's id with --http.
        #[arg(value_name = "LINK")]
        link: String,
        /// The extraction code.
        #[arg(value_name = "CODE")]
        code: String,
        /// Download this file: the shared file's name, or a path inside
        /// the shared folder (sub/a.txt).
        #[arg(long, value_name = "ENTRY_NAME")]
        download: Option<String>,
        /// Where to write the download (a directory: under its name
        /// there); default: its name in the current directory.
        #[arg(
            short = 'o',
            long = "output",
            value_name = "LOCAL",
            requires = "download"
        )]
        output: Option<PathBuf>,
    },
}

// Checks of the command line, run by clap while parsing.

fn sort_key(value: &str) -> Result<DriveSortKey, String> {
    match value {
        "name" => Ok(DriveSortKey::Name),
        "size" => Ok(DriveSortKey::Size),
        "time" => Ok(DriveSortKey::Time),
        _ => Err("sort by name, size or time".to_owned()),
    }
}

fn entry_name(value: &str) -> Result<String, String> {
    if valid_entry_name(value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{:?} is not a valid name: 1-255 characters, not . or .., no / or \\, no control characters, no leading or trailing spaces",
            clean(value)
        ))
    }
}

fn share_code(value: &str) -> Result<String, String> {
    if valid_share_code(value) {
        Ok(value.to_owned())
    } else {
        Err("an extraction code is 4-16 letters or digits".to_owned())
    }
}

/// `30s`, `30m`, `12h`, `7d`, `2w`.
fn duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("{value:?} is not a duration like 30m, 12h, 7d or 2w");
    let split = value.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let secs = number.checked_mul(unit_secs).ok_or_else(bad)?;
    if secs == 0 {
        return Err("the link must work for some time".to_owned());
    }
    Ok(Duration::from_secs(secs))
}

/// Run one drive command. `upload`, `download` and the share commands need
/// the HTTP base too; `open` needs no account at all.
pub(crate) async fn execute(
    command: &DriveCommand,
    conn: &ServerArgs,
    json: bool,
    secrets: &Secrets,
    out: &mut Output,
) -> Result<(), Failure> {
    let DriveCommand::Drive(args) = command;
    let mut printer = Printer { out, json };
    let http = args.http.as_deref();
    match &args.command {
        DriveSub::Upload {
            local,
            dest,
            name,
            rename,
            no_instant,
        } => {
            // Everything that can be checked locally is, before connecting.
            let base = resolve_http(http, conn)?;
            let local = LocalFile::inspect(local)?;
            let name = match name {
                Some(name) => name.clone(),
                None => entry_name(&local.default_name).map_err(Failure::Usage)?,
            };
            let credentials = session_credentials(conn, secrets)?;
            with_http_session(conn, &credentials, &base, async |client, session, files| {
                let parent = folder(client, dest.as_deref()).await?;
                if !rename && client.drive_find(parent.as_deref(), &name).await?.is_some() {
                    return Err(Failure::Failed(
                        "name_taken",
                        format!(
                            "{} already holds {:?}; pass --rename, or --name another name",
                            shown_folder(dest.as_deref()),
                            clean(&name)
                        ),
                    ));
                }
                let (info, instant) =
                    upload(&local, &name, *no_instant, &session, &base, files).await?;
                match client
                    .drive_put(&info.id, parent.as_deref(), Some(&name), *rename)
                    .await
                {
                    Ok(entry) => printer.emit(
                        &Uploaded {
                            entry: &entry,
                            instant,
                        },
                        || show_uploaded(&entry, instant),
                    ),
                    Err(e) => {
                        eprintln!(
                            "the file stays uploaded as {id} (see `files`); delete it with `file rm {id}`",
                            id = info.id
                        );
                        Err(e.into())
                    }
                }
            })
            .await
        }
        DriveSub::Download { path, local } => {
            let base = resolve_http(http, conn)?;
            let credentials = session_credentials(conn, secrets)?;
            with_http_session(
                conn,
                &credentials,
                &base,
                async |client, _session, files| {
                    // An id is an entry's, or else (as `ls --json` shows
                    // under `file`) a drive file's own.
                    if is_file_id(path) && client.drive_info(path).await.is_err() {
                        return download(path, local.as_deref(), None, client, files, &mut printer)
                            .await;
                    }
                    let entry = resolve(client, path).await?;
                    let Some(file) = entry
                        .file
                        .as_ref()
                        .filter(|_| entry.kind == EntryKind::File)
                    else {
                        return Err(Failure::Failed(
                            "not_a_file",
                            format!("{} is a folder", clean(path)),
                        ));
                    };
                    download(
                        &file.id,
                        local.as_deref(),
                        Some(&entry.name),
                        client,
                        files,
                        &mut printer,
                    )
                    .await
                },
            )
            .await
        }
        DriveSub::Open {
            link,
            code,
            download,
            output,
        } => {
            open(
                link,
                code,
                download.as_deref(),
                output.as_deref(),
                http,
                conn,
                &mut printer,
            )
            .await
        }
        DriveSub::Share { .. } | DriveSub::Shares => {
            let base = resolve_http(http, conn)?;
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                shares(&args.command, &base, client, &mut printer).await
            })
            .await
        }
        command => {
            if let DriveSub::Purge { items, yes: false } = command
                && items.is_empty()
                && !confirm("Delete everything in your bin for good? It cannot be undone.")?
            {
                return Err(Failure::Failed(
                    "aborted",
                    "nothing purged (pass --yes to skip the question)".to_owned(),
                ));
            }
            let credentials = session_credentials(conn, secrets)?;
            with_session(&conn.server, &credentials, async |client: &mut Client| {
                perform(command, client, &mut printer).await
            })
            .await
        }
    }
}

/// The commands that need only the message connection.
async fn perform(
    command: &DriveSub,
    client: &Client,
    printer: &mut Printer<'_>,
) -> Result<(), Failure> {
    match command {
        DriveSub::Ls { path, sort, desc } => {
            let list = match path.as_deref() {
                None => client.drive_list_all(None, *sort, *desc).await?,
                Some(path) if is_drive_top(path) => {
                    client.drive_list_all(None, *sort, *desc).await?
                }
                Some(id) if is_file_id(id) => client.drive_list_all(Some(id), *sort, *desc).await?,
                Some(path) => {
                    let entry = resolve(client, path).await?;
                    match entry.kind {
                        EntryKind::Folder => {
                            client.drive_list_all(Some(&entry.id), *sort, *desc).await?
                        }
                        EntryKind::File => {
                            // A file: its folder's breadcrumb, and itself.
                            let folder = client
                                .drive_list(magpie_proto::DriveList {
                                    folder: entry.parent.clone(),
                                    limit: Some(1),
                                    ..Default::default()
                                })
                                .await?;
                            DriveListOk {
                                path: folder.path,
                                entries: vec![entry],
                                next: None,
                            }
                        }
                    }
                }
            };
            printer.emit(&list, || show_list(&list))
        }
        DriveSub::Mkdir { path, parents } => {
            let made = mkdir(client, path, *parents).await?;
            printer.emit(&made, || format!("made {}", clean(&drive_path(path))))
        }
        DriveSub::Mv { paths, rename } => {
            let Some((dest, sources)) = paths.split_last() else {
                return Err(Failure::Usage("give SRC... DEST_FOLDER".into()));
            };
            let parent = folder(client, Some(dest)).await?;
            let mut ids = Vec::with_capacity(sources.len());
            for source in sources {
                ids.push(entry_id(client, source).await?);
            }
            if ids.len() > MAX_ENTRIES_PER_REQUEST {
                return Err(Failure::Usage(format!(
                    "move at most {MAX_ENTRIES_PER_REQUEST} entries at once (all or none)"
                )));
            }
            let moved = client.drive_move(&ids, parent.as_deref(), *rename).await?;
            printer.emit(&moved, || {
                format!(
                    "moved {} into {}",
                    names(&moved.entries),
                    shown_folder(Some(dest))
                )
            })
        }
        DriveSub::Rename { path, name, rename } => {
            let id = entry_id(client, path).await?;
            let entry = client.drive_rename(&id, name, *rename).await?;
            printer.emit(&entry, || {
                format!("renamed {} to {}", clean(path), clean(&entry.name))
            })
        }
        DriveSub::Rm { paths } => {
            let mut ids = Vec::with_capacity(paths.len());
            for path in paths {
                ids.push(entry_id(client, path).await?);
            }
            // The server takes 100 at a time; each batch is all or none.
            for batch in ids.chunks(MAX_ENTRIES_PER_REQUEST) {
                client.drive_delete(batch).await?;
            }
            printer.done(format!("moved {} to the bin", count(ids.len(), "entry")))
        }
        DriveSub::Bin => {
            let bin = DriveEntriesOk {
                entries: client.drive_bin_all().await?,
                next: None,
            };
            printer.emit(&bin, || show_bin(&bin.entries))
        }
        DriveSub::Restore { items } => {
            let ids = in_bin(client, items).await?;
            let mut restored = DriveEntriesOk {
                entries: Vec::new(),
                next: None,
            };
            for batch in ids.chunks(MAX_ENTRIES_PER_REQUEST) {
                restored
                    .entries
                    .extend(client.drive_restore(batch).await?.entries);
            }
            printer.emit(&restored, || {
                format!("restored {}", names(&restored.entries))
            })
        }
        DriveSub::Purge { items, .. } => {
            let purged = if items.is_empty() {
                client.drive_purge(None).await?
            } else {
                let ids = in_bin(client, items).await?;
                let mut total = DrivePurgeOk {
                    purged: 0,
                    pending: false,
                };
                for batch in ids.chunks(MAX_ENTRIES_PER_REQUEST) {
                    let done = client.drive_purge(Some(batch)).await?;
                    total.purged += done.purged;
                    total.pending |= done.pending;
                }
                total
            };
            printer.emit(&purged, || {
                let mut text = format!("purged {}", count(purged.purged as usize, "entry"));
                if purged.pending {
                    text.push_str(" (part of it goes on in the background)");
                }
                text
            })
        }
        DriveSub::Unshare { share } => {
            let share = share_id(share)?;
            client.drive_unshare(&share).await?;
            printer.done(format!("revoked share {share}"))
        }
        DriveSub::Save { link, code, dest } => {
            let share = share_id(link)?;
            let parent = folder(client, dest.as_deref()).await?;
            let saved = client
                .drive_save(DriveSave {
                    share,
                    code: code.clone(),
                    entries: None,
                    parent,
                })
                .await?;
            printer.emit(&saved, || {
                format!(
                    "saved {} into {}",
                    names(&saved.entries),
                    shown_folder(dest.as_deref())
                )
            })
        }
        DriveSub::Quota => {
            let quota = client.drive_quota().await?;
            printer.emit(&quota, || show_quota(&quota))
        }
        DriveSub::Search { query } => {
            let found = DriveEntriesOk {
                entries: client.drive_search_all(query).await?,
                next: None,
            };
            printer.emit(&found, || show_entries(&found.entries, "nothing found"))
        }
        DriveSub::Recent { limit } => {
            let recent = client.drive_recent(*limit).await?;
            printer.emit(&recent, || show_entries(&recent.entries, "no files"))
        }
        DriveSub::Upload { .. }
        | DriveSub::Download { .. }
        | DriveSub::Share { .. }
        | DriveSub::Shares
        | DriveSub::Open { .. } => Err(Failure::Usage(
            "this command needs the HTTP address".to_owned(),
        )),
    }
}

// Finding entries.

/// The entry at drive path `path`, or with that id.
async fn resolve(client: &Client, path: &str) -> Result<DriveEntry, Failure> {
    if is_drive_top(path) {
        return Err(Failure::Usage(
            "the top of the drive (/) is not an entry here".to_owned(),
        ));
    }
    if is_file_id(path) {
        return Ok(client.drive_info(path).await?.entry);
    }
    client
        .drive_resolve(path)
        .await?
        .ok_or_else(|| no_such(path))
}

/// The id of the entry `arg` names: an id as it is, or a path resolved.
async fn entry_id(client: &Client, arg: &str) -> Result<EntryId, Failure> {
    if is_file_id(arg) {
        return Ok(arg.to_owned());
    }
    Ok(resolve(client, arg).await?.id)
}

/// The folder `arg` names: `None` (the top) for no argument or `/`, an id
/// as it is, or a path that must lead to a folder.
async fn folder(client: &Client, arg: Option<&str>) -> Result<Option<EntryId>, Failure> {
    let Some(arg) = arg.filter(|a| !is_drive_top(a)) else {
        return Ok(None);
    };
    if is_file_id(arg) {
        return Ok(Some(arg.to_owned()));
    }
    let entry = resolve(client, arg).await?;
    if entry.kind != EntryKind::Folder {
        return Err(Failure::Failed(
            "not_a_folder",
            format!("{} is a file, not a folder", clean(arg)),
        ));
    }
    Ok(Some(entry.id))
}

fn no_such(path: &str) -> Failure {
    Failure::Failed(
        "unknown_entry",
        format!("{}: no such file or folder", clean(&drive_path(path))),
    )
}

/// `mkdir PATH [-p]`: the folder made (or, with `parents`, found).
async fn mkdir(client: &Client, path: &str, parents: bool) -> Result<DriveEntry, Failure> {
    let names = drive_path_names(path);
    let Some((last, above)) = names.split_last() else {
        return Err(Failure::Usage("the top of the drive exists already".into()));
    };
    for name in &names {
        entry_name(name).map_err(Failure::Usage)?;
    }
    if !parents {
        // With its leading `/`, a name of 32 hex digits stays a name.
        let parent = folder(client, Some(&format!("/{}", above.join("/")))).await?;
        return Ok(client.drive_mkdir(parent.as_deref(), last, false).await?);
    }
    let mut parent: Option<EntryId> = None;
    let mut made = None;
    for (i, name) in names.iter().enumerate() {
        let so_far = || names[..=i].join("/");
        let entry = match client.drive_find(parent.as_deref(), name).await? {
            Some(entry) => entry,
            None => match client.drive_mkdir(parent.as_deref(), name, false).await {
                Ok(entry) => entry,
                // Made meanwhile by someone else (another device): use it.
                Err(e) if e.code() == Some(ErrorCode::NameTaken) => client
                    .drive_find(parent.as_deref(), name)
                    .await?
                    .ok_or_else(|| Failure::from(e))?,
                Err(e) => return Err(e.into()),
            },
        };
        if entry.kind != EntryKind::Folder {
            return Err(Failure::Failed(
                "not_a_folder",
                format!("{} is a file, not a folder", clean(&drive_path(&so_far()))),
            ));
        }
        parent = Some(entry.id.clone());
        made = Some(entry);
    }
    made.ok_or_else(|| Failure::Usage("the top of the drive exists already".into()))
}

/// The ids of bin entries named by `items`: ids as they are, names
/// matched exactly against the bin (one entry each).
async fn in_bin(client: &Client, items: &[String]) -> Result<Vec<EntryId>, Failure> {
    let bin = if items.iter().all(|i| is_file_id(i)) {
        Vec::new()
    } else {
        client.drive_bin_all().await?
    };
    items
        .iter()
        .map(|item| {
            if is_file_id(item) {
                return Ok(item.clone());
            }
            let found: Vec<&DriveEntry> = bin.iter().filter(|e| &e.name == item).collect();
            match found.as_slice() {
                [one] => Ok(one.id.clone()),
                [] => Err(Failure::Failed(
                    "unknown_entry",
                    format!("nothing named {:?} in the bin", clean(item)),
                )),
                many => Err(Failure::Failed(
                    "ambiguous",
                    format!(
                        "{} entries named {:?} in the bin; give the id: {}",
                        many.len(),
                        clean(item),
                        many.iter()
                            .map(|e| e.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        })
        .collect()
}

/// A share's id from a link or an id.
fn share_id(arg: &str) -> Result<String, Failure> {
    ShareLink::parse(arg).map(|l| l.share).ok_or_else(|| {
        Failure::Usage(format!(
            "{:?} is neither a share link (http://host/s/ID) nor a share id",
            clean(arg)
        ))
    })
}

// Sharing.

/// A share as printed: the server's answer and the link to give out.
#[derive(Serialize)]
struct ShareShown<'a> {
    #[serde(flatten)]
    share: &'a ShareInfo,
    link: String,
}

/// `shares --json`.
#[derive(Serialize)]
struct ShareList<'a> {
    shares: Vec<ShareShown<'a>>,
}

async fn shares(
    command: &DriveSub,
    base: &str,
    client: &Client,
    printer: &mut Printer<'_>,
) -> Result<(), Failure> {
    match command {
        DriveSub::Share {
            path,
            code,
            expires,
            max_downloads,
        } => {
            let entry = entry_id(client, path).await?;
            let expires_at = expires.map(|d| {
                let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                now_ms().saturating_add(ms)
            });
            let share = client
                .drive_share(DriveShare {
                    entry,
                    code: code.clone(),
                    expires_at,
                    max_downloads: *max_downloads,
                })
                .await?;
            let shown = ShareShown {
                share: &share,
                link: absolute(base, &share.url),
            };
            printer.emit(&shown, || show_share(&shown))
        }
        _ => {
            let all = client.drive_shares_all().await?;
            let list = ShareList {
                shares: all
                    .iter()
                    .map(|share| ShareShown {
                        share,
                        link: absolute(base, &share.url),
                    })
                    .collect(),
            };
            printer.emit(&list, || show_shares(&list.shares))
        }
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// Opening a share without an account.

/// `open --download --json`.
#[derive(Serialize)]
struct SharedDownload {
    path: String,
    size: u64,
}

async fn open(
    link: &str,
    code: &str,
    wanted: Option<&str>,
    output: Option<&Path>,
    http: Option<&str>,
    conn: &ServerArgs,
    printer: &mut Printer<'_>,
) -> Result<(), Failure> {
    let parsed = ShareLink::parse(link).ok_or_else(|| {
        Failure::Usage(format!(
            "{:?} is neither a share link (http://host/s/ID) nor a share id",
            clean(link)
        ))
    })?;
    let base = match (&parsed.base, http) {
        (Some(base), _) => base.clone(),
        (None, http) => resolve_http(http, conn)?,
    };
    let shares = ShareClient::new(&base).map_err(file_failure)?;
    let share = &parsed.share;
    let key = shares.unlock(share, code).await.map_err(file_failure)?.key;
    let first = shares
        .view(share, &key, None, None, None)
        .await
        .map_err(file_failure)?;
    let Some(wanted) = wanted else {
        let view = rest_of_view(&shares, share, &key, None, first).await?;
        return printer.emit(&view, || show_view(&view));
    };

    // Find the file: the shared file itself, or a path inside the folder.
    let names = drive_path_names(wanted);
    let item = match first.root.kind {
        EntryKind::File if names == [first.root.name.as_str()] => first.root.clone(),
        EntryKind::File => {
            return Err(Failure::Failed(
                "unknown_entry",
                format!("the share holds one file, {:?}", clean(&first.root.name)),
            ));
        }
        EntryKind::Folder => {
            // The first page of the shared folder is in hand already.
            let mut first = Some(first);
            let mut folder: Option<EntryId> = None;
            let mut found = None;
            for (i, name) in names.iter().enumerate() {
                let page = match first.take() {
                    Some(page) => page,
                    None => shares
                        .view(share, &key, folder.as_deref(), None, None)
                        .await
                        .map_err(file_failure)?,
                };
                let all = rest_of_view(&shares, share, &key, folder.as_deref(), page).await?;
                let so_far = || clean(&names[..=i].join("/"));
                let item = all
                    .entries
                    .into_iter()
                    .find(|e| e.name == *name)
                    .ok_or_else(|| {
                        Failure::Failed("unknown_entry", format!("no {:?} in the share", so_far()))
                    })?;
                if i + 1 < names.len() {
                    if item.kind != EntryKind::Folder {
                        return Err(Failure::Failed(
                            "not_a_folder",
                            format!("{} is a file", so_far()),
                        ));
                    }
                    folder = Some(item.id.clone());
                }
                found = Some(item);
            }
            found.ok_or_else(|| Failure::Usage("--download needs a file's name".into()))?
        }
    };
    if item.kind != EntryKind::File {
        return Err(Failure::Failed(
            "not_a_file",
            format!("{} is a folder", clean(wanted)),
        ));
    }
    let dest = match output {
        Some(dir) if dir.is_dir() => dir.join(plain_name(&item.name)?),
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(plain_name(&item.name)?),
    };
    if output.is_none() && dest.exists() {
        return Err(Failure::Failed(
            "exists",
            format!(
                "{} already exists; remove it or choose where to write with -o LOCAL",
                dest.display()
            ),
        ));
    }
    let bar = progress_bar("downloading");
    let result = shares
        .download(share, &key, &item.id, &dest, |received, total| {
            bar.set_length(total);
            bar.set_position(received);
        })
        .await;
    bar.finish_and_clear();
    let size = result.map_err(file_failure)?;
    let shown = SharedDownload {
        path: dest.display().to_string(),
        size,
    };
    printer.emit(&shown, || {
        format!("saved {} ({} bytes)", clean(&shown.path), shown.size)
    })
}

/// `view` with the entries of every later page of its folder added.
async fn rest_of_view(
    shares: &ShareClient,
    share: &str,
    key: &str,
    folder: Option<&str>,
    mut view: SharedView,
) -> Result<SharedView, Failure> {
    while let Some(offset) = view.next {
        let page = shares
            .view(share, key, folder, Some(offset), None)
            .await
            .map_err(file_failure)?;
        if page.next.is_some_and(|next| next <= offset) {
            return Err(ClientError::Protocol("the share's pages do not advance".into()).into());
        }
        view.entries.extend(page.entries);
        view.next = page.next;
    }
    Ok(view)
}

// Text output.

/// What `upload --json` prints: the entry, and whether no bytes were sent.
#[derive(Serialize)]
struct Uploaded<'a> {
    #[serde(flatten)]
    entry: &'a DriveEntry,
    instant: bool,
}

fn show_uploaded(entry: &DriveEntry, instant: bool) -> String {
    let mut text = format!(
        "uploaded {} ({}) as {}",
        cell(&entry.name),
        bytes(entry.size),
        entry.id
    );
    if instant {
        text.push_str("; nothing sent: the server already had the content");
    }
    text
}

/// `path` as the user means it: with its leading `/`.
fn drive_path(path: &str) -> String {
    format!("/{}", drive_path_names(path).join("/"))
}

/// A breadcrumb as a path: `/docs/2024`.
fn crumbs(path: &[Crumb]) -> String {
    let names: Vec<&str> = path.iter().map(|c| c.name.as_str()).collect();
    clean(&format!("/{}", names.join("/")))
}

/// How a destination folder argument reads in a message.
fn shown_folder(arg: Option<&str>) -> String {
    match arg {
        None => "/".to_owned(),
        Some(id) if is_file_id(id) => format!("folder {id}"),
        Some(path) => clean(&drive_path(path)),
    }
}

/// `a.txt, b/` (folders with a trailing `/`), or `nothing`.
fn names(entries: &[DriveEntry]) -> String {
    if entries.is_empty() {
        return "nothing".to_owned();
    }
    entries
        .iter()
        .map(entry_label)
        .collect::<Vec<_>>()
        .join(", ")
}

fn entry_label(entry: &DriveEntry) -> String {
    match entry.kind {
        EntryKind::Folder => format!("{}/", clean(&entry.name)),
        EntryKind::File => clean(&entry.name),
    }
}

fn count(n: usize, noun: &str) -> String {
    match (n, noun) {
        (1, noun) => format!("1 {noun}"),
        (n, "entry") => format!("{n} entries"),
        (n, noun) => format!("{n} {noun}s"),
    }
}

fn size_of(entry: &DriveEntry) -> String {
    match entry.kind {
        EntryKind::Folder => "-".to_owned(),
        EntryKind::File => bytes(entry.size),
    }
}

fn show_list(list: &DriveListOk) -> String {
    let mut text = format!("{}\n", crumbs(&list.path));
    if list.entries.is_empty() {
        text.push_str("empty folder\n");
        return text;
    }
    let rows: Vec<Vec<String>> = list
        .entries
        .iter()
        .map(|e| vec![entry_label(e), size_of(e), time(e.updated_at), e.id.clone()])
        .collect();
    text.push_str(&table(&["NAME", "SIZE", "MODIFIED", "ID"], &rows));
    text
}

fn show_entries(entries: &[DriveEntry], none: &str) -> String {
    if entries.is_empty() {
        return format!("{none}\n");
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![entry_label(e), size_of(e), time(e.updated_at), e.id.clone()])
        .collect();
    table(&["NAME", "SIZE", "MODIFIED", "ID"], &rows)
}

fn show_bin(entries: &[DriveEntry]) -> String {
    if entries.is_empty() {
        return "the bin is empty\n".to_owned();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                entry_label(e),
                size_of(e),
                e.trashed_at.map_or_else(|| "-".to_owned(), time),
                e.purge_at.map_or_else(|| "-".to_owned(), time),
                e.id.clone(),
            ]
        })
        .collect();
    table(&["NAME", "SIZE", "DELETED", "PURGED AT", "ID"], &rows)
}

fn show_quota(quota: &Quota) -> String {
    let share = if quota.limit > 0 {
        format!(" ({:.1}%)", quota.used as f64 * 100.0 / quota.limit as f64)
    } else {
        String::new()
    };
    let mut text = format!(
        "{} of {} used{share}",
        bytes(quota.used),
        bytes(quota.limit)
    );
    if quota.reserved > 0 {
        text.push_str(&format!(
            ", {} reserved by unfinished uploads",
            bytes(quota.reserved)
        ));
    }
    text
}

fn expiry(at: Option<i64>) -> String {
    at.map_or_else(|| "never".to_owned(), time)
}

fn show_share(shown: &ShareShown<'_>) -> String {
    let share = shown.share;
    let downloads = match share.max_downloads {
        Some(max) => format!("{} of {max}", share.downloads),
        None => share.downloads.to_string(),
    };
    let rows = [
        ("link", clean(&shown.link)),
        ("code", clean(&share.code)),
        ("entry", cell(&share.name)),
        ("expires", expiry(share.expires_at)),
        ("downloads", downloads),
    ];
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:width$}  {value}\n"))
        .collect()
}

fn show_shares(shares: &[ShareShown<'_>]) -> String {
    if shares.is_empty() {
        return "no share links\n".to_owned();
    }
    let rows: Vec<Vec<String>> = shares
        .iter()
        .map(|s| {
            let share = s.share;
            vec![
                cell(&share.name),
                clean(&share.code),
                share.downloads.to_string(),
                expiry(share.expires_at),
                if share.active { "yes" } else { "no" }.to_owned(),
                clean(&s.link),
            ]
        })
        .collect();
    table(
        &["NAME", "CODE", "DOWNLOADS", "EXPIRES", "ACTIVE", "LINK"],
        &rows,
    )
}

fn show_view(view: &SharedView) -> String {
    let root = &view.root;
    let mut text = format!(
        "{} shared by {}, expires {}\n",
        match root.kind {
            EntryKind::Folder => format!("{}/", clean(&root.name)),
            EntryKind::File => format!("{} ({})", clean(&root.name), bytes(root.size)),
        },
        cell(&view.sharer),
        expiry(view.expires_at)
    );
    if root.kind == EntryKind::Folder {
        if view.entries.is_empty() {
            text.push_str("empty folder\n");
        } else {
            let rows: Vec<Vec<String>> = view
                .entries
                .iter()
                .map(|e| {
                    vec![
                        match e.kind {
                            EntryKind::Folder => format!("{}/", clean(&e.name)),
                            EntryKind::File => clean(&e.name),
                        },
                        match e.kind {
                            EntryKind::Folder => "-".to_owned(),
                            EntryKind::File => bytes(e.size),
                        },
                        time(e.updated_at),
                    ]
                })
                .collect();
            text.push_str(&table(&["NAME", "SIZE", "MODIFIED"], &rows));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1800)));
        for bad in ["", "7", "d", "7x", "0h", "-1d", "99999999999999999999w"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_codes_are_checked_while_parsing() {
        assert!(entry_name("会议纪要.docx").is_ok());
        assert!(entry_name("a/b").is_err());
        assert!(share_code("a1B2").is_ok());
        assert!(share_code("abc").is_err());
        assert_eq!(sort_key("size"), Ok(DriveSortKey::Size));
        assert!(sort_key("date").is_err());
    }

    #[test]
    fn paths_are_shown_from_the_top() {
        assert_eq!(drive_path("docs//2024/"), "/docs/2024");
        assert_eq!(drive_path("/"), "/");
        assert_eq!(count(1, "entry"), "1 entry");
        assert_eq!(count(3, "entry"), "3 entries");
    }
}
