//! The `Store` contract, as one suite every backend must pass.
//!
//! Every test is a backend-neutral function taking `&dyn Store` (or, for the
//! few that must close and reopen the database, a [`Harness`]). The
//! `store_suite!` macro at the bottom instantiates the whole suite as
//! `#[tokio::test]`s for one backend. Adding PostgreSQL or MySQL means
//! writing a `Harness` for it and one more `store_suite!` line.
//!
//! Each test starts from an empty store, so ids, seqs and lists can be
//! asserted exactly.

use magpie_proto::{ConvId, Message, Seq, UserId};
use magpie_store::{
    Appended, ConvSummary, NewMessage, PoolSettings, SqlStore, Store, StoreError, TokenRecord,
    UserRecord,
};
use std::collections::BTreeSet;
use std::path::PathBuf;
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------

/// How the suite gets at one backend: a fresh, empty store, and a way to
/// close it and open it again on the same data.
trait Harness: Sized {
    /// A new store over an empty database.
    async fn fresh() -> Self;
    /// The store under test.
    fn store(&self) -> &dyn Store;
    /// Close the store completely, then open a new one on the same data.
    async fn reopen(self) -> Self;
    /// Close the store and release the database.
    async fn close(self);
    /// A second store on the same database, as another node would open it.
    async fn another_node(&self) -> SqlStore;
}

/// SQLite in a file under a temporary directory.
struct SqliteHarness {
    // Keeps the directory (and the database in it) alive; removed on drop.
    _dir: TempDir,
    path: PathBuf,
    store: SqlStore,
}

impl Harness for SqliteHarness {
    async fn fresh() -> Self {
        let dir = TempDir::new().expect("create a temporary directory");
        let path = dir.path().join("magpie.db");
        let store = SqlStore::open_sqlite(&path)
            .await
            .expect("open a new SQLite store");
        SqliteHarness {
            _dir: dir,
            path,
            store,
        }
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(self) -> Self {
        let SqliteHarness { _dir, path, store } = self;
        store.close().await;
        drop(store);
        let store = SqlStore::open_sqlite(&path)
            .await
            .expect("reopen the SQLite store on the same file");
        SqliteHarness { _dir, path, store }
    }

    async fn close(self) {
        self.store.close().await;
    }

    async fn another_node(&self) -> SqlStore {
        SqlStore::open_sqlite(&self.path)
            .await
            .expect("second SQLite store")
    }
}

/// A database of its own on a real server (PostgreSQL or MariaDB), created
/// for one test and dropped after it (even if the test panicked), so tests
/// run in parallel and leave nothing behind. The server comes from an
/// environment variable naming an admin URL without a database path.
struct ServerHarness {
    db: magpie_testkit::TestDatabase,
    store: SqlStore,
}

impl ServerHarness {
    async fn create(admin_env: &str, default_admin: &str) -> ServerHarness {
        let admin_url = std::env::var(admin_env).unwrap_or_else(|_| default_admin.to_string());
        let db = magpie_testkit::TestDatabase::create(&admin_url).await;
        let store = connect(&db.url).await;
        ServerHarness { db, store }
    }

    async fn reopen_server(mut self) -> ServerHarness {
        self.store.close().await;
        self.store = self.second_store().await;
        self
    }

    async fn drop_database(self) {
        // Closing first lets the drop (when `db` goes) find no connections.
        self.store.close().await;
    }

    async fn second_store(&self) -> SqlStore {
        connect(&self.db.url).await
    }
}

async fn connect(url: &str) -> SqlStore {
    SqlStore::connect(url, &PoolSettings::default())
        .await
        .unwrap_or_else(|e| panic!("connect to the test database: {e}"))
}

/// PostgreSQL from `MAGPIE_TEST_POSTGRES` (default: local trust auth).
struct PostgresHarness(ServerHarness);
/// MySQL or MariaDB from `MAGPIE_TEST_MYSQL` (default: local root).
struct MySqlHarness(ServerHarness);

macro_rules! server_harness {
    ($name:ident, $env:literal, $default:literal) => {
        impl Harness for $name {
            async fn fresh() -> Self {
                $name(ServerHarness::create($env, $default).await)
            }
            fn store(&self) -> &dyn Store {
                &self.0.store
            }
            async fn reopen(self) -> Self {
                $name(self.0.reopen_server().await)
            }
            async fn close(self) {
                self.0.drop_database().await;
            }
            async fn another_node(&self) -> SqlStore {
                self.0.second_store().await
            }
        }
    };
}

server_harness!(
    PostgresHarness,
    "MAGPIE_TEST_POSTGRES",
    "postgres://postgres@127.0.0.1:5432"
);
server_harness!(
    MySqlHarness,
    "MAGPIE_TEST_MYSQL",
    "mysql://root@127.0.0.1:3306"
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A plausible timestamp (ms since the epoch) that tests count up from.
const T0: i64 = 1_700_000_000_000;

/// A fixed, fetch-everything limit for reading whole conversations back.
const ALL: u32 = 10_000;

/// A PHC-looking password hash, unique per user so mix-ups show.
fn hash_for(name: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${name}aGFzaA")
}

async fn user(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(name, &hash_for(name), T0)
        .await
        .expect("create_user with a fresh name")
}

fn new_msg(sender: UserId, recipient: UserId, cmid: &str, body: &str, ts: i64) -> NewMessage {
    NewMessage {
        sender,
        recipient,
        cmid: cmid.to_owned(),
        body: body.to_owned(),
        ts,
    }
}

/// Append a single message in a batch of its own.
async fn send(
    store: &dyn Store,
    sender: UserId,
    recipient: UserId,
    cmid: &str,
    body: &str,
    ts: i64,
) -> Appended {
    let mut out = store
        .append_batch(&[new_msg(sender, recipient, cmid, body, ts)])
        .await
        .expect("append_batch of one message");
    assert_eq!(out.len(), 1, "one result per message");
    out.remove(0)
}

async fn all_messages(store: &dyn Store, conv: ConvId) -> Vec<Message> {
    store
        .messages_after(conv, 0, ALL)
        .await
        .expect("messages_after")
}

fn seqs(messages: &[Message]) -> Vec<Seq> {
    messages.iter().map(|m| m.seq).collect()
}

/// `user`'s conversation-list row for `conv`.
async fn summary(store: &dyn Store, user: UserId, conv: ConvId) -> ConvSummary {
    store
        .conversations(user)
        .await
        .expect("conversations")
        .into_iter()
        .find(|s| s.conv == conv)
        .unwrap_or_else(|| panic!("user {user} has no row for conversation {conv}"))
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

async fn create_user_and_look_it_up(store: &dyn Store) {
    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        None,
        "empty store has no users"
    );
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    assert_ne!(alice, bob, "user ids are distinct");

    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        Some(UserRecord {
            id: alice,
            username: "alice".into(),
            password_hash: hash_for("alice"),
        })
    );
    assert_eq!(
        store.user_by_name("bob").await.expect("user_by_name"),
        Some(UserRecord {
            id: bob,
            username: "bob".into(),
            password_hash: hash_for("bob"),
        })
    );
    assert_eq!(
        store.user_by_name("carol").await.expect("user_by_name"),
        None
    );
    // A prefix or an extension of a name is a different name.
    assert_eq!(store.user_by_name("ali").await.expect("user_by_name"), None);
    assert_eq!(
        store.user_by_name("alice2").await.expect("user_by_name"),
        None
    );
}

async fn create_user_rejects_a_taken_name(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let again = store.create_user("alice", "another-hash", T0 + 1).await;
    assert!(
        matches!(again, Err(StoreError::UsernameTaken)),
        "expected UsernameTaken, got {again:?}"
    );
    // The original account is untouched.
    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        Some(UserRecord {
            id: alice,
            username: "alice".into(),
            password_hash: hash_for("alice"),
        })
    );
    // The failure leaves the store usable.
    let bob = user(store, "bob").await;
    assert_ne!(alice, bob);
}

async fn usernames_with_every_allowed_character(store: &dyn Store) {
    let name = "a.b-c_d.0123456789_xyz";
    let id = user(store, name).await;
    let record = store
        .user_by_name(name)
        .await
        .expect("user_by_name")
        .expect("the user exists");
    assert_eq!(record.id, id);
    assert_eq!(record.username, name);
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// SHA-256-sized token hashes, distinct per seed.
fn token_hash(seed: u8) -> Vec<u8> {
    (0..32u8).map(|i| i.wrapping_mul(7) ^ seed).collect()
}

async fn token_create_and_lookup(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (laptop, phone, bobs) = (token_hash(1), token_hash(2), token_hash(3));
    let expires = T0 + 30 * 24 * 3600 * 1000;
    store
        .create_token(&laptop, alice, "laptop", T0, expires)
        .await
        .expect("create_token");
    store
        .create_token(&phone, alice, "phone", T0, expires + 5)
        .await
        .expect("create_token");
    store
        .create_token(&bobs, bob, "", T0, expires)
        .await
        .expect("create_token with an empty device name");

    assert_eq!(
        store.token(&laptop, T0).await.expect("token"),
        Some(TokenRecord {
            user_id: alice,
            username: "alice".into(),
            device: "laptop".into(),
            expires_at: expires,
        })
    );
    assert_eq!(
        store.token(&phone, T0 + 1000).await.expect("token"),
        Some(TokenRecord {
            user_id: alice,
            username: "alice".into(),
            device: "phone".into(),
            expires_at: expires + 5,
        })
    );
    assert_eq!(
        store.token(&bobs, T0).await.expect("token"),
        Some(TokenRecord {
            user_id: bob,
            username: "bob".into(),
            device: String::new(),
            expires_at: expires,
        })
    );
    assert_eq!(
        store.token(&token_hash(99), T0).await.expect("token"),
        None,
        "an unknown hash finds nothing"
    );
    // A hash is matched whole, not by prefix.
    assert_eq!(store.token(&laptop[..16], T0).await.expect("token"), None);
}

async fn expired_token_is_not_returned(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let hash = token_hash(1);
    let expires = T0 + 1000;
    store
        .create_token(&hash, alice, "laptop", T0, expires)
        .await
        .expect("create_token");
    assert!(
        store
            .token(&hash, expires - 1)
            .await
            .expect("token")
            .is_some(),
        "valid until the last millisecond before expires_at"
    );
    assert_eq!(
        store.token(&hash, expires).await.expect("token"),
        None,
        "expired at expires_at"
    );
    assert_eq!(store.token(&hash, expires + 1).await.expect("token"), None);
    // Expiry is judged by the `now` passed in, not by deletion: an earlier
    // `now` still finds it (no purge has run).
    assert!(store.token(&hash, T0).await.expect("token").is_some());
}

async fn revoke_token_removes_only_that_session(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let (laptop, phone) = (token_hash(1), token_hash(2));
    let expires = T0 + 1_000_000;
    store
        .create_token(&laptop, alice, "laptop", T0, expires)
        .await
        .expect("create_token");
    store
        .create_token(&phone, alice, "phone", T0, expires)
        .await
        .expect("create_token");

    store.revoke_token(&laptop).await.expect("revoke_token");
    assert_eq!(store.token(&laptop, T0).await.expect("token"), None);
    assert_eq!(
        store
            .token(&phone, T0)
            .await
            .expect("token")
            .map(|t| t.device),
        Some("phone".to_owned()),
        "the user's other session survives"
    );

    // Revoking again, or revoking something that never existed, is fine.
    store.revoke_token(&laptop).await.expect("revoke twice");
    store
        .revoke_token(&token_hash(99))
        .await
        .expect("revoke an unknown token");
    assert!(store.token(&phone, T0).await.expect("token").is_some());
}

async fn live_tokens_reports_only_unexpired_unrevoked_ones(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let hash = |seed: u8| -> [u8; 32] { token_hash(seed).try_into().expect("32 bytes") };
    let all: Vec<[u8; 32]> = (0..=255u8).map(hash).collect();
    for (i, h) in all.iter().enumerate() {
        let expires = if i % 3 == 0 { T0 + 10 } else { T0 + 1000 };
        store
            .create_token(h, alice, "d", T0, expires)
            .await
            .expect("create_token");
    }
    store.revoke_token(&all[1]).await.expect("revoke_token");
    let mut asked = all.clone();
    asked.extend([[0xee; 32], [0xef; 32]]); // never existed
    // Repeats, and more than one chunk of the batched query.
    for _ in 0..3 {
        asked.extend(asked.clone().into_iter().take(300));
    }
    let live = store
        .live_tokens(&asked, T0 + 10)
        .await
        .expect("live_tokens");
    let expected: std::collections::HashSet<[u8; 32]> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0 && *i != 1)
        .map(|(_, h)| *h)
        .collect();
    assert_eq!(
        live, expected,
        "expired at T0+10, revoked and unknown ones are not live"
    );
    assert!(store.live_tokens(&[], T0).await.expect("empty").is_empty());
}

async fn trim_tokens_keeps_the_newest(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    // Created in shuffled order: age decides, not insertion order.
    for (seed, created) in [(1u8, 30), (2, 10), (3, 50), (4, 20), (5, 40)] {
        store
            .create_token(&token_hash(seed), alice, "d", T0 + created, T0 + 1_000_000)
            .await
            .expect("create_token");
    }
    store
        .create_token(&token_hash(9), bob, "d", T0, T0 + 1_000_000)
        .await
        .expect("create_token");
    assert_eq!(store.trim_tokens(alice, 3).await.expect("trim"), 2);
    let live = |seed| async move {
        store
            .token(&token_hash(seed), T0)
            .await
            .expect("token")
            .is_some()
    };
    assert!(!live(2).await && !live(4).await, "the two oldest went");
    assert!(live(1).await && live(3).await && live(5).await);
    assert!(live(9).await, "other users keep theirs");
    assert_eq!(store.trim_tokens(alice, 3).await.expect("trim"), 0);
    assert_eq!(store.trim_tokens(alice, 0).await.expect("trim"), 3);
}

async fn purge_expired_tokens_counts_and_keeps_valid_ones(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (t100, t200, t300, revoked) = (token_hash(1), token_hash(2), token_hash(3), token_hash(4));
    store
        .create_token(&t100, alice, "a", T0, T0 + 100)
        .await
        .expect("create_token");
    store
        .create_token(&t200, bob, "b", T0, T0 + 200)
        .await
        .expect("create_token");
    store
        .create_token(&t300, alice, "c", T0, T0 + 300)
        .await
        .expect("create_token");
    store
        .create_token(&revoked, bob, "d", T0, T0 + 50)
        .await
        .expect("create_token");
    store.revoke_token(&revoked).await.expect("revoke_token");

    assert_eq!(
        store.purge_expired_tokens(T0).await.expect("purge"),
        0,
        "nothing has expired yet"
    );
    // Expired means expires_at <= now, the same rule `token` applies; the
    // revoked token is already gone and is not counted.
    assert_eq!(
        store.purge_expired_tokens(T0 + 200).await.expect("purge"),
        2
    );
    assert_eq!(
        store.purge_expired_tokens(T0 + 200).await.expect("purge"),
        0,
        "a second purge finds nothing"
    );
    // Purged tokens are gone even for an earlier `now`; the valid one stays.
    assert_eq!(store.token(&t100, T0).await.expect("token"), None);
    assert_eq!(store.token(&t200, T0).await.expect("token"), None);
    assert_eq!(
        store
            .token(&t300, T0 + 299)
            .await
            .expect("token")
            .map(|t| t.user_id),
        Some(alice)
    );
    assert_eq!(
        store
            .purge_expired_tokens(T0 + 10_000)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.token(&t300, T0).await.expect("token"), None);
}

// ---------------------------------------------------------------------------
// append_batch
// ---------------------------------------------------------------------------

async fn append_empty_batch(store: &dyn Store) {
    let out = store.append_batch(&[]).await.expect("empty batch");
    assert!(out.is_empty());
}

async fn append_assigns_gapless_seqs(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;

    // Five in one batch, then three in batches of their own.
    let batch: Vec<NewMessage> = (1..=5)
        .map(|i| new_msg(alice, bob, &format!("c{i}"), &format!("body {i}"), T0 + i))
        .collect();
    let mut results = store.append_batch(&batch).await.expect("append_batch");
    assert_eq!(results.len(), 5);
    for i in 6..=8 {
        results.push(
            send(
                store,
                alice,
                bob,
                &format!("c{i}"),
                &format!("body {i}"),
                T0 + i,
            )
            .await,
        );
    }

    let conv = results[0].conv;
    for (i, r) in results.iter().enumerate() {
        let n = i as i64 + 1;
        assert_eq!(r.conv, conv, "all in one conversation");
        assert_eq!(r.seq, n, "seq of message {n}");
        assert_eq!(r.ts, T0 + n, "new message keeps its ts");
        assert!(!r.duplicate);
    }
    let ids: BTreeSet<i64> = results.iter().map(|r| r.msg_id).collect();
    assert_eq!(ids.len(), 8, "msg_ids are distinct");

    let stored = all_messages(store, conv).await;
    assert_eq!(seqs(&stored), (1..=8).collect::<Vec<_>>());
    for (m, r) in stored.iter().zip(&results) {
        assert_eq!(m.msg_id, r.msg_id);
        assert_eq!(m.ts, r.ts);
        assert_eq!(m.body, format!("body {}", m.seq));
        assert_eq!(m.cmid, format!("c{}", m.seq));
    }
}

async fn conversations_have_independent_seqs(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;

    // Interleaved in one batch; results come back in input order.
    let batch = [
        new_msg(alice, bob, "1", "ab1", T0 + 1),
        new_msg(alice, carol, "2", "ac1", T0 + 2),
        new_msg(alice, bob, "3", "ab2", T0 + 3),
        new_msg(bob, carol, "4", "bc1", T0 + 4),
        new_msg(carol, alice, "5", "ac2", T0 + 5),
        new_msg(alice, bob, "6", "ab3", T0 + 6),
    ];
    let out = store.append_batch(&batch).await.expect("append_batch");
    let (ab, ac, bc) = (out[0].conv, out[1].conv, out[3].conv);
    assert_eq!(BTreeSet::from([ab, ac, bc]).len(), 3, "three conversations");
    let got: Vec<(ConvId, Seq)> = out.iter().map(|r| (r.conv, r.seq)).collect();
    assert_eq!(
        got,
        vec![(ab, 1), (ac, 1), (ab, 2), (bc, 1), (ac, 2), (ab, 3)]
    );

    // A later batch continues each conversation where it left off.
    let out = store
        .append_batch(&[
            new_msg(carol, bob, "7", "bc2", T0 + 7),
            new_msg(bob, alice, "8", "ab4", T0 + 8),
        ])
        .await
        .expect("append_batch");
    assert_eq!((out[0].conv, out[0].seq), (bc, 2));
    assert_eq!((out[1].conv, out[1].seq), (ab, 4));

    let bodies = |msgs: Vec<Message>| msgs.into_iter().map(|m| m.body).collect::<Vec<_>>();
    assert_eq!(
        bodies(all_messages(store, ab).await),
        ["ab1", "ab2", "ab3", "ab4"]
    );
    assert_eq!(bodies(all_messages(store, ac).await), ["ac1", "ac2"]);
    assert_eq!(bodies(all_messages(store, bc).await), ["bc1", "bc2"]);
}

async fn reply_lands_in_the_same_conversation(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = send(store, alice, bob, "a1", "hi bob", T0 + 1).await;
    let reply = send(store, bob, alice, "b1", "hi alice", T0 + 2).await;
    assert_eq!(reply.conv, first.conv);
    assert_eq!((first.seq, reply.seq), (1, 2));

    let stored = all_messages(store, first.conv).await;
    assert_eq!(
        stored,
        vec![
            Message {
                msg_id: first.msg_id,
                conv: first.conv,
                seq: 1,
                from: "alice".into(),
                to: "bob".into(),
                body: "hi bob".into(),
                ts: T0 + 1,
                cmid: "a1".into(),
            },
            Message {
                msg_id: reply.msg_id,
                conv: first.conv,
                seq: 2,
                from: "bob".into(),
                to: "alice".into(),
                body: "hi alice".into(),
                ts: T0 + 2,
                cmid: "b1".into(),
            },
        ]
    );
}

async fn resend_in_a_later_batch_is_a_duplicate(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = send(store, alice, bob, "cmid-1", "original", T0 + 1).await;
    assert!(!first.duplicate);

    // The retry differs in body and ts; the original wins.
    let retry = send(store, alice, bob, "cmid-1", "changed", T0 + 50).await;
    assert_eq!(
        retry,
        Appended {
            duplicate: true,
            ..first
        }
    );

    let stored = all_messages(store, first.conv).await;
    assert_eq!(stored.len(), 1, "the retry stored nothing");
    assert_eq!(stored[0].body, "original");
    assert_eq!(stored[0].ts, T0 + 1);
    assert_eq!(
        store.conv_positions(alice).await.expect("conv_positions"),
        vec![(first.conv, 1)],
        "the retry allocated no seq"
    );

    // The next new message follows without a gap.
    let next = send(store, alice, bob, "cmid-2", "next", T0 + 60).await;
    assert_eq!(
        (next.conv, next.seq, next.duplicate),
        (first.conv, 2, false)
    );
    // And retrying an older one still answers with its own original result.
    let again = send(store, alice, bob, "cmid-1", "x", T0 + 70).await;
    assert_eq!(
        again,
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert_eq!(seqs(&all_messages(store, first.conv).await), [1, 2]);
}

async fn duplicate_within_one_batch(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let out = store
        .append_batch(&[
            new_msg(alice, bob, "c1", "one", T0 + 1),
            new_msg(alice, bob, "c2", "two", T0 + 2),
            new_msg(alice, bob, "c1", "one again", T0 + 3),
            new_msg(alice, bob, "c3", "three", T0 + 4),
        ])
        .await
        .expect("append_batch");
    assert_eq!(out.len(), 4);
    assert!(!out[0].duplicate && !out[1].duplicate && !out[3].duplicate);
    assert_eq!(
        out[2],
        Appended {
            duplicate: true,
            ..out[0]
        },
        "the second occurrence reports the first"
    );
    assert_eq!((out[0].seq, out[1].seq, out[3].seq), (1, 2, 3));

    let stored = all_messages(store, out[0].conv).await;
    let got: Vec<(&str, &str)> = stored
        .iter()
        .map(|m| (m.cmid.as_str(), m.body.as_str()))
        .collect();
    assert_eq!(got, [("c1", "one"), ("c2", "two"), ("c3", "three")]);
}

/// A batch of new messages in several conversations with one resend among
/// them: the resend reports its original, every new message gets the next
/// seq of its own conversation, and the read marks follow.
async fn resend_inside_a_batch_of_new_messages(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let first = send(store, alice, bob, "a1", "first", T0 + 1).await;
    let out = store
        .append_batch(&[
            new_msg(bob, alice, "b1", "to alice", T0 + 2),
            new_msg(alice, carol, "a2", "to carol", T0 + 3),
            new_msg(alice, bob, "a1", "first, resent", T0 + 4),
            new_msg(alice, bob, "a3", "to bob", T0 + 5),
        ])
        .await
        .expect("append_batch");
    assert_eq!(
        out[2],
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert!(!out[0].duplicate && !out[1].duplicate && !out[3].duplicate);
    assert_eq!((out[0].conv, out[0].seq), (first.conv, 2));
    assert_eq!((out[3].conv, out[3].seq), (first.conv, 3));
    assert_eq!(out[1].seq, 1);
    assert_ne!(out[1].conv, first.conv);
    assert_eq!(seqs(&all_messages(store, first.conv).await), [1, 2, 3]);
    assert_eq!(summary(store, alice, first.conv).await.read_seq, 3);
    assert_eq!(summary(store, bob, first.conv).await.read_seq, 2);
    assert_eq!(summary(store, alice, out[1].conv).await.read_seq, 1);
    assert_eq!(summary(store, carol, out[1].conv).await.read_seq, 0);
}

/// A batch bigger than one multi-row statement takes (1,200 messages in
/// three conversations, both directions): every message is stored once,
/// each conversation's seqs are gapless in batch order, message ids grow
/// with seq, and each sender's read mark sits on its own last message.
async fn batch_larger_than_one_statement(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let pairs = [(alice, bob), (bob, alice), (carol, alice), (bob, carol)];
    let batch: Vec<NewMessage> = (0..1_200)
        .map(|i| {
            let (from, to) = pairs[i % pairs.len()];
            new_msg(
                from,
                to,
                &format!("m{i}"),
                &format!("body {i}"),
                T0 + i as i64,
            )
        })
        .collect();
    let out = store.append_batch(&batch).await.expect("append_batch");
    assert_eq!(out.len(), batch.len());
    assert!(out.iter().all(|a| !a.duplicate));
    let ab = out[0].conv;
    let ac = out[2].conv;
    let bc = out[3].conv;
    assert_eq!(out[1].conv, ab, "a reply lands in the same conversation");
    for (conv, expected) in [(ab, 600), (ac, 300), (bc, 300)] {
        let stored = all_messages(store, conv).await;
        assert_eq!(seqs(&stored), (1..=expected).collect::<Vec<Seq>>());
        assert!(stored.windows(2).all(|w| w[0].msg_id < w[1].msg_id));
        // Batch order is seq order, and every ack names its own message.
        let acked: Vec<(Seq, &str)> = out
            .iter()
            .zip(&batch)
            .filter(|(a, _)| a.conv == conv)
            .map(|(a, m)| (a.seq, m.cmid.as_str()))
            .collect();
        let got: Vec<(Seq, &str)> = stored.iter().map(|m| (m.seq, m.cmid.as_str())).collect();
        assert_eq!(acked, got, "conv {conv}");
    }
    // Alice sent the messages i % 4 == 0 to bob; the last is i = 1196, seq 599.
    assert_eq!(summary(store, alice, ab).await.read_seq, 599);
    assert_eq!(summary(store, bob, ab).await.read_seq, 600);
    assert_eq!(summary(store, carol, ac).await.read_seq, 300);
    assert_eq!(summary(store, alice, ac).await.read_seq, 0);
    assert_eq!(summary(store, bob, bc).await.read_seq, 300);
}

async fn cmid_is_scoped_per_sender(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    // The same cmid from two senders names two different messages.
    let a = send(store, alice, bob, "same", "from alice", T0 + 1).await;
    let b = send(store, bob, alice, "same", "from bob", T0 + 2).await;
    assert!(!a.duplicate && !b.duplicate);
    assert_ne!(a.msg_id, b.msg_id);
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(all_messages(store, a.conv).await.len(), 2);
}

async fn cmid_comparison_is_exact(store: &dyn Store) {
    // cmids are opaque byte strings: no case folding, no trimming. (Guards
    // against case-insensitive or PAD SPACE collations.)
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let cmids = ["abc", "ABC", "abc ", "ábc"];
    let mut out = Vec::new();
    for (i, cmid) in cmids.iter().enumerate() {
        out.push(send(store, alice, bob, cmid, "x", T0 + i as i64).await);
    }
    assert!(out.iter().all(|r| !r.duplicate), "{out:?}");
    assert_eq!(out.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let stored: Vec<String> = all_messages(store, out[0].conv)
        .await
        .into_iter()
        .map(|m| m.cmid)
        .collect();
    assert_eq!(stored, cmids);
}

async fn duplicate_cmid_to_another_recipient_returns_the_original(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let first = send(store, alice, bob, "c1", "to bob", T0 + 1).await;
    let again = send(store, alice, carol, "c1", "to carol", T0 + 2).await;
    assert_eq!(
        again,
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert_no_messages_between(store, alice, carol).await;
    assert!(
        store
            .conversations(carol)
            .await
            .expect("conversations")
            .is_empty()
    );
}

async fn failed_batch_stores_nothing(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let nobody: UserId = 987_654_321;
    // The second message names a recipient that does not exist, which no
    // backend can store; the whole batch must fail and leave no trace.
    let result = store
        .append_batch(&[
            new_msg(alice, bob, "c1", "fine", T0 + 1),
            new_msg(alice, nobody, "c2", "to nobody", T0 + 2),
        ])
        .await;
    assert!(result.is_err(), "expected an error, got {result:?}");
    assert_no_messages_between(store, alice, bob).await;
    assert!(
        store
            .conversations(alice)
            .await
            .expect("conversations")
            .is_empty()
    );
    assert!(
        store
            .conv_positions(bob)
            .await
            .expect("conv_positions")
            .iter()
            .all(|&(_, last_seq)| last_seq == 0),
        "no seq was allocated"
    );

    // The cmid was not consumed and no seq was allocated.
    let ok = send(store, alice, bob, "c1", "fine", T0 + 3).await;
    assert_eq!((ok.seq, ok.duplicate), (1, false));
    assert_eq!(all_messages(store, ok.conv).await.len(), 1);
}

/// Nothing was stored between two users. The contract allows an empty
/// conversation to exist (made before a batch that then failed), but it
/// holds no message and uses no seq.
async fn assert_no_messages_between(store: &dyn Store, a: UserId, b: UserId) {
    if let Some(conv) = store.direct_conv(a, b).await.expect("direct_conv") {
        assert!(
            all_messages(store, conv).await.is_empty(),
            "conv {conv} has messages"
        );
        let positions = store.conv_positions(a).await.expect("conv_positions");
        assert!(positions.contains(&(conv, 0)), "{positions:?}");
    }
}

async fn concurrent_appends_stay_gapless(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let one = |i: i64| {
        let sender = if i % 2 == 0 { alice } else { bob };
        let recipient = if i % 2 == 0 { bob } else { alice };
        async move {
            let batch = [
                new_msg(sender, recipient, &format!("c{i}a"), "x", T0 + i),
                new_msg(sender, recipient, &format!("c{i}b"), "y", T0 + i),
            ];
            store.append_batch(&batch).await.expect("append_batch")
        }
    };
    let (r0, r1, r2, r3, r4, r5) = tokio::join!(one(0), one(1), one(2), one(3), one(4), one(5));
    let all: Vec<Appended> = [r0, r1, r2, r3, r4, r5].into_iter().flatten().collect();
    let conv = all[0].conv;
    assert!(all.iter().all(|r| r.conv == conv && !r.duplicate));
    let got: BTreeSet<Seq> = all.iter().map(|r| r.seq).collect();
    assert_eq!(got, (1..=12).collect(), "each seq exactly once, no gaps");
    // Each batch is one transaction: its two messages are adjacent.
    for pair in all.chunks(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "{pair:?}");
    }
    assert_eq!(
        seqs(&all_messages(store, conv).await),
        (1..=12).collect::<Vec<_>>()
    );
}

async fn sender_read_mark_moves_to_its_own_message(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let mut last = send(store, alice, bob, "a1", "1", T0 + 1).await;
    for i in 2..=3 {
        last = send(store, alice, bob, &format!("a{i}"), "x", T0 + i).await;
    }
    let conv = last.conv;
    assert_eq!(summary(store, alice, conv).await.read_seq, 3);
    assert_eq!(
        summary(store, bob, conv).await.read_seq,
        0,
        "recipient has read nothing"
    );

    let reply = send(store, bob, alice, "b1", "y", T0 + 10).await;
    assert_eq!(reply.seq, 4);
    assert_eq!(summary(store, bob, conv).await.read_seq, 4);
    assert_eq!(
        summary(store, alice, conv).await.read_seq,
        3,
        "the other member's mark does not move"
    );

    // A duplicate writes nothing, so it moves no read mark either.
    store
        .mark_read(bob, conv, 2)
        .await
        .expect("mark_read")
        .expect("bob is a member");
    let dup = send(store, alice, bob, "a1", "1", T0 + 20).await;
    assert!(dup.duplicate);
    assert_eq!(summary(store, alice, conv).await.read_seq, 3);
}

// ---------------------------------------------------------------------------
// Conversations and membership
// ---------------------------------------------------------------------------

async fn direct_conv_is_symmetric(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        None
    );

    let ab = send(store, bob, alice, "b1", "x", T0).await.conv;
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        Some(ab)
    );
    assert_eq!(
        store.direct_conv(bob, alice).await.expect("direct_conv"),
        Some(ab)
    );
    assert_eq!(
        store.direct_conv(alice, carol).await.expect("direct_conv"),
        None
    );
    assert_eq!(
        store.direct_conv(carol, bob).await.expect("direct_conv"),
        None
    );

    let ac = send(store, alice, carol, "a1", "x", T0 + 1).await.conv;
    assert_ne!(ab, ac);
    assert_eq!(
        store.direct_conv(carol, alice).await.expect("direct_conv"),
        Some(ac)
    );
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        Some(ab)
    );
}

async fn is_member_only_for_participants(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let ab = send(store, alice, bob, "a1", "x", T0).await.conv;
    let ac = send(store, alice, carol, "a2", "x", T0 + 1).await.conv;

    assert!(store.is_member(alice, ab).await.expect("is_member"));
    assert!(
        store.is_member(bob, ab).await.expect("is_member"),
        "the recipient is a member"
    );
    assert!(!store.is_member(carol, ab).await.expect("is_member"));
    assert!(store.is_member(carol, ac).await.expect("is_member"));
    assert!(!store.is_member(bob, ac).await.expect("is_member"));
    let no_conv = ab.max(ac) + 1000;
    assert!(!store.is_member(alice, no_conv).await.expect("is_member"));
    assert!(!store.is_member(987_654_321, ab).await.expect("is_member"));
}

async fn conv_positions_lists_every_conversation(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "dave").await;
    assert!(
        store
            .conv_positions(alice)
            .await
            .expect("conv_positions")
            .is_empty()
    );

    let mut ab = 0;
    for i in 1..=3 {
        ab = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    let ac = send(store, carol, alice, "c1", "x", T0 + 10).await.conv;
    let bc = send(store, bob, carol, "b1", "x", T0 + 11).await.conv;

    // The order is not part of the contract; compare sorted.
    let sorted = |mut v: Vec<(ConvId, Seq)>| {
        v.sort_unstable();
        v
    };
    assert_eq!(
        sorted(store.conv_positions(alice).await.expect("conv_positions")),
        sorted(vec![(ab, 3), (ac, 1)])
    );
    assert_eq!(
        sorted(store.conv_positions(bob).await.expect("conv_positions")),
        sorted(vec![(ab, 3), (bc, 1)])
    );
    assert_eq!(
        sorted(store.conv_positions(carol).await.expect("conv_positions")),
        sorted(vec![(ac, 1), (bc, 1)])
    );
    assert!(
        store
            .conv_positions(dave)
            .await
            .expect("conv_positions")
            .is_empty()
    );

    // Reading does not change positions; sending does.
    assert_eq!(
        store.mark_read(bob, ab, 3).await.expect("mark_read"),
        Some(3)
    );
    send(store, bob, alice, "b2", "x", T0 + 12).await;
    assert_eq!(
        sorted(store.conv_positions(alice).await.expect("conv_positions")),
        sorted(vec![(ab, 4), (ac, 1)])
    );
}

async fn conversation_list_shows_peer_last_message_and_marks(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "dave").await;
    assert!(
        store
            .conversations(alice)
            .await
            .expect("conversations")
            .is_empty()
    );

    let a1 = send(store, alice, bob, "a1", "hello bob", T0 + 1000).await;
    let c1 = send(store, carol, alice, "c1", "hello alice", T0 + 2000).await;
    let b1 = send(store, bob, alice, "b1", "hi alice", T0 + 3000).await;
    let (ab, ac) = (a1.conv, c1.conv);

    let alice_list = store.conversations(alice).await.expect("conversations");
    assert_eq!(
        alice_list,
        vec![
            ConvSummary {
                conv: ab,
                peer: "bob".into(),
                last_seq: 2,
                read_seq: 1,
                last: Some(Message {
                    msg_id: b1.msg_id,
                    conv: ab,
                    seq: 2,
                    from: "bob".into(),
                    to: "alice".into(),
                    body: "hi alice".into(),
                    ts: T0 + 3000,
                    cmid: "b1".into(),
                }),
            },
            ConvSummary {
                conv: ac,
                peer: "carol".into(),
                last_seq: 1,
                read_seq: 0,
                last: Some(Message {
                    msg_id: c1.msg_id,
                    conv: ac,
                    seq: 1,
                    from: "carol".into(),
                    to: "alice".into(),
                    body: "hello alice".into(),
                    ts: T0 + 2000,
                    cmid: "c1".into(),
                }),
            },
        ]
    );

    // The same conversation seen by the other member: peer and read mark
    // are the viewer's, the last message is the same.
    let bob_list = store.conversations(bob).await.expect("conversations");
    assert_eq!(bob_list.len(), 1);
    assert_eq!(bob_list[0].conv, ab);
    assert_eq!(bob_list[0].peer, "alice");
    assert_eq!(bob_list[0].last_seq, 2);
    assert_eq!(bob_list[0].read_seq, 2);
    assert_eq!(bob_list[0].last, alice_list[0].last);

    // Alice answers carol: that conversation becomes the most recent, and
    // its last message is from alice to carol.
    let a2 = send(store, alice, carol, "a2", "hey carol", T0 + 4000).await;
    let alice_list = store.conversations(alice).await.expect("conversations");
    assert_eq!(
        alice_list.iter().map(|s| s.conv).collect::<Vec<_>>(),
        [ac, ab],
        "most recently active first"
    );
    assert_eq!(alice_list[0].peer, "carol");
    assert_eq!((alice_list[0].last_seq, alice_list[0].read_seq), (2, 2));
    assert_eq!(
        alice_list[0].last,
        Some(Message {
            msg_id: a2.msg_id,
            conv: ac,
            seq: 2,
            from: "alice".into(),
            to: "carol".into(),
            body: "hey carol".into(),
            ts: T0 + 4000,
            cmid: "a2".into(),
        })
    );
    let carol_list = store.conversations(carol).await.expect("conversations");
    assert_eq!(carol_list.len(), 1);
    assert_eq!(carol_list[0].peer, "alice");
    assert_eq!(
        carol_list[0].read_seq, 1,
        "carol read up to her own message"
    );
    assert_eq!(carol_list[0].last, alice_list[0].last);

    // The last message agrees with the message log.
    let log = all_messages(store, ac).await;
    assert_eq!(log.last().cloned(), alice_list[0].last);

    // A duplicate does not make a conversation more recent.
    send(store, alice, bob, "a1", "hello bob", T0 + 5000).await;
    assert_eq!(
        store
            .conversations(alice)
            .await
            .expect("conversations")
            .iter()
            .map(|s| s.conv)
            .collect::<Vec<_>>(),
        [ac, ab]
    );
    assert!(
        store
            .conversations(dave)
            .await
            .expect("conversations")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------
// Reading messages
// ---------------------------------------------------------------------------

/// Ten messages alternating alice → bob, bob → alice; returns their conv.
async fn ten_message_conversation(store: &dyn Store) -> (UserId, UserId, ConvId) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let batch: Vec<NewMessage> = (1..=10)
        .map(|i| {
            let (s, r) = if i % 2 == 1 {
                (alice, bob)
            } else {
                (bob, alice)
            };
            new_msg(s, r, &format!("m{i}"), &format!("message {i}"), T0 + i)
        })
        .collect();
    let out = store.append_batch(&batch).await.expect("append_batch");
    (alice, bob, out[0].conv)
}

async fn messages_after_pages_forward(store: &dyn Store) {
    let (alice, bob, conv) = ten_message_conversation(store).await;
    // Noise in another conversation must not leak in.
    let carol = user(store, "carol").await;
    let other = send(store, alice, carol, "x1", "other", T0 + 100)
        .await
        .conv;
    let _ = bob;

    let all = store
        .messages_after(conv, 0, 100)
        .await
        .expect("messages_after");
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    for m in &all {
        let (from, to) = if m.seq % 2 == 1 {
            ("alice", "bob")
        } else {
            ("bob", "alice")
        };
        assert_eq!(m.conv, conv);
        assert_eq!(
            (m.from.as_str(), m.to.as_str()),
            (from, to),
            "seq {}",
            m.seq
        );
        assert_eq!(m.body, format!("message {}", m.seq));
        assert_eq!(m.cmid, format!("m{}", m.seq));
        assert_eq!(m.ts, T0 + m.seq);
    }

    let page = |after: Seq, limit: u32| async move {
        seqs(
            &store
                .messages_after(conv, after, limit)
                .await
                .expect("messages_after"),
        )
    };
    assert_eq!(page(0, 3).await, [1, 2, 3]);
    assert_eq!(page(3, 4).await, [4, 5, 6, 7], "strictly after the cursor");
    assert_eq!(page(8, 4).await, [9, 10], "short last page");
    assert_eq!(page(9, 1).await, [10]);
    assert_eq!(
        page(10, 5).await,
        Vec::<Seq>::new(),
        "nothing after the end"
    );
    assert_eq!(page(50, 5).await, Vec::<Seq>::new());
    assert_eq!(
        page(0, 0).await,
        Vec::<Seq>::new(),
        "limit 0 returns nothing"
    );
    assert_eq!(page(-5, 2).await, [1, 2]);

    // Walking the cursor forward visits each message exactly once.
    let mut cursor = 0;
    let mut walked = Vec::new();
    loop {
        let got = page(cursor, 3).await;
        let Some(&last) = got.last() else { break };
        walked.extend(got);
        cursor = last;
    }
    assert_eq!(walked, (1..=10).collect::<Vec<_>>());

    assert_eq!(seqs(&all_messages(store, other).await), [1]);
    let no_conv = conv.max(other) + 1000;
    assert!(
        store
            .messages_after(no_conv, 0, 10)
            .await
            .expect("messages_after")
            .is_empty()
    );
}

async fn messages_before_pages_backward(store: &dyn Store) {
    let (alice, _bob, conv) = ten_message_conversation(store).await;
    let carol = user(store, "carol").await;
    let other = send(store, alice, carol, "x1", "other", T0 + 100)
        .await
        .conv;

    let page = |before: Seq, limit: u32| async move {
        seqs(
            &store
                .messages_before(conv, before, limit)
                .await
                .expect("messages_before"),
        )
    };
    assert_eq!(page(11, 3).await, [8, 9, 10], "the newest 3, ascending");
    assert_eq!(page(Seq::MAX, 3).await, [8, 9, 10], "from the newest");
    assert_eq!(page(8, 3).await, [5, 6, 7], "strictly before the cursor");
    assert_eq!(page(3, 5).await, [1, 2], "short first page");
    assert_eq!(page(2, 1).await, [1]);
    assert_eq!(page(1, 5).await, Vec::<Seq>::new(), "nothing before seq 1");
    assert_eq!(page(0, 5).await, Vec::<Seq>::new());
    assert_eq!(
        page(11, 0).await,
        Vec::<Seq>::new(),
        "limit 0 returns nothing"
    );
    assert_eq!(page(11, 100).await, (1..=10).collect::<Vec<_>>());

    let full = store
        .messages_before(conv, 11, 100)
        .await
        .expect("messages_before");
    assert_eq!(
        full,
        all_messages(store, conv).await,
        "same messages as messages_after"
    );

    // Walking backwards with before = first seq of the page visits every
    // message once; pages prepended give the whole log in order.
    let mut before = Seq::MAX;
    let mut pages: Vec<Vec<Seq>> = Vec::new();
    loop {
        let got = page(before, 4).await;
        let Some(&first) = got.first() else { break };
        pages.push(got);
        before = first;
    }
    assert_eq!(pages, vec![vec![7, 8, 9, 10], vec![3, 4, 5, 6], vec![1, 2]]);

    let other_page = store
        .messages_before(other, Seq::MAX, 10)
        .await
        .expect("messages_before");
    assert_eq!(other_page.len(), 1);
    assert_eq!(other_page[0].body, "other");
    let no_conv = conv.max(other) + 1000;
    assert!(
        store
            .messages_before(no_conv, Seq::MAX, 10)
            .await
            .expect("messages_before")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------
// Read marks
// ---------------------------------------------------------------------------

async fn mark_read_moves_forward_only_and_clamps(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let mut conv = 0;
    for i in 1..=3 {
        conv = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    send(store, bob, alice, "b1", "x", T0 + 4).await;
    send(store, bob, alice, "b2", "x", T0 + 5).await;
    // Now: last_seq 5, alice read 3 (her own), bob read 5 (his own).

    let mark = |user: UserId, seq: Seq| async move {
        store.mark_read(user, conv, seq).await.expect("mark_read")
    };
    assert_eq!(mark(alice, 4).await, Some(4));
    assert_eq!(mark(alice, 2).await, Some(4), "never backwards");
    assert_eq!(mark(alice, 4).await, Some(4), "same position is a no-op");
    assert_eq!(mark(alice, 0).await, Some(4));
    assert_eq!(mark(alice, -1).await, Some(4));
    assert_eq!(mark(alice, 99).await, Some(5), "clamped to last_seq");
    assert_eq!(mark(alice, Seq::MAX).await, Some(5));
    assert_eq!(
        summary(store, alice, conv).await.read_seq,
        5,
        "the mark is stored"
    );
    assert_eq!(summary(store, bob, conv).await.read_seq, 5);

    // Clamping follows the conversation as it grows.
    send(store, bob, alice, "b3", "x", T0 + 6).await;
    assert_eq!(summary(store, alice, conv).await.read_seq, 5);
    assert_eq!(mark(alice, 100).await, Some(6));

    // Not a member, or no such conversation: None, and nothing changes.
    assert_eq!(mark(carol, 1).await, None);
    assert_eq!(
        store
            .mark_read(alice, conv + 1000, 1)
            .await
            .expect("mark_read"),
        None
    );
    assert!(
        store
            .conversations(carol)
            .await
            .expect("conversations")
            .is_empty()
    );
    assert!(!store.is_member(carol, conv).await.expect("is_member"));
}

async fn mark_read_is_per_member(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let mut conv = 0;
    for i in 1..=4 {
        conv = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    assert_eq!(
        store.mark_read(bob, conv, 2).await.expect("mark_read"),
        Some(2)
    );
    assert_eq!(summary(store, bob, conv).await.read_seq, 2);
    assert_eq!(summary(store, alice, conv).await.read_seq, 4);
    assert_eq!(
        store.mark_read(bob, conv, 3).await.expect("mark_read"),
        Some(3)
    );
    assert_eq!(summary(store, bob, conv).await.read_seq, 3);
}

// ---------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------

async fn awkward_bodies_round_trip_exactly(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    // 8 bytes per repetition: 1 + 3 + 4; 8192 of them are exactly 64 KiB.
    let big: String = "a你🐦".repeat(8192);
    assert_eq!(big.len(), 64 * 1024);
    let bodies: Vec<String> = vec![
        "it's".into(),
        "\"double\" and 'single' quotes, `backticks`".into(),
        "Robert'); DROP TABLE messages;--".into(),
        "'; DELETE FROM users WHERE '1'='1".into(),
        "\\' \\\" \\\\ \\n (backslashes)".into(),
        "% _ ? ?1 $1 :name @p (placeholders and wildcards)".into(),
        "line one\nline two\r\n\ttabbed".into(),
        "你好，世界！中文消息".into(),
        "emoji 🐦🔥 family 👨‍👩‍👧 flag 🇳🇿 skin 👍🏽".into(),
        "e\u{301} vs é, عربى, עברית, \u{200b}zero-width".into(),
        " ".into(),
        "x".into(),
        big,
    ];
    let batch: Vec<NewMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| new_msg(alice, bob, &format!("c{i}"), b, T0 + i as i64))
        .collect();
    let out = store.append_batch(&batch).await.expect("append_batch");
    let conv = out[0].conv;

    let stored = all_messages(store, conv).await;
    assert_eq!(stored.len(), bodies.len());
    for (m, b) in stored.iter().zip(&bodies) {
        assert!(
            m.body.as_bytes() == b.as_bytes(),
            "body of seq {} changed",
            m.seq
        );
    }
    let backward = store
        .messages_before(conv, Seq::MAX, ALL)
        .await
        .expect("messages_before");
    assert_eq!(backward, stored);
    let list = store.conversations(bob).await.expect("conversations");
    assert_eq!(
        list[0].last.as_ref().map(|m| m.body.as_bytes()),
        bodies.last().map(|b| b.as_bytes()),
        "the 64 KiB body as the last message"
    );
    // Injection attempts did nothing: the users are intact.
    assert!(
        store
            .user_by_name("alice")
            .await
            .expect("user_by_name")
            .is_some()
    );
    assert!(
        store
            .user_by_name("bob")
            .await
            .expect("user_by_name")
            .is_some()
    );
}

async fn awkward_cmids_and_devices_round_trip(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let cmids = [
        "it's \"quoted\"",
        "'); DROP TABLE messages;--",
        "消息-🐦-1",
        &"z".repeat(64),
    ];
    for (i, cmid) in cmids.iter().enumerate() {
        let first = send(store, alice, bob, cmid, "x", T0 + i as i64).await;
        assert!(!first.duplicate);
        let again = send(store, alice, bob, cmid, "x", T0 + 100).await;
        assert_eq!(
            again,
            Appended {
                duplicate: true,
                ..first
            },
            "{cmid}"
        );
    }
    let conv = store
        .direct_conv(alice, bob)
        .await
        .expect("direct_conv")
        .expect("conversation exists");
    let stored: Vec<String> = all_messages(store, conv)
        .await
        .into_iter()
        .map(|m| m.cmid)
        .collect();
    assert_eq!(stored, cmids);

    let device = "Alice's \"Pixel\" 手机 📱";
    let hash = token_hash(1);
    store
        .create_token(&hash, alice, device, T0, T0 + 1000)
        .await
        .expect("create_token");
    assert_eq!(
        store
            .token(&hash, T0)
            .await
            .expect("token")
            .map(|t| t.device),
        Some(device.to_owned())
    );
    // Token hashes are raw bytes, including zeros and high bytes.
    let raw = [0u8, 0xff, 0x27, 0x22, 0x5c, 0x00, 0x80];
    store
        .create_token(&raw, bob, "raw", T0, T0 + 1000)
        .await
        .expect("create_token");
    assert_eq!(
        store
            .token(&raw, T0)
            .await
            .expect("token")
            .map(|t| t.user_id),
        Some(bob)
    );
    assert_eq!(store.token(&raw[..5], T0).await.expect("token"), None);
}

// ---------------------------------------------------------------------------
// Durability across reopen
// ---------------------------------------------------------------------------

async fn data_survives_reopen<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let hash = token_hash(7);
    store
        .create_token(&hash, alice, "laptop", T0, T0 + 1_000_000)
        .await
        .expect("create_token");
    let batch: Vec<NewMessage> = (1..=5)
        .map(|i| {
            new_msg(
                alice,
                bob,
                &format!("c{i}"),
                &format!("durable {i} 🐦"),
                T0 + i,
            )
        })
        .collect();
    let acks = store.append_batch(&batch).await.expect("append_batch");
    let conv = acks[0].conv;
    let reply = send(store, bob, alice, "b1", "reply", T0 + 10).await;
    assert_eq!(
        store.mark_read(alice, conv, 6).await.expect("mark_read"),
        Some(6)
    );
    let before_messages = all_messages(store, conv).await;
    let before_alice_list = store.conversations(alice).await.expect("conversations");
    let before_bob_list = store.conversations(bob).await.expect("conversations");

    let harness = harness.reopen().await;
    let store = harness.store();

    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        Some(UserRecord {
            id: alice,
            username: "alice".into(),
            password_hash: hash_for("alice"),
        })
    );
    assert_eq!(
        store.token(&hash, T0).await.expect("token"),
        Some(TokenRecord {
            user_id: alice,
            username: "alice".into(),
            device: "laptop".into(),
            expires_at: T0 + 1_000_000,
        })
    );
    let after_messages = all_messages(store, conv).await;
    assert_eq!(after_messages, before_messages);
    assert_eq!(seqs(&after_messages), [1, 2, 3, 4, 5, 6]);
    assert_eq!(after_messages[5].msg_id, reply.msg_id);
    assert_eq!(
        store.conversations(alice).await.expect("conversations"),
        before_alice_list
    );
    assert_eq!(
        store.conversations(bob).await.expect("conversations"),
        before_bob_list
    );
    assert_eq!(summary(store, alice, conv).await.read_seq, 6);
    assert_eq!(
        store.direct_conv(bob, alice).await.expect("direct_conv"),
        Some(conv)
    );
    assert!(store.is_member(bob, conv).await.expect("is_member"));

    // Idempotency and seq allocation carry on across the restart.
    let retry = send(store, alice, bob, "c3", "durable 3 🐦", T0 + 99).await;
    assert_eq!(
        retry,
        Appended {
            duplicate: true,
            ..acks[2]
        }
    );
    let next = send(store, alice, bob, "c7", "after restart", T0 + 100).await;
    assert_eq!((next.conv, next.seq, next.duplicate), (conv, 7, false));
    assert!(
        store.create_user("bob", "h", T0).await.is_err(),
        "usernames stay taken"
    );

    harness.close().await;
}

async fn every_write_kind_survives_reopen<H: Harness>(harness: H) {
    // Revocations, purges and read marks are writes too.
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (revoked, expired, kept) = (token_hash(1), token_hash(2), token_hash(3));
    for (hash, expires) in [(&revoked, T0 + 500), (&expired, T0 + 10), (&kept, T0 + 500)] {
        store
            .create_token(hash, alice, "d", T0, expires)
            .await
            .expect("create_token");
    }
    store.revoke_token(&revoked).await.expect("revoke_token");
    assert_eq!(store.purge_expired_tokens(T0 + 10).await.expect("purge"), 1);
    let mut conv = 0;
    for i in 1..=3 {
        conv = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    assert_eq!(
        store.mark_read(bob, conv, 2).await.expect("mark_read"),
        Some(2)
    );

    let harness = harness.reopen().await;
    let store = harness.store();
    assert_eq!(store.token(&revoked, T0).await.expect("token"), None);
    assert_eq!(store.token(&expired, T0).await.expect("token"), None);
    assert!(store.token(&kept, T0).await.expect("token").is_some());
    assert_eq!(summary(store, bob, conv).await.read_seq, 2);
    assert_eq!(summary(store, alice, conv).await.read_seq, 3);
    harness.close().await;
}

// ---------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------

/// Instantiate the suite for one backend: `store_suite!(module, Harness)`.
macro_rules! store_suite {
    ($backend:ident, $harness:ty $(, #[$attr:meta])*) => {
        store_suite!(@tests $backend, $harness, [$(#[$attr])*];
            store: [
                create_user_and_look_it_up,
                create_user_rejects_a_taken_name,
                usernames_with_every_allowed_character,
                token_create_and_lookup,
                expired_token_is_not_returned,
                revoke_token_removes_only_that_session,
                purge_expired_tokens_counts_and_keeps_valid_ones,
                live_tokens_reports_only_unexpired_unrevoked_ones,
                trim_tokens_keeps_the_newest,
                append_empty_batch,
                append_assigns_gapless_seqs,
                conversations_have_independent_seqs,
                reply_lands_in_the_same_conversation,
                resend_in_a_later_batch_is_a_duplicate,
                duplicate_within_one_batch,
                resend_inside_a_batch_of_new_messages,
                batch_larger_than_one_statement,
                cmid_is_scoped_per_sender,
                cmid_comparison_is_exact,
                duplicate_cmid_to_another_recipient_returns_the_original,
                failed_batch_stores_nothing,
                concurrent_appends_stay_gapless,
                sender_read_mark_moves_to_its_own_message,
                direct_conv_is_symmetric,
                is_member_only_for_participants,
                conv_positions_lists_every_conversation,
                conversation_list_shows_peer_last_message_and_marks,
                messages_after_pages_forward,
                messages_before_pages_backward,
                mark_read_moves_forward_only_and_clamps,
                mark_read_is_per_member,
                awkward_bodies_round_trip_exactly,
                awkward_cmids_and_devices_round_trip,
            ]
            harness: [
                data_survives_reopen,
                every_write_kind_survives_reopen,
                several_nodes_share_one_conversation_without_gaps,
            ]
        );
    };
    (@tests $backend:ident, $harness:ty, $attrs:tt;
        store: [$($test:ident),* $(,)?]
        harness: [$($htest:ident),* $(,)?]
    ) => {
        mod $backend {
            use super::Harness as _;

            $( store_suite!(@store $attrs, $harness, $test); )*
            $( store_suite!(@harness $attrs, $harness, $htest); )*
        }
    };
    (@store [$(#[$attr:meta])*], $harness:ty, $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $test() {
            let harness = <$harness>::fresh().await;
            super::$test(harness.store()).await;
            harness.close().await;
        }
    };
    (@harness [$(#[$attr:meta])*], $harness:ty, $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $test() {
            super::$test(<$harness>::fresh().await).await;
        }
    };
}

store_suite!(sqlite, super::SqliteHarness);
// The server engines run under `.ci/run`, which starts them; locally:
// `cargo test -p magpie-store --test store -- --ignored`.
store_suite!(postgres, super::PostgresHarness, #[ignore = "needs PostgreSQL; .ci/run runs it"]);
store_suite!(mysql, super::MySqlHarness, #[ignore = "needs MySQL/MariaDB; .ci/run runs it"]);

/// Several nodes (separate stores on one database) write into the same
/// conversations at once, in batches that touch two conversations in
/// different orders. Every message gets exactly one seq, with no gaps, and
/// no batch deadlocks for good: a transient failure is retried with the
/// same cmids, as the server's clients do.
async fn several_nodes_share_one_conversation_without_gaps<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    const NODES: usize = 3;
    const BATCHES: usize = 15;
    let mut tasks = Vec::new();
    for node in 0..NODES {
        let other = harness.another_node().await;
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let mut retries = 0;
            for b in 0..BATCHES {
                let mut batch = vec![
                    new_msg(
                        alice,
                        bob,
                        &format!("n{node}b{b}m0"),
                        "to bob",
                        T0 + b as i64,
                    ),
                    new_msg(
                        bob,
                        alice,
                        &format!("n{node}b{b}m1"),
                        "to alice",
                        T0 + b as i64,
                    ),
                    new_msg(
                        alice,
                        carol,
                        &format!("n{node}b{b}m2"),
                        "to carol",
                        T0 + b as i64,
                    ),
                ];
                if node % 2 == 1 {
                    batch.reverse();
                }
                let appended = loop {
                    match other.append_batch(&batch).await {
                        Ok(appended) => break appended,
                        Err(StoreError::Unavailable(_)) if retries < 100 => {
                            retries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                        Err(e) => panic!("node {node} batch {b}: {e}"),
                    }
                };
                acks.extend(batch.into_iter().zip(appended));
            }
            other.close().await;
            acks
        }));
    }
    let mut acks = Vec::new();
    for task in tasks {
        acks.extend(task.await.expect("node task"));
    }
    assert_eq!(acks.len(), NODES * BATCHES * 3);
    assert!(acks.iter().all(|(_, a)| !a.duplicate));
    let ab = store
        .direct_conv(alice, bob)
        .await
        .expect("direct_conv")
        .expect("a-b conv");
    let ac = store
        .direct_conv(alice, carol)
        .await
        .expect("direct_conv")
        .expect("a-c conv");
    for (conv, expected) in [(ab, NODES * BATCHES * 2), (ac, NODES * BATCHES)] {
        let stored = all_messages(store, conv).await;
        assert_eq!(
            seqs(&stored),
            (1..=expected as i64).collect::<Vec<_>>(),
            "conv {conv}"
        );
        let cmids: BTreeSet<&str> = stored.iter().map(|m| m.cmid.as_str()).collect();
        assert_eq!(
            cmids.len(),
            expected,
            "each cmid stored once in conv {conv}"
        );
        // Every ack names the seq its message really got.
        for (msg, ack) in acks.iter().filter(|(_, a)| a.conv == conv) {
            let at = stored
                .iter()
                .find(|m| m.seq == ack.seq)
                .expect("acked seq stored");
            assert_eq!(at.cmid, msg.cmid);
        }
    }
    harness.close().await;
}
