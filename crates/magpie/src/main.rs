//! `magpie`: one binary for the server, the command-line client and the
//! load generator.

mod cli_admin;
mod cli_amend;
mod cli_client;
mod cli_conv_settings;
mod cli_directory;
mod cli_drive;
mod cli_files;
mod cli_groups;
mod cli_people;
mod cli_presence;
mod cli_search;
mod cli_typing;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "magpie",
    version,
    about = "Magpie instant messaging: server and clients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (embedded SQLite under --data-dir, or a shared
    /// database and Redis in cluster mode).
    Serve(Box<serve::ServeArgs>),
    /// Scriptable command-line client.
    Client(cli_client::ClientArgs),
    /// Administration: accounts and departments on a running server, and
    /// `bootstrap` to make the first administrator in the database.
    Admin(cli_admin::AdminArgs),
    /// Load generator: connect, direct, fanout, sync (and group, once groups exist).
    Bench(magpie_bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(args) => {
            let (config, log) = match (*args).resolve() {
                Ok(resolved) => resolved,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            init_logging(&log);
            match runtime.block_on(serve::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bench(args) => {
            let json = args.json;
            match runtime.block_on(magpie_bench::run(args)) {
                Ok(report) if json => {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                    bench_exit(&report)
                }
                Ok(report) => {
                    print!("{}", report.render());
                    bench_exit(&report)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Admin(args) => runtime.block_on(cli_admin::run(args)),
        Command::Client(args) => match runtime.block_on(cli_client::run(args)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A benchmark that lost or duplicated a message failed, whatever its speed.
fn bench_exit(report: &magpie_bench::Report) -> ExitCode {
    if report.lost > 0 || report.duplicates > 0 {
        eprintln!(
            "error: {} lost, {} duplicated",
            report.lost, report.duplicates
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
