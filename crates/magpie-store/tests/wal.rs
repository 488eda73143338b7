//! The SQLite WAL checkpointer under writes that never pause.
//!
//! SQLite's WAL starts over (rewinds to its beginning, with new salts in
//! its header) only when a writer begins a transaction while every frame
//! has been checkpointed. A writer that never pauses always has frames the
//! checkpointer has not copied yet, so by itself the WAL would grow until
//! the checkpointer's forced `RESTART` at 256 MiB. `SqlStore` prevents that:
//! above 64 MiB its checkpointer catches up and asks the writer to copy the
//! last frames itself before its next batch, which then starts the WAL
//! over. This test drives exactly that path and watches the WAL from the
//! outside, reading its header with plain file reads (which neither
//! checkpoint nor take any SQLite lock).

use magpie_proto::{ConvId, MessageKind, UserId};
use magpie_store::{AccountStore, ConversationStore, MessageStore, NewMessage, SqlStore, Store};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

const MIB: u64 = 1 << 20;
/// `WAL_RESTART_BYTES` in `sql/mod.rs`: the WAL size at which the
/// checkpointer asks the writer to let the WAL start over.
const WAL_RESTART_BYTES: u64 = 64 * MIB;
/// `WAL_FORCE_RESTART_BYTES` in `sql/mod.rs`: the WAL size at which the
/// checkpointer forces a `RESTART` checkpoint itself. The test stays well
/// below it, so any restart it sees is the writer-side one.
const WAL_FORCE_RESTART_BYTES: u64 = 4 * WAL_RESTART_BYTES;
/// Message bodies written in all (the test stops at the first batch that
/// reaches it). Every byte of a body reaches the WAL (in overflow pages),
/// so the WAL holds at least this much unless it restarted.
const WRITE_CAP: u64 = 224 * MIB;
// The test never lets the WAL reach the forced restart (the WAL holds a
// little more than the bodies: row headers, index pages): any restart it
// sees is the checkpointer's catch-up followed by the writer's step.
const _: () = assert!(WRITE_CAP + 16 * MIB < WAL_FORCE_RESTART_BYTES);
/// Before this much has been written the WAL cannot have reached
/// [`WAL_RESTART_BYTES`] yet: the header seen here is the one the
/// checkpointer's restart must replace.
const BASELINE_BYTES: u64 = 48 * MIB;
/// Each message's body: large, so the volume is reached in few statements.
const BODY_BYTES: usize = 60_000;
/// Messages per batch (one transaction, one sync).
const BATCH: usize = 50;

/// The identity of one WAL generation: the header's checkpoint sequence
/// number and its two salts (bytes 12..24, see
/// <https://www.sqlite.org/fileformat2.html#walformat>). SQLite writes a
/// new header, with salt-1 incremented and a new random salt-2, each time
/// the WAL starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Generation {
    checkpoint_seq: u32,
    salt1: u32,
    salt2: u32,
}

/// The WAL file `wal`: its generation (`None` while the file has no header
/// yet) and its size.
fn wal_state(wal: &Path) -> (Option<Generation>, u64) {
    let Ok(mut file) = std::fs::File::open(wal) else {
        return (None, 0);
    };
    let len = file.metadata().expect("stat the WAL file").len();
    let mut header = [0u8; 32];
    if file.read_exact(&mut header).is_err() {
        return (None, len);
    }
    let word = |at: usize| {
        u32::from_be_bytes(
            header[at..at + 4]
                .try_into()
                .expect("a 4-byte slice of the header"),
        )
    };
    let magic = word(0);
    assert!(
        magic == 0x377f_0682 || magic == 0x377f_0683,
        "not a WAL header: magic {magic:#x}"
    );
    assert_eq!(word(8), 1024, "the store creates 1 KiB pages");
    let generation = Generation {
        checkpoint_seq: word(12),
        salt1: word(16),
        salt2: word(20),
    };
    (Some(generation), len)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn messages(conv: ConvId, sender: UserId, first: usize, body: &str) -> Vec<NewMessage> {
    (first..first + BATCH)
        .map(|i| NewMessage {
            file: None,
            conv,
            sender,
            kind: MessageKind::Text,
            cmid: format!("wal-{i}"),
            body: body.to_owned(),
            ts: 1_700_000_000_000 + i as i64,
            mention: None,
            ..NewMessage::default()
        })
        .collect()
}

/// Under back-to-back batches the WAL starts over once it has passed
/// 64 MiB, long before the forced restart at 256 MiB, and so does not grow
/// with everything written through it.
///
/// Without the writer-side step (`restart_wal_if_due`) this test fails:
/// with the writer never pausing, no checkpoint is ever complete when a
/// batch begins, so the header keeps its salts until the forced `RESTART`
/// (observed past 270 MiB), which [`WRITE_CAP`] stays short of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_starts_over_under_writes_without_pause() {
    let dir = tempfile::TempDir::new().expect("create a temporary directory");
    let db = dir.path().join("magpie.db");
    let wal = wal_path(&db);
    let store = SqlStore::open_sqlite(&db)
        .await
        .expect("open a new SQLite store");
    let alice = store
        .create_user("alice", "hash", 1)
        .await
        .expect("create alice");
    let bob = store
        .create_user("bob", "hash", 1)
        .await
        .expect("create bob");
    let conv = store
        .open_direct(alice, bob, 1)
        .await
        .expect("open the conversation");

    // The same body every time: it is stored in full each time all the same.
    let body = "x".repeat(BODY_BYTES);
    let started = Instant::now();
    let mut written: u64 = 0;
    let mut sent = 0;
    // The WAL's generation just before `BASELINE_BYTES` had been written.
    let mut baseline: Option<Generation> = None;
    // The largest the WAL file has been.
    let mut largest_wal: u64 = 0;
    // Each generation seen after the baseline, as (bytes written when first
    // seen, the WAL file's largest size by then, the generation).
    let mut seen: Vec<(u64, u64, Generation)> = Vec::new();
    // Batches back to back: nothing in this loop waits but the store.
    while written < WRITE_CAP {
        let batch = messages(conv, alice, sent, &body);
        let appended = store.append_batch(&batch).await.expect("append a batch");
        sent += BATCH;
        written += (BATCH * BODY_BYTES) as u64;
        assert_eq!(
            appended.last().map(|a| (a.seq, a.duplicate)),
            Some((sent as i64, false)),
            "every message is stored, in order"
        );

        let (generation, len) = wal_state(&wal);
        let generation = generation.expect("the WAL has a header once a batch is committed");
        largest_wal = largest_wal.max(len);
        if written < BASELINE_BYTES {
            baseline = Some(generation);
        } else if seen.last().is_none_or(|&(_, _, last)| last != generation) {
            seen.push((written, largest_wal, generation));
        }
    }
    let elapsed = started.elapsed();
    store.close().await;

    let baseline = baseline.expect("batches were written before the baseline");
    let report = seen
        .iter()
        .map(|(at, wal, g)| {
            format!(
                "{} MiB written (WAL file {} MiB): {g:?}",
                at / MIB,
                wal / MIB
            )
        })
        .collect::<Vec<_>>()
        .join("\n  ");
    eprintln!(
        "wrote {} MiB in {:.1} s; largest WAL file {} MiB; before {} MiB: {baseline:?}; then\n  {report}",
        written / MIB,
        elapsed.as_secs_f64(),
        largest_wal / MIB,
        BASELINE_BYTES / MIB,
    );
    // The WAL started over while the writing went on.
    let first_restart = seen
        .iter()
        .find(|&&(_, _, g)| g != baseline)
        .unwrap_or_else(|| {
            panic!(
                "the WAL never started over in {} MiB of writes without pause; \
                 it kept the generation it had before {} MiB: {baseline:?}",
                written / MIB,
                BASELINE_BYTES / MIB
            )
        });
    // Because it had grown past the restart size, not by luck earlier.
    let &(at, wal_before, generation) = first_restart;
    assert!(
        wal_before >= WAL_RESTART_BYTES,
        "the WAL started over ({generation:?}) at {} MiB written while its file \
         was only {} MiB: before it reached the restart size",
        at / MIB,
        wal_before / MIB
    );
    // The new generation is a successor of the old one (salt-1 counts up),
    // not a WAL recreated from scratch.
    assert!(
        generation.checkpoint_seq > baseline.checkpoint_seq,
        "{baseline:?} -> {generation:?}"
    );
    // And the file was reused from its beginning rather than growing with
    // every batch: it never came near holding everything written.
    assert!(
        largest_wal + WAL_RESTART_BYTES / 2 < written,
        "the WAL file reached {} MiB for {} MiB written",
        largest_wal / MIB,
        written / MIB
    );
}
