//! The presence and device commands of `magpie client`: how contacts see
//! you (`presence`), and your signed-in devices (`devices`, `device
//! revoke`).
//!
//! Like the people commands (see [`crate::cli_people`]) they print compact
//! text, or with `--json` exactly one JSON document shaped like the
//! server's answer:
//! - `presence`: the presence state as contacts' own devices see it
//!   (`{"user_id", "user", "status", "text"}`);
//! - `devices`: `{"devices": [...]}`, newest first;
//! - `device revoke`: `{"ok": true}`.

use crate::cli_client::{Failure, Output};
use crate::cli_people::{Printer, cell, clean, line, table, time};
use clap::Subcommand;
use magpie_client::Client;
use magpie_proto::limits::PRESENCE_TEXT_MAX;
use magpie_proto::{Device, DevicesOk, PresenceState, Status};

/// The presence and device commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum PresenceCommand {
    /// Choose how your contacts see you: online, away, busy or invisible
    /// (shown to them as offline). The choice is kept for your next
    /// connections; contacts see it while any of your devices is
    /// connected.
    Presence {
        /// online, away, busy or invisible.
        #[arg(value_parser = status)]
        status: Status,
        /// A short status text ("" clears it; omitted keeps the current one).
        #[arg(long, value_name = "TEXT", value_parser = presence_text)]
        text: Option<String>,
    },
    /// List your signed-in devices, newest first.
    Devices,
    /// Manage one of your signed-in devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// Sign the device ID (from `devices`) out everywhere: its token stops
    /// working and its connections close.
    Revoke {
        #[arg(value_name = "ID", value_parser = device_id)]
        id: String,
    },
}

fn status(value: &str) -> Result<Status, String> {
    match value {
        "online" => Ok(Status::Online),
        "away" => Ok(Status::Away),
        "busy" => Ok(Status::Busy),
        "invisible" => Ok(Status::Invisible),
        _ => Err("status must be online, away, busy or invisible".to_owned()),
    }
}

fn presence_text(value: &str) -> Result<String, String> {
    line("status text", value, PRESENCE_TEXT_MAX)
}

fn device_id(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("a device id is needed (see `devices`)".to_owned());
    }
    // Ids are short tokens; anything long or with control characters is a
    // mistake, not an id.
    line("device id", value, 128)
}

/// The wire name of a status.
pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Online => "online",
        Status::Away => "away",
        Status::Busy => "busy",
        Status::Invisible => "invisible",
        Status::Offline => "offline",
    }
}

/// Run a presence or device command on an authenticated client.
pub(crate) async fn perform(
    command: &PresenceCommand,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let mut print = Printer { out, json };
    match command {
        PresenceCommand::Presence { status, text } => {
            let state = client.set_presence(*status, text.as_deref()).await?;
            print.emit(&state, || show_presence(&state))
        }
        PresenceCommand::Devices => {
            let list = DevicesOk {
                devices: client.devices().await?,
            };
            print.emit(&list, || show_devices(&list.devices))
        }
        PresenceCommand::Device {
            command: DeviceCommand::Revoke { id },
        } => {
            client.device_revoke(id).await?;
            print.done(format!("signed device {} out", clean(id)))
        }
    }
}

fn show_presence(state: &PresenceState) -> String {
    let status = status_name(state.status);
    if state.text.is_empty() {
        format!("{} is {status}", clean(&state.user))
    } else {
        format!("{} is {status}: {}", clean(&state.user), clean(&state.text))
    }
}

fn show_devices(devices: &[Device]) -> String {
    if devices.is_empty() {
        return "no signed-in devices".to_owned();
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                cell(&d.id),
                cell(&d.name),
                d.platform.as_str().to_owned(),
                yes_no(d.online),
                if d.current { "*" } else { "" }.to_owned(),
                time(d.last_seen),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "PLATFORM", "ONLINE", "CURRENT", "LAST SEEN"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use magpie_proto::Platform;

    #[test]
    fn statuses_parse_by_their_wire_names() {
        for s in ["online", "away", "busy", "invisible"] {
            assert_eq!(status(s).map(status_name), Ok(s));
        }
        assert!(status("offline").is_err(), "disconnecting is for that");
        assert!(presence_text(&"x".repeat(PRESENCE_TEXT_MAX + 1)).is_err());
        assert!(device_id(" ").is_err());
    }

    #[test]
    fn devices_print_as_a_table() {
        let device = |id: &str, current: bool| Device {
            id: id.to_owned(),
            name: String::new(),
            platform: Platform::Cli,
            created_at: 1,
            last_seen: 1_700_000_000_000,
            online: current,
            current,
        };
        let text = show_devices(&[device("d1", true), device("d2", false)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID  NAME  PLATFORM  ONLINE  CURRENT  LAST SEEN");
        assert_eq!(
            lines[1],
            "d1  -     cli       yes     *        2023-11-14 22:13"
        );
        assert_eq!(
            lines[2],
            "d2  -     cli       no               2023-11-14 22:13"
        );
        assert_eq!(show_devices(&[]), "no signed-in devices");
    }
}
