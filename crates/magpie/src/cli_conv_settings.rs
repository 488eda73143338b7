//! The per-conversation settings commands of `magpie client`: `pin`,
//! `mute`, `hide`, `mark-unread`, `draft` and `settings`. Each changes (or
//! shows) the caller's own settings of one conversation, the same on all
//! their devices.
//!
//! Like the people commands (see [`crate::cli_people`]) they print compact
//! text, or with `--json` exactly one JSON document: the conversation's
//! settings after the change (`{"conv", "pinned", "muted_until",
//! "marked_unread", "hidden_seq", "draft"}`), and for `settings`
//! `{"settings": [...]}`, every conversation whose settings are not the
//! defaults. Each change has an `--off` (for `draft`, `--clear`) that
//! undoes it.

use crate::cli_client::{Failure, Output};
use crate::cli_people::{Printer, clean, time};
use clap::Subcommand;
use magpie_client::Client;
use magpie_proto::{ConvId, ConvSet, ConvSettings, ConvSettingsOk, MUTED_FOREVER};
use std::time::{SystemTime, UNIX_EPOCH};

/// The settings commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum ConvSettingsCommand {
    /// Pin conversation CONV above the others in your list, on all your
    /// devices (--off unpins it).
    Pin {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        /// Unpin instead.
        #[arg(long)]
        off: bool,
    },
    /// Mute notifications of CONV until you unmute it, or for a while
    /// (--for, --until); --off unmutes. Messages still arrive.
    Mute {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        /// Mute for this many seconds from now.
        #[arg(long = "for", value_name = "SECONDS", conflicts_with_all = ["until", "off"])]
        for_secs: Option<u64>,
        /// Mute until this time, in ms since the epoch.
        #[arg(long, value_name = "MS", conflicts_with = "off",
              value_parser = clap::value_parser!(i64).range(1..))]
        until: Option<i64>,
        /// Unmute instead.
        #[arg(long)]
        off: bool,
    },
    /// Hide CONV from your list (on all your devices) until a new message
    /// arrives; nothing is deleted. --off shows it again.
    Hide {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        /// Show it again instead.
        #[arg(long)]
        off: bool,
    },
    /// Mark CONV unread on all your devices; reading it clears the mark,
    /// and so does --off.
    MarkUnread {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        /// Clear the mark instead.
        #[arg(long)]
        off: bool,
    },
    /// Save TEXT as your draft of CONV, for all your devices; --clear
    /// removes it; with neither, print it.
    Draft {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        #[arg(value_name = "TEXT", conflicts_with = "clear")]
        text: Option<String>,
        /// Remove the draft.
        #[arg(long)]
        clear: bool,
    },
    /// List your conversations whose settings are not the defaults
    /// (hidden ones included).
    Settings,
}

/// Run a settings command on an authenticated client.
pub(crate) async fn perform(
    command: &ConvSettingsCommand,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let mut print = Printer { out, json };
    let set = |conv| ConvSet {
        conv,
        ..ConvSet::default()
    };
    let request = match command {
        ConvSettingsCommand::Pin { conv, off } => ConvSet {
            pinned: Some(!off),
            ..set(*conv)
        },
        ConvSettingsCommand::Mute {
            conv,
            for_secs,
            until,
            off,
        } => {
            let until = match (off, for_secs, until) {
                (true, _, _) => 0,
                (false, Some(secs), _) => {
                    let ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                    now_ms().saturating_add(ms)
                }
                (false, None, Some(at)) => *at,
                (false, None, None) => MUTED_FOREVER,
            };
            ConvSet {
                muted_until: Some(until),
                ..set(*conv)
            }
        }
        ConvSettingsCommand::Hide { conv, off } => ConvSet {
            hidden: Some(!off),
            ..set(*conv)
        },
        ConvSettingsCommand::MarkUnread { conv, off } => ConvSet {
            marked_unread: Some(!off),
            ..set(*conv)
        },
        ConvSettingsCommand::Draft {
            conv,
            text: None,
            clear: false,
        } => {
            let all = client.conv_settings().await?;
            let settings = all
                .into_iter()
                .find(|s| s.conv == *conv)
                .unwrap_or_else(|| ConvSettings::defaults(*conv));
            return print.emit(&settings, || show_draft(&settings));
        }
        ConvSettingsCommand::Draft { conv, text, .. } => ConvSet {
            draft: Some(text.clone().unwrap_or_default()),
            ..set(*conv)
        },
        ConvSettingsCommand::Settings => {
            let list = ConvSettingsOk {
                settings: client.conv_settings().await?,
                next: None,
            };
            return print.emit(&list, || show_list(&list.settings));
        }
    };
    let settings = client.conv_set(request).await?;
    print.emit(&settings, || show(&settings))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One conversation's settings as a line of text.
pub(crate) fn show(s: &ConvSettings) -> String {
    let mut parts = Vec::new();
    if s.pinned {
        parts.push("pinned".to_owned());
    }
    match s.muted_until {
        0 => {}
        MUTED_FOREVER => parts.push("muted".to_owned()),
        until => parts.push(format!("muted until {}", time(until))),
    }
    if s.marked_unread {
        parts.push("marked unread".to_owned());
    }
    if s.hidden_seq > 0 {
        parts.push(format!("hidden up to #{}", s.hidden_seq));
    }
    if !s.draft.is_empty() {
        parts.push(format!("draft {:?}", clean(&s.draft)));
    }
    if parts.is_empty() {
        parts.push("no settings".to_owned());
    }
    format!("conversation {}: {}", s.conv, parts.join(", "))
}

fn show_draft(s: &ConvSettings) -> String {
    if s.draft.is_empty() {
        format!("conversation {}: no draft", s.conv)
    } else {
        s.draft.clone()
    }
}

fn show_list(list: &[ConvSettings]) -> String {
    if list.is_empty() {
        return "no conversation has settings".to_owned();
    }
    list.iter().map(show).collect::<Vec<_>>().join("\n")
}
