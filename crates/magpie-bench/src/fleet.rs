//! Setting up the simulated users: accounts, tokens, and connections
//! spread over many loopback source addresses.

use crate::{BenchError, Common};
use magpie_client::{Client, ClientOptions};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// A simulated user: name and a session token to resume with.
#[derive(Debug, Clone)]
pub struct BenchUser {
    pub name: String,
    pub token: String,
}

pub const PASSWORD: &str = "magpie-bench-password";

/// A prefix unique to this run, so runs never collide in one database.
pub fn run_prefix(scenario: &str) -> String {
    let n: u32 = rand::random();
    format!("b{}{n:08x}", &scenario[..1])
}

/// Register and log in `count` users, a few at a time (each costs the
/// server two Argon2 hashes, by design).
pub async fn create_users(
    common: &Common,
    prefix: &str,
    count: usize,
) -> Result<Vec<BenchUser>, BenchError> {
    let limit = Arc::new(Semaphore::new(8));
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let (url, name, limit) = (
            common.server(i).to_string(),
            format!("{prefix}_{i}"),
            limit.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let client = Client::connect(&url).await?;
            client.register(&name, PASSWORD).await?;
            let auth = client.login(&name, PASSWORD, Some("bench")).await?;
            client.close().await;
            let token = auth
                .token
                .ok_or_else(|| BenchError::Setup("login returned no token".into()))?;
            Ok::<_, BenchError>(BenchUser { name, token })
        }));
    }
    let mut users = Vec::with_capacity(count);
    for task in tasks {
        users.push(task.await.map_err(|e| BenchError::Setup(e.to_string()))??);
    }
    Ok(users)
}

/// Register accounts named `names` without logging them in: one Argon2
/// hash each instead of [`create_users`]' two, over a few reused
/// connections (one per worker, not one per account). For members of a
/// large group that only need to exist; those that come online log in
/// with [`login_as`]. `done` is called after each account.
pub async fn register_only(
    common: &Common,
    names: &[String],
    done: impl Fn() + Send + Sync + 'static,
) -> Result<(), BenchError> {
    const WORKERS: usize = 8;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let names: Arc<[String]> = names.into();
    let done = Arc::new(done);
    let mut tasks = Vec::with_capacity(WORKERS);
    for w in 0..WORKERS.min(names.len()) {
        let (url, next, names, done) = (
            common.server(w).to_string(),
            next.clone(),
            names.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&url).await?;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                let mut tries = 0;
                loop {
                    match client.register(name, PASSWORD).await {
                        Ok(_) => break,
                        Err(e) if e.is_retryable() && tries < 20 => {
                            tries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            if client.is_closed() {
                                client = Client::connect(&url).await?;
                            }
                        }
                        Err(e) => return Err(BenchError::from(e)),
                    }
                }
                done();
            }
            client.close().await;
            Ok::<_, BenchError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| BenchError::Setup(e.to_string()))??;
    }
    Ok(())
}

/// Connect and log in as `name` (the [`PASSWORD`] account), keeping the
/// connection: one Argon2 verification, and no second connection to
/// resume on.
pub async fn login_as(
    url: &str,
    name: &str,
    bind_ip: Option<IpAddr>,
) -> Result<Client, BenchError> {
    let options = ClientOptions {
        bind_ip,
        ..ClientOptions::default()
    };
    let mut tries = 0;
    loop {
        let client = Client::connect_with(url, options.clone()).await?;
        match client.login(name, PASSWORD, Some("bench")).await {
            Ok(_) => return Ok(client),
            Err(e) if e.is_retryable() && tries < 20 => {
                tries += 1;
                client.close().await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The `i`th source address: 127.0.0.2 + i mod `spread`, so that no single
/// address runs out of its ~28k ephemeral ports.
pub fn source_ip(i: usize, spread: usize) -> IpAddr {
    let n = (i % spread.max(1)) as u32 + 2;
    IpAddr::V4(Ipv4Addr::from(0x7f00_0000 + n))
}

/// Connect and resume `user`'s session.
pub async fn connect_as(
    url: &str,
    user: &BenchUser,
    bind_ip: Option<IpAddr>,
) -> Result<Client, BenchError> {
    let options = ClientOptions {
        bind_ip,
        ..ClientOptions::default()
    };
    let client = Client::connect_with(url, options).await?;
    client.resume(&user.token).await?;
    Ok(client)
}

/// Raise this process's open-file limit as far as allowed; returns it.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Whether the URL is a loopback TCP/WS target (source spreading only
/// makes sense there).
pub fn is_loopback(url: &str) -> bool {
    url.contains("://127.") || url.contains("://localhost")
}
