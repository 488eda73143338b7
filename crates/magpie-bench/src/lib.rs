//! `magpie bench`: Magpie's load generator.
//!
//! Built on the client library, so it measures what real clients get, and
//! written in Rust so that it is not the bottleneck. Every scenario is
//! open-loop where it sends (messages leave at the target rate whether or
//! not earlier ones were answered, so a slow server shows up as latency,
//! not as a politely lowered rate), verifies that every acked message
//! arrived exactly once, and can read the server's CPU time and memory
//! from `/proc` when given its PID.
//!
//! Scenarios, one module each: [`connect`], [`direct`] (also against an
//! MQTT broker as a peer baseline, see [`mqtt`]), [`fanout`] (one user on
//! many devices: the stand-in for groups before they existed, kept as the
//! baseline a group is compared with), [`group`] (one large group, some
//! of its members online), [`sync`].

pub mod connect;
pub mod direct;
pub mod fanout;
pub mod fleet;
pub mod group;
pub mod mqtt;
pub mod procstat;
pub mod report;
pub mod sync;

use clap::{Args, Subcommand};
pub use report::Report;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Client(#[from] magpie_client::ClientError),
    #[error("mqtt: {0}")]
    Mqtt(String),
    #[error("{0}")]
    Setup(String),
}

/// `magpie bench ...`
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Server to load: tcp://host:port or ws://host:port/ws. Repeat to
    /// spread clients over several nodes (or give the nginx front once).
    #[arg(long = "server", default_value = "tcp://127.0.0.1:7070", global = true)]
    pub servers: Vec<String>,
    /// The server's PID, to report its CPU time and memory (same machine).
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Print the report as one JSON object instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// The scenarios.
#[derive(Subcommand, Debug)]
pub enum Scenario {
    /// Ramp up authenticated idle connections and hold them.
    Connect(connect::ConnectArgs),
    /// 1:1 messages between pairs of online users at a constant rate.
    Direct(direct::DirectArgs),
    /// One sender, one recipient online on many devices.
    Fanout(fanout::FanoutArgs),
    /// Users who missed messages reconnect and catch up.
    Sync(sync::SyncArgs),
    /// Messages into one large group, some of its members online.
    Group(group::GroupArgs),
}

pub use group::GroupArgs;

/// Run the chosen scenario.
pub async fn run(args: BenchArgs) -> Result<Report, BenchError> {
    let common = Common {
        servers: args.servers,
        server_pid: args.server_pid,
        progress: !args.quiet && !args.json,
    };
    if common.servers.is_empty() {
        return Err(BenchError::Setup("give at least one --server".into()));
    }
    match args.scenario {
        Scenario::Connect(a) => connect::run(&common, a).await,
        Scenario::Direct(a) => direct::run(&common, a).await,
        Scenario::Fanout(a) => fanout::run(&common, a).await,
        Scenario::Sync(a) => sync::run(&common, a).await,
        Scenario::Group(a) => group::run(&common, a).await,
    }
}

/// Settings every scenario shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub servers: Vec<String>,
    pub server_pid: Option<u32>,
    pub progress: bool,
}

impl Common {
    /// The server for the `i`th client (round robin over `--server`).
    pub fn server(&self, i: usize) -> &str {
        &self.servers[i % self.servers.len()]
    }
}
