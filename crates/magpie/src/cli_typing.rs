//! The `typing` command of `magpie client`: tell the other members of a
//! conversation that you are typing (or, with `--stop`, that you
//! stopped). Nothing is stored; the notice holds for a few seconds on
//! their screens, so a script that keeps "typing" repeats the command.
//!
//! It prints `told the other members` as text, or with `--json`
//! `{"ok": true}`.

use crate::cli_client::{Failure, Output};
use crate::cli_people::Printer;
use clap::Subcommand;
use magpie_client::Client;
use magpie_proto::ConvId;

/// The typing command, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum TypingCommand {
    /// Show the other members of CONV that you are typing, for a few
    /// seconds (--stop: that you stopped).
    Typing {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        /// You stopped typing.
        #[arg(long)]
        stop: bool,
    },
}

/// Run the typing command on an authenticated client.
pub(crate) async fn perform(
    command: &TypingCommand,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let TypingCommand::Typing { conv, stop } = command;
    client.typing(*conv, !stop).await?;
    let what = if *stop { "stopped typing" } else { "typing" };
    Printer { out, json }.done(format!(
        "told the other members of conversation {conv}: {what}"
    ))
}
