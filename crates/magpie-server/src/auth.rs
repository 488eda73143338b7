//! Accounts and login sessions.
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults: 19 MiB,
//! 2 passes) on a few dedicated threads ([`Hasher`]), never on the runtime
//! threads. A fixed pool, not tokio's blocking pool: each hash needs 19 MiB,
//! so unbounded concurrency would let a login flood take gigabytes, and
//! glibc keeps an arena per thread that touched such memory. The queue in
//! front of them is short (`hash_queue`) and full means `overloaded` at
//! once: a long queue would only make every user's login wait behind a
//! flood. Tokens are
//! 32 random bytes; only their SHA-256 is stored, so the database alone
//! cannot log anyone in, and revocation is deleting one row.
//!
//! Unknown users and wrong passwords must be indistinguishable, in the error
//! and in timing: a login for an unknown user still verifies a password
//! against a dummy hash.

use crate::clock::now_ms;
use crate::error::{from_store, invalid_args};
use crate::metrics::RefusalLabel;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use magpie_proto::limits::{DEVICE_MAX, PASSWORD_MAX, PASSWORD_MIN, normalize_username};
use magpie_proto::{AccountState, ErrorBody, ErrorCode, Platform, UserId};
use magpie_store::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// A successful login or resume.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user_id: UserId,
    pub username: String,
    /// The new token (login only).
    pub token: Option<String>,
    pub token_hash: [u8; 32],
    pub expires_at: i64,
}

/// A job for the hashing threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// A fixed pool of threads for Argon2. Requests queue when all threads are
/// busy, up to a small bound; beyond it they are refused with `overloaded`
/// instead of waiting, which is the back-pressure a login flood deserves.
#[derive(Debug, Clone)]
pub struct Hasher {
    jobs: tokio::sync::mpsc::Sender<HashJob>,
    threads: usize,
    refusals: Family<RefusalLabel, Counter>,
}

/// How long a client refused for a full hashing queue is told to wait.
const HASH_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Queue length of [`Hasher::new`].
pub const DEFAULT_HASH_QUEUE: usize = 64;

impl Hasher {
    /// One thread per core, at most four, behind the default queue.
    pub fn new() -> Hasher {
        Hasher::with_queue(DEFAULT_HASH_QUEUE, Family::default())
    }

    /// At most `queue` jobs wait for a thread; refusals are counted in
    /// `refusals` under `hash_queue`.
    pub fn with_queue(queue: usize, refusals: Family<RefusalLabel, Counter>) -> Hasher {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let (jobs, queue) = tokio::sync::mpsc::channel::<HashJob>(queue.max(1));
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("magpie-argon2-{i}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only while waiting for the next job.
                        let job = queue
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .blocking_recv();
                        match job {
                            Some(job) => job(),
                            None => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Hasher {
            jobs,
            threads,
            refusals,
        }
    }

    /// How many hashing threads there are.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run `work` on a hashing thread, or answer `overloaded` at once if
    /// the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ErrorBody> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => {
                self.refusals
                    .get_or_create(&RefusalLabel {
                        reason: "hash_queue",
                    })
                    .inc();
                ErrorBody::new(ErrorCode::Overloaded, "too many logins in progress; retry")
                    .retry_after(HASH_RETRY_AFTER)
            }
            tokio::sync::mpsc::error::TrySendError::Closed(_) => {
                internal("password hashing pool stopped", &"closed")
            }
        })?;
        result
            .await
            .map_err(|e| internal("password hashing job lost", &e))
    }

    async fn hash(&self, password: Vec<u8>) -> Result<String, ErrorBody> {
        self.run(move || argon2_hash(&password)).await?
    }

    async fn verify(&self, password: Vec<u8>, hash: String) -> Result<bool, ErrorBody> {
        self.run(move || {
            Argon2::default()
                .verify_password(&password, hash.as_str())
                .is_ok()
        })
        .await
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

/// The account service.
#[derive(Debug)]
pub struct Auth {
    store: Arc<dyn Store>,
    token_ttl: Duration,
    /// Live tokens kept per user (0: no cap).
    max_tokens_per_user: u32,
    hasher: Hasher,
    /// Verified against when the user does not exist, to equalise timing.
    dummy_hash: String,
    /// `register` is open (public mode).
    registration_open: bool,
}

impl Auth {
    pub async fn new(
        store: Arc<dyn Store>,
        token_ttl: Duration,
        hash_queue: usize,
        max_tokens_per_user: usize,
        refusals: Family<RefusalLabel, Counter>,
        registration_open: bool,
    ) -> Result<Auth, ErrorBody> {
        let hasher = Hasher::with_queue(hash_queue, refusals);
        let random: [u8; 16] = rand::random();
        let dummy_hash = hasher.hash(random.to_vec()).await?;
        Ok(Auth {
            store,
            token_ttl,
            max_tokens_per_user: u32::try_from(max_tokens_per_user).unwrap_or(u32::MAX),
            hasher,
            dummy_hash,
            registration_open,
        })
    }

    /// Check a new password against the rules and hash it.
    pub async fn hash_new_password(&self, password: &str) -> Result<String, ErrorBody> {
        check_new_password(password)?;
        self.hasher.hash(password.as_bytes().to_vec()).await
    }

    /// `account_disabled` unless the account may sign in.
    async fn require_active(&self, user: UserId) -> Result<(), ErrorBody> {
        match self.store.standing(user).await.map_err(from_store)? {
            Some((_, AccountState::Active)) => Ok(()),
            _ => Err(ErrorBody::new(
                ErrorCode::AccountDisabled,
                "this account is disabled",
            )),
        }
    }

    /// The password hashing pool.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Create an account.
    pub async fn register(
        &self,
        user: &str,
        password: &str,
    ) -> Result<(UserId, String), ErrorBody> {
        if !self.registration_open {
            return Err(ErrorBody::new(
                ErrorCode::RegistrationClosed,
                "accounts on this server are created by its administrators",
            ));
        }
        let username = normalize_username(user).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::InvalidUsername,
                "usernames are 3-32 characters of a-z, 0-9, '_', '.', '-'",
            )
        })?;
        let hash = self.hash_new_password(password).await?;
        let id = self
            .store
            .create_user(&username, &hash, now_ms())
            .await
            .map_err(from_store)?;
        Ok((id, username))
    }

    /// Check a password and open a session with a new token.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        device: Option<&str>,
        platform: Platform,
    ) -> Result<LoggedIn, ErrorBody> {
        let device = device.unwrap_or("");
        if device.len() > DEVICE_MAX || device.contains('\0') {
            return Err(invalid_args(format!(
                "device names are at most {DEVICE_MAX} bytes, without U+0000"
            )));
        }
        if password.len() > PASSWORD_MAX {
            return Err(invalid_credentials());
        }
        let record = match normalize_username(user) {
            Some(name) => self.store.user_by_name(&name).await.map_err(from_store)?,
            None => None,
        };
        let hash = record
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |r| r.password_hash.clone());
        let matches = self
            .hasher
            .verify(password.as_bytes().to_vec(), hash)
            .await?;
        let Some(record) = record.filter(|_| matches) else {
            return Err(invalid_credentials());
        };
        self.require_active(record.id).await?;
        let token = new_token();
        let token_hash = hash_token(&token);
        let now = now_ms();
        let ttl = i64::try_from(self.token_ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(ttl);
        self.store
            .create_device_token(&token_hash, record.id, device, platform, now, expires_at)
            .await
            .map_err(from_store)?;
        // Cap the user's tokens: the oldest beyond the cap are revoked (their
        // connections close at the next token check on every node), so a
        // script that logs in in a loop cannot grow the table without
        // bound, and the newest login always works. A failure leaves the
        // cap exceeded until the next login; the login itself stands.
        if self.max_tokens_per_user > 0
            && let Err(e) = self
                .store
                .trim_tokens(record.id, self.max_tokens_per_user)
                .await
        {
            tracing::warn!(error = %e, "trimming a user's tokens failed");
        }
        Ok(LoggedIn {
            user_id: record.id,
            username: record.username,
            token: Some(token),
            token_hash,
            expires_at,
        })
    }

    /// Open a session with an existing token.
    pub async fn resume(&self, token: &str) -> Result<LoggedIn, ErrorBody> {
        let token_hash = hash_token(token);
        let record = self
            .store
            .token(&token_hash, now_ms())
            .await
            .map_err(from_store)?
            .ok_or_else(|| {
                ErrorBody::new(ErrorCode::InvalidToken, "token unknown, expired or revoked")
            })?;
        self.require_active(record.user_id).await?;
        Ok(LoggedIn {
            user_id: record.user_id,
            username: record.username,
            token: None,
            token_hash,
            expires_at: record.expires_at,
        })
    }

    /// Revoke the session's token.
    pub async fn logout(&self, token_hash: &[u8; 32]) -> Result<(), ErrorBody> {
        self.store
            .revoke_token(token_hash)
            .await
            .map_err(from_store)
    }
}

fn invalid_credentials() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::InvalidCredentials,
        "unknown user or wrong password",
    )
}

/// The PHC string of `password` under the server's Argon2id settings.
fn argon2_hash(password: &[u8]) -> Result<String, ErrorBody> {
    Argon2::default()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| internal("password hashing failed", &e))
}

/// Check a new password against the rules and hash it, on the calling
/// thread (it takes tens of milliseconds): for tools outside the server
/// (`magpie admin bootstrap`); the server itself hashes on its pool.
pub fn hash_password(password: &str) -> Result<String, ErrorBody> {
    check_new_password(password)?;
    argon2_hash(password.as_bytes())
}

/// `invalid_password` unless `password` follows the rules.
fn check_new_password(password: &str) -> Result<(), ErrorBody> {
    if (PASSWORD_MIN..=PASSWORD_MAX).contains(&password.len()) {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::InvalidPassword,
            format!("passwords are {PASSWORD_MIN}-{PASSWORD_MAX} bytes"),
        ))
    }
}

/// A fresh password for an account created or reset without one: 16
/// characters of base64url from the OS-seeded CSPRNG (96 bits).
pub fn generated_password() -> String {
    let bytes: [u8; 12] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh token: 32 bytes from the OS-seeded CSPRNG, base64url.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are looked up by their SHA-256. Tokens carry 256 bits of entropy,
/// so a fast hash is enough (unlike passwords), and an index lookup on the
/// hash leaks nothing useful about the token through timing.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> ErrorBody {
    tracing::error!(error = %e, "{what}");
    ErrorBody::new(ErrorCode::Internal, "internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[tokio::test]
    async fn password_hash_is_argon2id_and_verifies() {
        let hasher = Hasher::new();
        let hash = hasher.hash(b"correct horse".to_vec()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let verify = |password: &[u8]| hasher.verify(password.to_vec(), hash.clone());
        assert!(verify(b"correct horse").await.expect("verify"));
        assert!(!verify(b"wrong horse").await.expect("verify"));
    }

    #[tokio::test]
    async fn a_full_queue_answers_overloaded_at_once() {
        let hasher = Hasher::with_queue(2, Family::default());
        // Occupy every thread with a job that waits for a release.
        let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(std::sync::Mutex::new(released));
        let mut blockers = Vec::new();
        let block =
            |hasher: &Hasher, started_tx: Option<tokio::sync::mpsc::UnboundedSender<()>>| {
                let (hasher, released) = (hasher.clone(), released.clone());
                tokio::spawn(async move {
                    hasher
                        .run(move || {
                            if let Some(tx) = started_tx {
                                let _ = tx.send(());
                            }
                            let _ = released.lock().map(|r| r.recv());
                        })
                        .await
                })
            };
        for _ in 0..hasher.threads() {
            blockers.push(block(&hasher, Some(started_tx.clone())));
        }
        for _ in 0..hasher.threads() {
            started.recv().await.expect("a thread took a job");
        }
        // Fill the queue behind them; nobody can take these yet.
        for _ in 0..2 {
            blockers.push(block(&hasher, None));
        }
        // The queue is full once both queued jobs were accepted.
        while hasher.jobs.capacity() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.hash(b"one too many".to_vec()).await;
        assert_eq!(refused.expect_err("refused").code, ErrorCode::Overloaded);
        for _ in 0..blockers.len() {
            release.send(()).expect("release");
        }
        for b in blockers {
            b.await.expect("join").expect("ran");
        }
        assert!(hasher.hash(b"now it fits".to_vec()).await.is_ok());
    }

    #[tokio::test]
    async fn many_concurrent_hashes_all_complete() {
        // More jobs than threads: they queue, none is lost.
        let hasher = Hasher::new();
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(format!("password {i}").into_bytes()).await })
            })
            .collect();
        for job in jobs {
            assert!(
                job.await
                    .expect("join")
                    .expect("hash")
                    .starts_with("$argon2id$")
            );
        }
    }
}
