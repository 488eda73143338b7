//! The amend commands of `magpie client`: `recall`, `edit`, `react`,
//! `reply` and `forward`. Like `send`, each prints the server's answer as
//! one JSON line: `recall`, `edit` and `react` the amending entry written
//! (`{"entry": {...}}`; `{}` for a reaction that changed nothing), `reply`
//! the send acknowledgement, `forward` `{"messages": [...]}`.

use crate::cli_client::{Failure, Output};
use clap::Subcommand;
use magpie_client::Client;
use magpie_proto::{ConvId, Forward, Seq};

/// The amend commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum AmendCommand {
    /// Recall message SEQ of conversation CONV for everyone: your own
    /// within the server's recall window, or (a group's owner or admin) a
    /// member's at any time.
    Recall {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        #[arg(value_name = "SEQ")]
        seq: Seq,
    },
    /// Replace the text of your message SEQ in CONV (within the edit
    /// window).
    Edit {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        #[arg(value_name = "SEQ")]
        seq: Seq,
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// React to message SEQ of CONV with EMOJI, or take it back with
    /// --remove.
    React {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        #[arg(value_name = "SEQ")]
        seq: Seq,
        #[arg(value_name = "EMOJI")]
        emoji: String,
        /// Take the reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// Send TEXT into CONV as a reply quoting its message SEQ.
    Reply {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        #[arg(value_name = "SEQ")]
        seq: Seq,
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// Forward messages SEQ... of CONV to conversations (--to-conv) and
    /// users (--to), one by one or merged into one chat record (--merge).
    Forward {
        #[arg(value_name = "CONV")]
        conv: ConvId,
        #[arg(value_name = "SEQ", required = true, num_args = 1..)]
        seqs: Vec<Seq>,
        /// A destination conversation or group; repeat for several.
        #[arg(long = "to-conv", value_name = "ID")]
        to_convs: Vec<ConvId>,
        /// A destination user (their 1:1 conversation); repeat for several.
        #[arg(long = "to", value_name = "USER")]
        to_users: Vec<String>,
        /// Send one chat-record message instead of one message each.
        #[arg(long)]
        merge: bool,
        /// The forward's client id, to retry it safely (default: random).
        #[arg(long, value_name = "ID")]
        cmid: Option<String>,
    },
}

/// Run an amend command on an authenticated client.
pub async fn perform(
    command: &AmendCommand,
    client: &mut Client,
    out: &mut Output,
) -> Result<(), Failure> {
    match command {
        AmendCommand::Recall { conv, seq } => out.line(&client.recall(*conv, *seq).await?),
        AmendCommand::Edit { conv, seq, text } => out.line(&client.edit(*conv, *seq, text).await?),
        AmendCommand::React {
            conv,
            seq,
            emoji,
            remove,
        } => out.line(&client.react(*conv, *seq, emoji, *remove).await?),
        AmendCommand::Reply { conv, seq, text } => {
            out.line(&client.reply(*conv, *seq, text).await?)
        }
        AmendCommand::Forward {
            conv,
            seqs,
            to_convs,
            to_users,
            merge,
            cmid,
        } => {
            if to_convs.is_empty() && to_users.is_empty() {
                return Err(Failure::Usage(
                    "forward needs a destination: --to USER or --to-conv ID".into(),
                ));
            }
            let forward = Forward {
                conv: *conv,
                seqs: seqs.clone(),
                to_convs: to_convs.clone(),
                to_users: to_users.clone(),
                merge: *merge,
                cmid: cmid
                    .clone()
                    .unwrap_or_else(magpie_client::amend::fresh_cmid),
            };
            out.line(&client.forward(forward).await?)
        }
    }
}
