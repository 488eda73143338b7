//! Benchmark of the drive's cost model ([`DriveStore`]) on SQLite.
//!
//! The drive is a tree with one parent pointer per entry, so what a user
//! does to a folder should cost the same whatever the folder holds:
//! - `move/{flat,nested}/N`: [`DriveStore::drive_move`] of a folder holding
//!   N files into another folder and back (two transactions per
//!   iteration). `flat` holds the N files directly; `nested` spreads them
//!   over a tree of sub-folders ten wide (10, 110 and 1,110 sub-folders for
//!   N = 100, 1,000, 10,000), since a move reads how deep the moved
//!   folder's sub-folders go. Expected: flat in N for `flat`.
//! - `trash_restore/{flat,nested}/N`: [`DriveStore::drive_trash`] of the
//!   same folders, then [`DriveStore::drive_restore`] back into the folder
//!   they were in (two transactions; the restore reads the height too).
//! - `purge/all/N`: a binned and marked folder of N files purged by
//!   [`DriveStore::drive_purge_step`] (`Some(owner)`, `i64::MIN`, 200 per
//!   step, as the server does) until idle; throughput in entries. Each
//!   iteration first saves a fresh copy of the folder, bins and marks it
//!   (not timed). After the group, a line per N gives the median time of
//!   the first, middle and last steps: a step should cost the same however
//!   many files are left.
//! - `copy/{flat,nested}/N`: [`DriveStore::drive_copy`] of another user's
//!   folder of N files (`nested`: the 100 files in 10 sub-folders) into a
//!   drive (one transaction; throughput in entries copied, folders
//!   included), the copy purged untimed afterwards.
//! - `search/…`: [`DriveStore::drive_search`] for one page (51 rows, as
//!   the server asks) in a drive of 10,000 entries: a substring found in a
//!   quarter of the names, in Chinese and in Latin; one found in a single
//!   name; one found in every name.
//! - `ancestry/D`: [`DriveStore::drive_ancestry`] of a folder D levels deep.
//! - `add/{folder,file}/E`: [`DriveStore::drive_add`] of one folder, or of
//!   one file over content the owner does not hold yet, to the top of a
//!   drive of E entries (removed again untimed).
//! - `move_crowded/{flat,nested}/100`: the moves of `move/…/100` again,
//!   last, after other users' drives have added 20,000 folders to the
//!   database (there are about 1,400 before).
//!
//! Files have distinct content (one blob each) and names such as
//! `会议纪要 00420.docx` or `Quarterly Report 01233.pdf`. The fixture is
//! built on a non-durable connection (`synchronous = NORMAL`), then the
//! database is reopened with the default, durable settings for the
//! measurements, so every measured transaction ends in a real fsync. On
//! the 2-core machines of this project that fsync is a large part of the
//! cheap operations; compare ratios within one run. Untimed setups that
//! write thousands of rows are followed by a pause of about a second, so
//! that the store's checkpointer (every 500 ms) does not copy their WAL
//! frames during the next timing.
//!
//! The purges and copies take one iteration per sample and a measurement
//! time far below what they need, so criterion warns that it cannot finish
//! in time; that is deliberate (it bounds each case to 11 iterations).
//!
//! Run with `cargo bench -p magpie-store --bench drive` (about 5 minutes,
//! half a minute or more of it building the fixture).

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main, measurement::WallTime,
};
use magpie_proto::UserId;
use magpie_store::drive::{DriveLimits, NewContent, NewEntry, OnClash};
use magpie_store::files::{BlobRecord, FilePurpose, FileRecord, Finished, UploadRecord};
use magpie_store::{AccountStore, DriveStore, FileStore, SqlStore, Store};
use std::slice::from_ref;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Limits that never get in the way.
const OPEN: DriveLimits = DriveLimits {
    quota: 1 << 50,
    max_entries: 10_000_000,
    max_copy: 1_000_000,
};

/// How long an entry stays in the bin (only shown to clients here).
const BIN_RETENTION: i64 = 30 * 86_400_000;

/// Entries one purge step removes, as the server's `PURGE_STEP`.
const PURGE_STEP: u32 = 200;

/// Folder sizes of the move, bin and purge cases.
const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// Sub-folders per folder in the nested variant.
const FANOUT: usize = 10;

/// Files in the pool every folder of the fixture is copied from.
const POOL: usize = 10_000;

/// Users who upload the pool's content, each a share of it (so no upload
/// checks a quota over thousands of files).
const UPLOADERS: usize = 100;

/// Other users, and empty folders at the top of each one's drive, added
/// before the last benches: 20,000 more folders in the database.
const CROWD_USERS: usize = 20;
const CROWD_FOLDERS: usize = 1_000;

const T0: i64 = 1_767_225_600_000;

/// A strictly increasing clock, so that every change has its own time.
fn now() -> i64 {
    static CLOCK: AtomicI64 = AtomicI64::new(T0);
    CLOCK.fetch_add(1, Ordering::Relaxed)
}

/// A fresh id: 128 random bits in lowercase hex, like the server's.
fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of the pool's `i`th file: a quarter each of Chinese and Latin
/// documents and photos.
fn file_name(i: usize) -> String {
    match i % 4 {
        0 => format!("会议纪要 {i:05}.docx"),
        1 => format!("Quarterly Report {i:05}.pdf"),
        2 => format!("照片 {i:05}.jpg"),
        _ => format!("Holiday Photo {i:05}.jpg"),
    }
}

/// Upload distinct content number `i` as `owner`'s file and adopt it into
/// `owner`'s folder `parent`; returns the entry's id.
async fn upload_into(store: &SqlStore, owner: UserId, parent: &str, i: usize) -> String {
    let size = 10_000 + i as i64;
    let up = UploadRecord {
        id: new_id(),
        owner,
        total_size: size,
        received: 0,
        name: file_name(i),
        created_at: T0,
        expires_at: T0 + 3_600_000,
        file_id: None,
    };
    store
        .create_upload(&up, OPEN.quota, 1_000)
        .await
        .expect("create an upload");
    let mut sha256 = [0xb5u8; 32];
    sha256[..8].copy_from_slice(&(i as u64).to_be_bytes());
    let blob = BlobRecord {
        sha256,
        storage_key: format!("blobs/{}", new_id()),
        size,
        mime: "application/octet-stream".into(),
        media: None,
        thumb_key: None,
    };
    let file = FileRecord {
        id: new_id(),
        owner,
        name: file_name(i),
        purpose: FilePurpose::Upload,
        conv: None,
        seq: None,
        created_at: T0,
        blob: blob.clone(),
    };
    let Finished::Stored(file) = store
        .finish_upload(&up.id, &blob, &file, now())
        .await
        .expect("finish an upload")
    else {
        panic!("content {i} was stored before");
    };
    add(
        store,
        owner,
        parent,
        &file_name(i),
        NewContent::Adopt { file_id: file.id },
    )
    .await
}

/// Add an entry to `owner`'s folder `parent`; returns its id.
async fn add(
    store: &SqlStore,
    owner: UserId,
    parent: &str,
    name: &str,
    content: NewContent,
) -> String {
    let entry = NewEntry {
        id: new_id(),
        owner,
        parent: parent.into(),
        name: name.into(),
        content,
        now: now(),
    };
    store
        .drive_add(&entry, OnClash::Refuse, OPEN)
        .await
        .expect("add a drive entry")
        .value
        .id
}

async fn folder(store: &SqlStore, owner: UserId, parent: &str, name: &str) -> String {
    add(store, owner, parent, name, NewContent::Folder).await
}

/// Copy `sources` into `owner`'s folder `parent`; returns the new
/// top-level ids.
async fn copy(store: &SqlStore, owner: UserId, sources: &[String], parent: &str) -> Vec<String> {
    store
        .drive_copy(owner, sources, parent, OPEN, now())
        .await
        .expect("copy")
        .value
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Copies of `files` in `owner`'s folder `parent`: directly if `fanout` is
/// `None`, else spread over a tree of sub-folders `fanout` wide whose
/// deepest folders hold at most `fanout` files each.
async fn fill(
    store: &SqlStore,
    owner: UserId,
    parent: &str,
    files: &[String],
    fanout: Option<usize>,
) {
    let mut work = vec![(parent.to_string(), files)];
    while let Some((parent, files)) = work.pop() {
        match fanout {
            Some(fanout) if files.len() > fanout => {
                for (k, part) in files.chunks(files.len().div_ceil(fanout)).enumerate() {
                    let dir = folder(store, owner, &parent, &format!("dir-{k}")).await;
                    work.push((dir, part));
                }
            }
            _ => {
                copy(store, owner, files, &parent).await;
            }
        }
    }
}

/// Bin, mark and purge `owner`'s entry `id`; returns the entries removed.
async fn purge(store: &SqlStore, owner: UserId, id: &str) -> usize {
    store
        .drive_trash(owner, from_ref(&id.to_string()), now(), BIN_RETENTION)
        .await
        .expect("trash");
    mark(store, owner, id).await;
    purge_rest(store, owner).await
}

async fn mark(store: &SqlStore, owner: UserId, id: &str) {
    let marked = store
        .drive_purge_mark(owner, Some(from_ref(&id.to_string())), now())
        .await
        .expect("mark for purging")
        .value;
    assert_eq!(marked, 1, "the binned entry is marked");
}

/// Step `owner`'s purge until idle; returns the entries removed.
async fn purge_rest(store: &SqlStore, owner: UserId) -> usize {
    let mut removed = 0;
    loop {
        let step = store
            .drive_purge_step(Some(owner), i64::MIN, PURGE_STEP, now())
            .await
            .expect("purge step");
        removed += step.removed as usize;
        if step.idle {
            return removed;
        }
    }
}

/// Everything the benches work on.
struct Fixture {
    /// The user whose folders are moved, binned and purged.
    me: UserId,
    /// `me`'s folder holding the folders below, and the one they are
    /// moved to.
    work: String,
    other: String,
    /// `(N, folder)` of `me`, holding N files directly.
    flat: Vec<(usize, String)>,
    /// `(N, folder)` of `me`, N files in a tree of sub-folders.
    nested: Vec<(usize, String)>,
    /// `(N, folder)` of `src` holding N files: what is copied.
    shared: Vec<(usize, String)>,
    /// The user who saves `src`'s folders.
    saver: UserId,
    /// A user with 10,000 entries: 100 folders of 99 files.
    big: UserId,
    /// A user with one chain of 32 nested folders, outermost first.
    deep: UserId,
    chain: Vec<String>,
    /// Content that neither `big` nor `deep` holds, for adding a new file.
    spare: FileRecord,
}

async fn user(store: &SqlStore, name: &str) -> UserId {
    store
        .create_user(name, "not-a-real-hash", T0)
        .await
        .expect("create a user")
}

async fn build(store: &SqlStore) -> Fixture {
    let started = Instant::now();
    // The pool: POOL files of distinct content, uploaded by UPLOADERS users
    // into their drives; every folder below is copied from it.
    let mut pool = Vec::with_capacity(POOL);
    for u in 0..UPLOADERS {
        let uploader = user(store, &format!("uploader{u}")).await;
        let per = POOL / UPLOADERS;
        for i in u * per..(u + 1) * per {
            pool.push(upload_into(store, uploader, "", i).await);
        }
    }
    let src = user(store, "src").await;
    let spare = upload_into(store, src, "", POOL).await;
    let spare = store
        .drive_entry(src, &spare)
        .await
        .expect("read an entry")
        .and_then(|e| e.file)
        .expect("the spare file");
    let mut shared = Vec::new();
    for n in SIZES {
        let dir = folder(store, src, "", &format!("shared-{n}")).await;
        fill(store, src, &dir, &pool[..n], None).await;
        shared.push((n, dir));
    }

    let me = user(store, "me").await;
    let work = folder(store, me, "", "work").await;
    let other = folder(store, me, "", "other").await;
    let (mut flat, mut nested) = (Vec::new(), Vec::new());
    for n in SIZES {
        let dir = folder(store, me, &work, &format!("flat-{n}")).await;
        fill(store, me, &dir, &pool[..n], None).await;
        flat.push((n, dir));
        let dir = folder(store, me, &work, &format!("nested-{n}")).await;
        fill(store, me, &dir, &pool[..n], Some(FANOUT)).await;
        nested.push((n, dir));
    }

    let saver = user(store, "saver").await;
    let big = user(store, "big").await;
    for k in 0..100 {
        let dir = folder(store, big, "", &format!("folder-{k:03}")).await;
        fill(store, big, &dir, &pool[k * 99..(k + 1) * 99], None).await;
    }
    let deep = user(store, "deep").await;
    let mut chain: Vec<String> = Vec::new();
    for d in 1..=32 {
        let parent = chain.last().cloned().unwrap_or_default();
        chain.push(folder(store, deep, &parent, &format!("level-{d}")).await);
    }
    println!(
        "drive bench fixture built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Fixture {
        me,
        work,
        other,
        flat,
        nested,
        shared,
        saver,
        big,
        deep,
        chain,
        spare,
    }
}

/// Settings for cases of a few milliseconds.
fn quick(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));
}

/// Settings for cases whose untimed setup costs as much as they do: one
/// warm-up iteration and ten samples of one iteration.
fn single(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_millis(1));
}

fn move_benches(c: &mut Criterion, rt: &Runtime, store: &SqlStore, fx: &Fixture) {
    let mut group = c.benchmark_group("drive/move");
    quick(&mut group);
    for (shape, folders) in [("flat", &fx.flat), ("nested", &fx.nested)] {
        for (n, dir) in folders {
            group.bench_function(BenchmarkId::new(shape, n), |b| {
                b.to_async(rt).iter(|| async {
                    for to in [fx.other.as_str(), fx.work.as_str()] {
                        let moved = store
                            .drive_move(fx.me, from_ref(dir), to, OnClash::Refuse, now())
                            .await
                            .expect("move")
                            .value;
                        assert_eq!(moved[0].parent.as_deref(), Some(to));
                    }
                });
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("drive/trash_restore");
    quick(&mut group);
    for (shape, folders) in [("flat", &fx.flat), ("nested", &fx.nested)] {
        for (n, dir) in folders {
            group.bench_function(BenchmarkId::new(shape, n), |b| {
                b.to_async(rt).iter(|| async {
                    store
                        .drive_trash(fx.me, from_ref(dir), now(), BIN_RETENTION)
                        .await
                        .expect("trash");
                    let back = store
                        .drive_restore(fx.me, from_ref(dir), now())
                        .await
                        .expect("restore")
                        .value;
                    assert_eq!(back[0].parent.as_deref(), Some(fx.work.as_str()));
                });
            });
        }
    }
    group.finish();
}

/// Wait out the checkpoints of what an untimed setup of `n` entries wrote
/// (the checkpointer copies the WAL into the database every 500 ms, on
/// the same two cores), so that they do not land in the next timing.
async fn settle(n: usize) {
    tokio::time::sleep(Duration::from_millis(600 + n as u64 / 20)).await;
}

/// A fresh copy of `template` (`n` files) in `owner`'s drive, binned and
/// marked for purging.
async fn binned(store: &SqlStore, owner: UserId, template: &str, n: usize) {
    let id = copy(store, owner, from_ref(&template.to_string()), "").await[0].clone();
    store
        .drive_trash(owner, from_ref(&id), now(), BIN_RETENTION)
        .await
        .expect("trash");
    mark(store, owner, &id).await;
    settle(n).await;
}

fn purge_benches(c: &mut Criterion, rt: &Runtime, store: &SqlStore, fx: &Fixture) {
    let mut group = c.benchmark_group("drive/purge");
    single(&mut group);
    // Each step's time, by step, over every purge of the case (warm-up
    // included), for the table printed after the group.
    let mut profiles = Vec::new();
    for (n, template) in &fx.shared {
        let steps: Mutex<Vec<Vec<Duration>>> = Mutex::default();
        group.throughput(Throughput::Elements(*n as u64 + 1));
        group.bench_function(BenchmarkId::new("all", n), |b| {
            let steps = &steps;
            b.to_async(rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    binned(store, fx.me, template, *n).await;
                    let (mut removed, mut times) = (0, Vec::new());
                    loop {
                        let start = Instant::now();
                        let step = store
                            .drive_purge_step(Some(fx.me), i64::MIN, PURGE_STEP, now())
                            .await
                            .expect("purge step");
                        times.push(start.elapsed());
                        removed += step.removed as usize;
                        if step.idle {
                            break;
                        }
                    }
                    timed += times.iter().sum::<Duration>();
                    assert_eq!(removed, n + 1, "the folder and its files are purged");
                    steps.lock().expect("step times").push(times);
                }
                timed
            });
        });
        profiles.push((*n, steps.into_inner().expect("step times")));
    }
    group.finish();
    for (n, purges) in profiles {
        print_steps(n, &purges);
    }
}

/// Print the median time of a purge's first, middle and last steps that
/// remove files (a step's cost may depend on how many files are left).
fn print_steps(n: usize, purges: &[Vec<Duration>]) {
    let median = |step: usize| {
        let mut times: Vec<Duration> = purges.iter().filter_map(|p| p.get(step)).copied().collect();
        times.sort();
        times.get(times.len() / 2).copied().unwrap_or_default()
    };
    let steps = purges.first().map_or(0, Vec::len);
    let full = n / PURGE_STEP as usize;
    let mut line = format!(
        "drive/purge/all/{n}: {} purges of {steps} steps (the last one idle); median step time",
        purges.len()
    );
    let mut picks = vec![0, full / 2, full.saturating_sub(1), steps.saturating_sub(2)];
    picks.dedup();
    for step in picks {
        let left = n.saturating_sub(step * PURGE_STEP as usize);
        line += &format!(
            " | step {} ({left} files left): {:.2} ms",
            step + 1,
            median(step).as_secs_f64() * 1e3
        );
    }
    println!("{line}");
}

fn copy_benches(c: &mut Criterion, rt: &Runtime, store: &SqlStore, fx: &Fixture) {
    let mut group = c.benchmark_group("drive/copy");
    single(&mut group);
    let flat = fx.shared.iter().filter(|(n, _)| *n <= 1_000);
    let cases = flat.map(|(n, dir)| ("flat", *n, dir, *n + 1)).chain([(
        "nested",
        100,
        &fx.nested[0].1,
        111,
    )]);
    for (shape, n, source, entries) in cases {
        group.throughput(Throughput::Elements(entries as u64));
        group.bench_function(BenchmarkId::new(shape, n), |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    settle(entries).await;
                    let start = Instant::now();
                    let saved = store
                        .drive_copy(fx.saver, from_ref(source), "", OPEN, now())
                        .await
                        .expect("copy")
                        .value;
                    timed += start.elapsed();
                    let removed = purge(store, fx.saver, &saved[0].id).await;
                    assert_eq!(removed, entries, "the whole folder was copied");
                }
                timed
            });
        });
    }
    group.finish();
}

fn lookup_benches(c: &mut Criterion, rt: &Runtime, store: &SqlStore, fx: &Fixture) {
    let mut group = c.benchmark_group("drive/search");
    quick(&mut group);
    let needles = [
        ("quarter-zh", "会议", 51),
        ("quarter-latin", "report", 51),
        ("one-zh", "纪要 00420", 1),
        ("one-latin", "report 01233", 1),
        ("every-name", "0", 51),
    ];
    for (label, needle, found) in needles {
        group.bench_function(label, |b| {
            b.to_async(rt).iter(|| async {
                let page = store
                    .drive_search(fx.big, needle, 0, 51)
                    .await
                    .expect("search");
                assert_eq!(page.len(), found, "matches of {needle}");
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("drive/ancestry");
    quick(&mut group);
    for depth in [1usize, 32] {
        let id = &fx.chain[depth - 1];
        group.bench_function(BenchmarkId::from_parameter(depth), |b| {
            b.to_async(rt).iter(|| async {
                let chain = store.drive_ancestry(id).await.expect("ancestry");
                assert_eq!(chain.len(), depth);
            });
        });
    }
    group.finish();
}

fn add_benches(c: &mut Criterion, rt: &Runtime, store: &SqlStore, fx: &Fixture) {
    let mut group = c.benchmark_group("drive/add");
    single(&mut group);
    group.measurement_time(Duration::from_millis(200));
    let drives = [(fx.chain.len(), fx.deep), (10_000, fx.big)];
    for kind in ["folder", "file"] {
        for (entries, owner) in drives {
            group.bench_function(BenchmarkId::new(kind, entries), |b| {
                b.to_async(rt).iter_custom(|iters| async move {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let content = match kind {
                            "folder" => NewContent::Folder,
                            _ => NewContent::Reference {
                                file: Box::new(FileRecord {
                                    id: new_id(),
                                    owner,
                                    purpose: FilePurpose::Drive,
                                    ..fx.spare.clone()
                                }),
                            },
                        };
                        let start = Instant::now();
                        let id = add(store, owner, "", "added", content).await;
                        timed += start.elapsed();
                        assert_eq!(purge(store, owner, &id).await, 1);
                    }
                    timed
                });
            });
        }
    }
    group.finish();
}

/// The moves of `move/{flat,nested}/100` again, once other users' drives
/// have added 20,000 folders to the database: a drive's own operations
/// should not depend on other drives.
fn crowded_benches(c: &mut Criterion, rt: &Runtime, store: &SqlStore, fx: &Fixture) {
    let mut group = c.benchmark_group("drive/move_crowded");
    quick(&mut group);
    let cases = [("flat", &fx.flat[0]), ("nested", &fx.nested[0])];
    for (shape, (n, dir)) in cases {
        group.bench_function(BenchmarkId::new(shape, n), |b| {
            b.to_async(rt).iter(|| async {
                for to in [fx.other.as_str(), fx.work.as_str()] {
                    store
                        .drive_move(fx.me, from_ref(dir), to, OnClash::Refuse, now())
                        .await
                        .expect("move");
                }
            });
        });
    }
    group.finish();
}

/// Add the crowd's folders (see [`crowded_benches`]).
async fn crowd(store: &SqlStore) {
    for u in 0..CROWD_USERS {
        let owner = user(store, &format!("crowd{u}")).await;
        for k in 0..CROWD_FOLDERS {
            folder(store, owner, "", &format!("c{k:04}")).await;
        }
    }
}

fn drive_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bench.db");
    // Fixtures are written on a non-durable connection, measured on a
    // durable one.
    let open = |durable: bool| {
        let path = &path;
        async move {
            SqlStore::open_sqlite_with(path, durable)
                .await
                .expect("open the bench database")
        }
    };
    let fx = rt.block_on(async {
        let store = open(false).await;
        let fx = build(&store).await;
        store.close().await;
        fx
    });
    let store = rt.block_on(open(true));
    move_benches(c, &rt, &store, &fx);
    purge_benches(c, &rt, &store, &fx);
    copy_benches(c, &rt, &store, &fx);
    lookup_benches(c, &rt, &store, &fx);
    add_benches(c, &rt, &store, &fx);
    rt.block_on(store.close());
    let store = rt.block_on(async {
        let store = open(false).await;
        crowd(&store).await;
        store.close().await;
        let store = open(true).await;
        settle(0).await;
        store
    });
    crowded_benches(c, &rt, &store, &fx);
    rt.block_on(store.close());
    if std::env::var_os("DRIVE_BENCH_KEEP").is_some() {
        println!("database kept at {}", dir.keep().display());
    }
}

criterion_group!(benches, drive_benches);
criterion_main!(benches);
