//! Throttling and session limits: how much one address, one account or one
//! user may take from a node, and how long a session may outlive its right
//! to exist.
//!
//! - **Connections** are counted at accept, in total and per client address
//!   ([`Throttle::admit_connection`]); the [`Peer`] it returns holds the
//!   count until the connection ends.
//! - **Authentication attempts** (`register`, `login`, `resume`) are rate
//!   limited per client address, and `login` per account name, before any
//!   password is hashed ([`Throttle::check_request`]).
//! - **Authenticated connections** per user are capped at login/resume
//!   ([`Throttle::admit_session`]); the [`SessionTicket`] it returns also
//!   registers the session's token for the revocation sweep.
//! - **Sends** are rate limited per user ([`Throttle::check_send`]), and
//!   so are typing notices ([`Throttle::check_typing`]).
//! - **Tokens** per user are capped at login (`auth`, with
//!   `Store::trim_tokens`): the oldest beyond the cap are revoked.
//! - **Tokens** are re-checked against the store by one sweep per node
//!   ([`revalidate_tokens`]), so a revoked token's sessions close on every
//!   node even when the cluster bus lost the logout kick.
//!
//! Rate limits are GCRA (`governor`): a bucket of `burst` cells refilled at
//! the configured rate, no background task per key. Keyed state is pruned
//! by [`housekeeping`], so keys that went quiet cost nothing for long.

use crate::clock::now_ms;
use crate::metrics::RefusalLabel;
use crate::router::{Kick, KickReason, SessionId};
use crate::state::AppState;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use magpie_proto::limits::normalize_username;
use magpie_proto::{ErrorBody, ErrorCode, Request, UserId};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A rate: `count` events per `per`, with bursts of up to `burst`.
/// `count == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
    pub burst: u32,
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit {
        count: 0,
        per: Duration::from_secs(1),
        burst: 0,
    };

    pub const fn per_second(count: u32, burst: u32) -> RateLimit {
        RateLimit {
            count,
            per: Duration::from_secs(1),
            burst,
        }
    }

    pub const fn per_minute(count: u32, burst: u32) -> RateLimit {
        RateLimit {
            count,
            per: Duration::from_secs(60),
            burst,
        }
    }

    pub fn is_off(&self) -> bool {
        self.count == 0
    }

    /// The governor quota: one cell every `per / count`, `burst` at most.
    fn quota(&self) -> Option<Quota> {
        if self.is_off() {
            return None;
        }
        let burst = NonZeroU32::new(self.burst.max(1))?;
        Quota::with_period(self.per / self.count).map(|q| q.allow_burst(burst))
    }
}

/// `off`, or `N/s`, `N/min`, `N/h`, optionally followed by `,burst=B`
/// (default burst: N). Examples: `50/s,burst=200`, `10/min`.
impl FromStr for RateLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{s:?} is not a rate: use off, N/s, N/min or N/h, optionally ,burst=B");
        let s = s.trim();
        if s == "off" || s == "0" {
            return Ok(RateLimit::OFF);
        }
        let (rate, burst) = match s.split_once(',') {
            Some((rate, burst)) => {
                let b = burst.trim().strip_prefix("burst=").ok_or_else(bad)?;
                (rate, Some(b.parse::<u32>().map_err(|_| bad())?))
            }
            None => (s, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Ok(RateLimit::OFF);
        }
        let burst = burst.unwrap_or(count);
        if burst == 0 {
            return Err(format!("{s:?}: the burst must be positive"));
        }
        Ok(RateLimit { count, per, burst })
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_off() {
            return f.write_str("off");
        }
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => return write!(f, "{}/{:?},burst={}", self.count, self.per, self.burst),
        };
        write!(f, "{}/{unit},burst={}", self.count, self.burst)
    }
}

/// The limits a [`Throttle`] enforces (copied from `Config`).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_sessions_per_user: usize,
    pub auth_rate_per_ip: RateLimit,
    pub login_rate_per_account: RateLimit,
    pub send_rate_per_user: RateLimit,
    pub search_rate_per_user: RateLimit,
    pub people_rate_per_user: RateLimit,
    pub share_code_rate_per_ip: RateLimit,
    pub typing_rate_per_user: RateLimit,
    pub trusted_proxies: Vec<IpAddr>,
}

impl Limits {
    pub fn from_config(c: &crate::Config) -> Limits {
        Limits {
            max_connections: c.max_connections,
            max_connections_per_ip: c.max_connections_per_ip,
            max_sessions_per_user: c.max_sessions_per_user,
            auth_rate_per_ip: c.auth_rate_per_ip,
            login_rate_per_account: c.login_rate_per_account,
            send_rate_per_user: c.send_rate_per_user,
            search_rate_per_user: c.search_rate_per_user,
            people_rate_per_user: c.people_rate_per_user,
            share_code_rate_per_ip: c.share_code_rate_per_ip,
            typing_rate_per_user: c.typing_rate_per_user,
            trusted_proxies: c.trusted_proxies.clone(),
        }
    }
}

/// A keyed GCRA limiter, or nothing when the limit is off.
struct Keyed<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(rate: RateLimit) -> Keyed<K> {
        Keyed {
            limiter: rate.quota().map(RateLimiter::keyed),
        }
    }

    /// Take one cell for `key`; on refusal, how long until one is free.
    fn check(&self, key: &K) -> Result<(), Duration> {
        match &self.limiter {
            None => Ok(()),
            Some(l) => l
                .check_key(key)
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        }
    }

    /// Take `n` cells for `key` at once; on refusal, how long to wait (a
    /// second when `n` is more than the burst could ever hold).
    fn check_n(&self, key: &K, n: u32) -> Result<(), Duration> {
        let (Some(l), Some(n)) = (&self.limiter, std::num::NonZeroU32::new(n)) else {
            return Ok(());
        };
        match l.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
            Err(_) => Err(Duration::from_secs(1)),
        }
    }

    /// Forget keys whose bucket is full again (they behave exactly like new
    /// keys), so memory follows recent activity, not history.
    fn prune(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// The sessions of one token: their ids and how to close them.
type TokenSessions = Vec<(SessionId, Arc<Kick>)>;

/// Live counts shared with the guards that release them.
#[derive(Debug, Default)]
struct Counts {
    /// Open connections, and open connections per address key.
    connections: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// Authenticated connections per user on this node.
    sessions: Mutex<HashMap<UserId, usize>>,
    /// The sessions authenticated with each token, for the revocation sweep.
    tokens: Mutex<HashMap<[u8; 32], TokenSessions>>,
}

/// Every limit of one node.
pub struct Throttle {
    limits: Limits,
    counts: Arc<Counts>,
    auth_per_ip: Keyed<IpAddr>,
    login_per_account: Keyed<String>,
    send_per_user: Keyed<UserId>,
    search_per_user: Keyed<UserId>,
    people_per_user: Keyed<UserId>,
    share_code_per_ip: Keyed<IpAddr>,
    typing_per_user: Keyed<UserId>,
    refusals: Family<RefusalLabel, Counter>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Why a new connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnRefused {
    /// The node holds `max_connections`.
    Full,
    /// The address holds `max_connections_per_ip`.
    PerIp,
}

impl ConnRefused {
    /// The `goaway` reason a refused TCP client is told.
    pub fn reason(self) -> &'static str {
        match self {
            ConnRefused::Full => "server_full",
            ConnRefused::PerIp => "too_many_connections",
        }
    }
}

/// Who is on the other end of a connection, and its place in the
/// connection counts (released when this is dropped).
#[derive(Debug)]
pub struct Peer {
    /// The client's address (its /64 for IPv6), if known: `None` behind a
    /// trusted proxy that did not say, and then no per-address limit
    /// applies to the connection.
    pub ip: Option<IpAddr>,
    counts: Arc<Counts>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let mut c = self
            .counts
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        c.0 = c.0.saturating_sub(1);
        if let Some(ip) = self.ip
            && let Some(n) = c.1.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.1.remove(&ip);
            }
        }
    }
}

/// An authenticated connection's place in its user's session count and in
/// the token registry; both are released when this is dropped (logout or
/// end of connection).
#[derive(Debug)]
pub struct SessionTicket {
    user: UserId,
    token_hash: [u8; 32],
    session: SessionId,
    /// When the token expires (ms since the epoch).
    pub expires_at: i64,
    counts: Arc<Counts>,
}

impl Drop for SessionTicket {
    fn drop(&mut self) {
        {
            let mut sessions = self
                .counts
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(n) = sessions.get_mut(&self.user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    sessions.remove(&self.user);
                }
            }
        }
        let mut tokens = self.counts.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = tokens.get_mut(&self.token_hash) {
            list.retain(|(id, _)| *id != self.session);
            if list.is_empty() {
                tokens.remove(&self.token_hash);
            }
        }
    }
}

impl Throttle {
    pub fn new(limits: Limits, refusals: Family<RefusalLabel, Counter>) -> Throttle {
        Throttle {
            auth_per_ip: Keyed::new(limits.auth_rate_per_ip),
            login_per_account: Keyed::new(limits.login_rate_per_account),
            send_per_user: Keyed::new(limits.send_rate_per_user),
            search_per_user: Keyed::new(limits.search_rate_per_user),
            people_per_user: Keyed::new(limits.people_rate_per_user),
            share_code_per_ip: Keyed::new(limits.share_code_rate_per_ip),
            typing_per_user: Keyed::new(limits.typing_rate_per_user),
            counts: Arc::default(),
            limits,
            refusals,
        }
    }

    /// Count a refusal or a forced close under `reason` in the metrics.
    pub fn count(&self, reason: &'static str) {
        self.refusals.get_or_create(&RefusalLabel { reason }).inc();
    }

    /// The address limits apply to, given the socket's peer and, for HTTP,
    /// the forwarding headers. A peer that is not a trusted proxy is the
    /// client. Behind a trusted proxy, the client is the rightmost
    /// `X-Forwarded-For` entry that is not itself a trusted proxy (entries
    /// further left were written by the client and prove nothing), else
    /// `X-Real-IP`; if neither says, the address is unknown (`None`).
    pub fn client_ip(
        &self,
        peer: IpAddr,
        forwarded_for: Option<&str>,
        real_ip: Option<&str>,
    ) -> Option<IpAddr> {
        let trusted = |ip: &IpAddr| self.limits.trusted_proxies.contains(&canonical(*ip));
        if !trusted(&peer) {
            return Some(peer);
        }
        if let Some(list) = forwarded_for {
            for entry in list.rsplit(',') {
                let ip = entry.trim().parse::<IpAddr>().ok()?;
                if !trusted(&ip) {
                    return Some(ip);
                }
            }
        }
        real_ip.and_then(|s| s.trim().parse().ok())
    }

    /// Count a new connection from `ip`, or refuse it.
    pub fn admit_connection(&self, ip: Option<IpAddr>) -> Result<Peer, ConnRefused> {
        let ip = ip.map(ip_key);
        let mut c = self
            .counts
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let max = self.limits.max_connections;
        if max != 0 && c.0 >= max {
            drop(c);
            self.count("max_connections");
            return Err(ConnRefused::Full);
        }
        if let Some(ip) = ip {
            let per_ip = c.1.entry(ip).or_insert(0);
            let max = self.limits.max_connections_per_ip;
            if max != 0 && *per_ip >= max {
                if *per_ip == 0 {
                    c.1.remove(&ip);
                }
                drop(c);
                self.count("max_connections_per_ip");
                return Err(ConnRefused::PerIp);
            }
            *per_ip += 1;
        }
        c.0 += 1;
        Ok(Peer {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// Rate limits and caps checked before a request runs: authentication
    /// attempts per address (`register`, `login`, `resume`), `login`
    /// attempts per account, and the user's session cap before `login`
    /// spends a password hash. Other requests pass.
    pub fn check_request(&self, ip: Option<IpAddr>, request: &Request) -> Result<(), ErrorBody> {
        let account = match request {
            Request::Login(l) => Some(l.user.as_str()),
            Request::Register(_) | Request::Resume(_) => None,
            _ => return Ok(()),
        };
        if let Some(ip) = ip {
            self.auth_per_ip.check(&ip).map_err(|wait| {
                self.count("auth_rate_per_ip");
                rate_limited("too many authentication attempts from this address", wait)
            })?;
        }
        // Names that break the username rules share one key: no account
        // has them, and cycling through them must not grow the map.
        if let Some(name) = account {
            let key = normalize_username(name).unwrap_or_default();
            self.login_per_account.check(&key).map_err(|wait| {
                self.count("login_rate_per_account");
                rate_limited("too many login attempts for this account", wait)
            })?;
        }
        Ok(())
    }

    /// Take a send slot for `user`: `rate_limited` beyond the per-user send
    /// rate (the message is not stored).
    pub fn check_send(&self, user: UserId) -> Result<(), ErrorBody> {
        self.send_per_user.check(&user).map_err(|wait| {
            self.count("send_rate_per_user");
            rate_limited("sending too fast", wait)
        })
    }

    /// Take `n` send slots for `user` at once (a `forward` of many
    /// messages): all or none.
    pub fn check_send_n(&self, user: UserId, n: u32) -> Result<(), ErrorBody> {
        self.send_per_user.check_n(&user, n).map_err(|wait| {
            self.count("send_rate_per_user");
            rate_limited("sending too fast", wait)
        })
    }

    /// Take a `search` slot for `user`: `rate_limited` beyond the per-user
    /// search rate.
    pub fn check_search(&self, user: UserId) -> Result<(), ErrorBody> {
        self.search_per_user.check(&user).map_err(|wait| {
            self.count("search_rate_per_user");
            rate_limited("searching too fast", wait)
        })
    }

    /// Take a slot for a change to `user`'s contacts or profile:
    /// `rate_limited` beyond the per-user rate.
    pub fn check_people(&self, user: UserId) -> Result<(), ErrorBody> {
        self.people_per_user.check(&user).map_err(|wait| {
            self.count("people_rate_per_user");
            rate_limited("changing contacts too fast", wait)
        })
    }

    /// Take a `typing` slot for `user`: `rate_limited` beyond the
    /// per-user typing rate (nothing is pushed).
    pub fn check_typing(&self, user: UserId) -> Result<(), ErrorBody> {
        self.typing_per_user.check(&user).map_err(|wait| {
            self.count("typing_rate_per_user");
            rate_limited("typing notices too fast", wait)
        })
    }

    /// Take a slot for an extraction-code attempt from `ip` (any share
    /// link): `rate_limited` beyond the per-address rate, so one address
    /// cannot try codes across many links. Each link also limits its own
    /// wrong codes, on every node (see `crate::drive`).
    pub fn check_share_code(&self, ip: IpAddr) -> Result<(), ErrorBody> {
        self.share_code_per_ip.check(&ip).map_err(|wait| {
            self.count("share_code_rate_per_ip");
            rate_limited("too many extraction codes tried from this address", wait)
        })
    }

    /// Admit an authenticated connection of `user`: `too_many_sessions`
    /// when the user already holds `max_sessions_per_user` on this node.
    /// The ticket also registers the token for the revocation sweep.
    pub fn admit_session(
        &self,
        user: UserId,
        token_hash: [u8; 32],
        expires_at: i64,
        session: SessionId,
        kick: Arc<Kick>,
    ) -> Result<SessionTicket, ErrorBody> {
        {
            let mut sessions = self
                .counts
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let n = sessions.entry(user).or_insert(0);
            let max = self.limits.max_sessions_per_user;
            if max != 0 && *n >= max {
                drop(sessions);
                self.count("max_sessions_per_user");
                return Err(ErrorBody::new(
                    ErrorCode::TooManySessions,
                    format!("at most {max} connections per user; close one first"),
                ));
            }
            *n += 1;
        }
        self.counts
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(token_hash)
            .or_default()
            .push((session, kick));
        Ok(SessionTicket {
            user,
            token_hash,
            session,
            expires_at,
            counts: self.counts.clone(),
        })
    }

    /// The distinct tokens of this node's authenticated sessions.
    fn live_tokens(&self) -> Vec<[u8; 32]> {
        self.counts
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Close every session of this node that authenticated with `token_hash`.
    fn kick_token(&self, token_hash: &[u8; 32], reason: KickReason) -> usize {
        let tokens = self.counts.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let list = tokens.get(token_hash).map_or(&[][..], Vec::as_slice);
        for (_, kick) in list {
            kick.kick(reason);
        }
        list.len()
    }

    /// Forget rate-limit state that no longer limits anyone.
    fn prune(&self) {
        self.auth_per_ip.prune();
        self.login_per_account.prune();
        self.send_per_user.prune();
        self.search_per_user.prune();
        self.people_per_user.prune();
        self.share_code_per_ip.prune();
        self.typing_per_user.prune();
    }

    /// Keys held by the rate limiters (for tests and debugging).
    pub fn tracked_keys(&self) -> usize {
        self.auth_per_ip.len()
            + self.login_per_account.len()
            + self.send_per_user.len()
            + self.search_per_user.len()
            + self.people_per_user.len()
            + self.share_code_per_ip.len()
            + self.typing_per_user.len()
    }
}

fn rate_limited(what: &str, wait: Duration) -> ErrorBody {
    ErrorBody::new(ErrorCode::RateLimited, what).retry_after(wait)
}

/// IPv4-mapped IPv6 addresses as IPv4, so both spellings are one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key per-address limits count under: the IPv4 address, or the /64
/// of an IPv6 address (one subscriber usually holds a whole /64, so
/// counting single IPv6 addresses would limit nothing).
fn ip_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// How often rate-limit state is pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Background upkeep until shutdown: prune the rate limiters' keys.
pub async fn housekeeping(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            _ = tick.tick() => state.throttle.prune(),
        }
    }
}

/// Most token hashes looked up in one store call.
const SWEEP_CHUNK: usize = 500;

/// Every `token_check_interval`, look up the tokens of this node's
/// sessions in the store and close the sessions whose token is gone
/// (revoked by a logout on any node, or trimmed), with a `logout` goaway.
/// This is what bounds the life of a revoked session when the cluster bus
/// dropped the kick. A store failure skips the round: a database outage
/// must not log everyone out.
pub async fn revalidate_tokens(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.config.token_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate and every session is fresh then.
    tick.tick().await;
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            _ = tick.tick() => sweep(&state).await,
        }
    }
}

/// One revalidation round.
async fn sweep(state: &AppState) {
    let hashes = state.throttle.live_tokens();
    for chunk in hashes.chunks(SWEEP_CHUNK) {
        let live = match state.store.live_tokens(chunk, now_ms()).await {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!(error = %e, "token revalidation skipped");
                return;
            }
        };
        for hash in chunk.iter().filter(|h| !live.contains(*h)) {
            let kicked = state.throttle.kick_token(hash, KickReason::Logout);
            for _ in 0..kicked {
                state.throttle.count("token_revoked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(limits: impl FnOnce(&mut Limits)) -> Throttle {
        let mut l = Limits::from_config(&crate::Config::default());
        limits(&mut l);
        Throttle::new(l, Family::default())
    }

    #[test]
    fn rates_parse_and_print() {
        let r: RateLimit = "50/s,burst=200".parse().expect("rate");
        assert_eq!(r, RateLimit::per_second(50, 200));
        assert_eq!(r.to_string(), "50/s,burst=200");
        assert_eq!("10/min".parse(), Ok(RateLimit::per_minute(10, 10)));
        assert_eq!("off".parse(), Ok(RateLimit::OFF));
        assert_eq!("0/s".parse(), Ok(RateLimit::OFF));
        for bad in [
            "",
            "10",
            "10/day",
            "x/s",
            "10/s,b=3",
            "10/s,burst=0",
            "-1/s",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn connection_counts_are_released_on_drop() {
        let t = throttle(|l| {
            l.max_connections = 3;
            l.max_connections_per_ip = 2;
        });
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let a1 = t.admit_connection(Some(a)).expect("a1");
        let _a2 = t.admit_connection(Some(a)).expect("a2");
        assert_eq!(t.admit_connection(Some(a)).err(), Some(ConnRefused::PerIp));
        let _b1 = t.admit_connection(Some(b)).expect("b1");
        assert_eq!(t.admit_connection(None).err(), Some(ConnRefused::Full));
        drop(a1);
        let _a3 = t.admit_connection(Some(a)).expect("a slot is free again");
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_v4_as_v4() {
        let t = throttle(|l| l.max_connections_per_ip = 1);
        let x: IpAddr = "2001:db8::1".parse().expect("ip");
        let y: IpAddr = "2001:db8::ffff:2".parse().expect("ip");
        let other: IpAddr = "2001:db8:0:1::1".parse().expect("ip");
        let _x = t.admit_connection(Some(x)).expect("x");
        assert!(t.admit_connection(Some(y)).is_err(), "same /64");
        let _o = t.admit_connection(Some(other)).expect("another /64");
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        let _v4 = t.admit_connection(Some(v4)).expect("v4");
        assert!(t.admit_connection(Some(mapped)).is_err(), "same client");
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.9".parse().expect("ip");
        let t = throttle(|l| l.trusted_proxies = vec![proxy]);
        let client: IpAddr = "198.51.100.4".parse().expect("ip");
        let stranger: IpAddr = "203.0.113.5".parse().expect("ip");
        // A direct client's headers are ignored: it could write anything.
        assert_eq!(
            t.client_ip(stranger, Some("198.51.100.4"), None),
            Some(stranger)
        );
        // The proxy's rightmost entry is the client; forged entries to its
        // left are ignored.
        assert_eq!(
            t.client_ip(proxy, Some("1.2.3.4, 198.51.100.4"), None),
            Some(client)
        );
        assert_eq!(
            t.client_ip(proxy, Some("198.51.100.4, 10.0.0.9"), None),
            Some(client)
        );
        assert_eq!(t.client_ip(proxy, None, Some("198.51.100.4")), Some(client));
        assert_eq!(t.client_ip(proxy, None, None), None);
        assert_eq!(t.client_ip(proxy, Some("garbage"), None), None);
    }

    #[test]
    fn sessions_per_user_are_capped_and_released() {
        let t = throttle(|l| l.max_sessions_per_user = 2);
        let kick = || Arc::new(Kick::default());
        let s1 = t.admit_session(7, [1; 32], 0, 1, kick()).expect("first");
        let _s2 = t.admit_session(7, [2; 32], 0, 2, kick()).expect("second");
        let e = t
            .admit_session(7, [3; 32], 0, 3, kick())
            .expect_err("third");
        assert_eq!(e.code, ErrorCode::TooManySessions);
        let _other = t
            .admit_session(8, [4; 32], 0, 4, kick())
            .expect("other user");
        assert_eq!(t.live_tokens().len(), 3);
        drop(s1);
        assert_eq!(t.live_tokens().len(), 2);
        t.admit_session(7, [5; 32], 0, 5, kick())
            .expect("slot released");
    }

    #[test]
    fn kicking_a_token_closes_only_its_sessions() {
        let t = throttle(|_| {});
        let (k1, k2, k3) = (
            Arc::new(Kick::default()),
            Arc::new(Kick::default()),
            Arc::new(Kick::default()),
        );
        let _a = t.admit_session(7, [1; 32], 0, 1, k1.clone()).expect("a");
        let _b = t.admit_session(7, [1; 32], 0, 2, k2.clone()).expect("b");
        let _c = t.admit_session(7, [2; 32], 0, 3, k3.clone()).expect("c");
        assert_eq!(t.kick_token(&[1; 32], KickReason::Logout), 2);
        assert_eq!(k1.reason(), Some(KickReason::Logout));
        assert_eq!(k2.reason(), Some(KickReason::Logout));
        assert!(!k3.token.is_cancelled());
    }

    #[test]
    fn send_rate_allows_the_burst_then_refuses_with_a_hint() {
        // One cell per hour: nothing refills while the test runs.
        let t = throttle(|l| {
            l.send_rate_per_user = RateLimit {
                count: 1,
                per: Duration::from_secs(3600),
                burst: 3,
            }
        });
        for _ in 0..3 {
            t.check_send(1).expect("within the burst");
        }
        let e = t.check_send(1).expect_err("over");
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retry_after_ms.is_some_and(|ms| ms > 1000), "{e:?}");
        t.check_send(2).expect("another user has its own budget");
        let off = throttle(|l| l.send_rate_per_user = RateLimit::OFF);
        for _ in 0..10_000 {
            off.check_send(1).expect("off means off");
        }
    }
}
