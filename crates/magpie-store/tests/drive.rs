//! The drive's contract ([`DriveStore`]) as one suite every backend must
//! pass: the tree and its refusals, the bin and the purge, search, copies
//! between drives, share links; and, over all of it, the file area's
//! invariant that a blob's `refs` is exactly the number of files over it.
//!
//! The contract tests run through `common::contract_suite!` on a fresh
//! store each. The refcount tests (a seeded random model, and concurrent
//! saves and purges) also read the tables directly after each phase, so
//! they open their database themselves ([`Audited`]) and are instantiated
//! by `audited_suite!` on the same three engines.
//!
//! [`DriveStore`]: magpie_store::DriveStore

use magpie_proto::UserId;
use magpie_store::drive::{
    DriveLimits, DriveSort, EntryRecord, EntryState, MAX_DEPTH, NewContent, NewEntry, OnClash,
    PurgeStep, ShareRecord,
};
use magpie_store::files::{
    BlobRecord, FilePurpose, FileRecord, Finished, Unreferenced, UploadRecord,
};
use magpie_store::{DriveStore, PoolSettings, Refusal, Result, SqlStore, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::slice::from_ref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod common;
use common::{Harness, T0, user};

/// The drive's calls as most tests use them: the value of each change,
/// with `now` at [`T0`] where the test does not care. The changes a call
/// appends to the owner's stream are checked by
/// `changes_reach_the_owners_stream`.
#[async_trait::async_trait]
trait ValueCalls {
    async fn drive_add_v(&self, e: &NewEntry, c: OnClash, l: DriveLimits) -> Result<EntryRecord>;
    async fn drive_rename_v(
        &self,
        o: UserId,
        id: &str,
        name: &str,
        c: OnClash,
        now: i64,
    ) -> Result<EntryRecord>;
    async fn drive_move_v(
        &self,
        o: UserId,
        ids: &[String],
        parent: &str,
        c: OnClash,
        now: i64,
    ) -> Result<Vec<EntryRecord>>;
    async fn drive_trash_v(&self, o: UserId, ids: &[String], now: i64) -> Result<()>;
    async fn drive_restore_v(
        &self,
        o: UserId,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<EntryRecord>>;
    async fn drive_purge_mark_v(&self, o: UserId, ids: Option<&[String]>) -> Result<u64>;
    async fn drive_purge_step_v(
        &self,
        o: Option<UserId>,
        before: i64,
        limit: u32,
    ) -> Result<PurgeStep>;
    async fn drive_copy_v(
        &self,
        o: UserId,
        sources: &[String],
        parent: &str,
        l: DriveLimits,
        now: i64,
    ) -> Result<Vec<EntryRecord>>;
}

#[async_trait::async_trait]
impl<S: DriveStore + ?Sized> ValueCalls for S {
    async fn drive_add_v(&self, e: &NewEntry, c: OnClash, l: DriveLimits) -> Result<EntryRecord> {
        self.drive_add(e, c, l).await.map(|o| o.value)
    }
    async fn drive_rename_v(
        &self,
        o: UserId,
        id: &str,
        name: &str,
        c: OnClash,
        now: i64,
    ) -> Result<EntryRecord> {
        self.drive_rename(o, id, name, c, now)
            .await
            .map(|o| o.value)
    }
    async fn drive_move_v(
        &self,
        o: UserId,
        ids: &[String],
        parent: &str,
        c: OnClash,
        now: i64,
    ) -> Result<Vec<EntryRecord>> {
        self.drive_move(o, ids, parent, c, now)
            .await
            .map(|o| o.value)
    }
    async fn drive_trash_v(&self, o: UserId, ids: &[String], now: i64) -> Result<()> {
        self.drive_trash(o, ids, now, 0).await.map(|o| o.value)
    }
    async fn drive_restore_v(
        &self,
        o: UserId,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<EntryRecord>> {
        self.drive_restore(o, ids, now).await.map(|o| o.value)
    }
    async fn drive_purge_mark_v(&self, o: UserId, ids: Option<&[String]>) -> Result<u64> {
        self.drive_purge_mark(o, ids, T0).await.map(|o| o.value)
    }
    async fn drive_purge_step_v(
        &self,
        o: Option<UserId>,
        before: i64,
        limit: u32,
    ) -> Result<PurgeStep> {
        self.drive_purge_step(o, before, limit, T0).await
    }
    async fn drive_copy_v(
        &self,
        o: UserId,
        sources: &[String],
        parent: &str,
        l: DriveLimits,
        now: i64,
    ) -> Result<Vec<EntryRecord>> {
        self.drive_copy(o, sources, parent, l, now)
            .await
            .map(|o| o.value)
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const ALL: u32 = 10_000;

/// Limits that never get in the way.
const OPEN: DriveLimits = DriveLimits {
    quota: 1 << 40,
    max_entries: 100_000,
    max_copy: 10_000,
};

/// A fresh 32-hex id (unique in the process).
fn new_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:032x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The size of test content `content` (its hash is 32 times that byte).
fn size_of(content: u8) -> i64 {
    1000 * i64::from(content)
}

/// Upload content `content` as `owner`'s file `name` (deduplicated if it is
/// stored already); returns the file and the new storage key, if the bytes
/// were stored (not deduplicated).
async fn upload_keyed(
    store: &dyn Store,
    owner: UserId,
    name: &str,
    content: u8,
) -> Result<(FileRecord, Option<String>)> {
    let up = UploadRecord {
        id: new_id(),
        owner,
        total_size: size_of(content),
        received: 0,
        name: name.into(),
        created_at: T0,
        expires_at: T0 + 3_600_000,
        file_id: None,
    };
    store.create_upload(&up, i64::MAX, 10_000).await?;
    let blob = BlobRecord {
        sha256: [content; 32],
        storage_key: format!("blobs/{}", new_id()),
        size: size_of(content),
        mime: "application/octet-stream".into(),
        media: None,
        thumb_key: Some(format!("thumbs/{}", new_id())),
    };
    let file = FileRecord {
        id: new_id(),
        owner,
        name: name.into(),
        purpose: FilePurpose::Upload,
        conv: None,
        seq: None,
        created_at: T0,
        blob: blob.clone(),
    };
    Ok(match store.finish_upload(&up.id, &blob, &file, T0).await? {
        Finished::Stored(file) => (file, Some(blob.storage_key)),
        Finished::Deduplicated { file, .. } | Finished::AlreadyFinished { file, .. } => {
            (file, None)
        }
    })
}

async fn upload(store: &dyn Store, owner: UserId, name: &str, content: u8) -> FileRecord {
    upload_keyed(store, owner, name, content)
        .await
        .expect("upload")
        .0
}

/// A new drive file over `src`'s content, for [`NewContent::Reference`].
fn reference(owner: UserId, src: &FileRecord) -> NewContent {
    NewContent::Reference {
        file: Box::new(FileRecord {
            id: new_id(),
            owner,
            name: String::new(),
            purpose: FilePurpose::Drive,
            conv: None,
            seq: None,
            created_at: T0,
            blob: src.blob.clone(),
        }),
    }
}

async fn add(
    store: &dyn Store,
    owner: UserId,
    parent: &str,
    name: &str,
    content: NewContent,
    on_clash: OnClash,
    limits: DriveLimits,
) -> Result<EntryRecord> {
    let entry = NewEntry {
        id: new_id(),
        owner,
        parent: parent.into(),
        name: name.into(),
        content,
        now: T0 + 10,
    };
    store.drive_add_v(&entry, on_clash, limits).await
}

async fn folder(store: &dyn Store, owner: UserId, parent: &str, name: &str) -> EntryRecord {
    add(
        store,
        owner,
        parent,
        name,
        NewContent::Folder,
        OnClash::Refuse,
        OPEN,
    )
    .await
    .expect("add a folder")
}

/// Save `src`'s content into `owner`'s folder `parent` as `name`.
async fn save(
    store: &dyn Store,
    owner: UserId,
    parent: &str,
    name: &str,
    src: &FileRecord,
) -> EntryRecord {
    add(
        store,
        owner,
        parent,
        name,
        reference(owner, src),
        OnClash::Refuse,
        OPEN,
    )
    .await
    .expect("add a file")
}

/// The refusal of a refused call.
#[track_caller]
fn refusal<T: std::fmt::Debug>(result: Result<T>) -> Refusal {
    match result {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn names(store: &dyn Store, owner: UserId, parent: &str) -> Vec<String> {
    store
        .drive_children(owner, parent, DriveSort::Name, false, 0, ALL)
        .await
        .expect("drive_children")
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn ids(entries: &[&EntryRecord]) -> Vec<String> {
    entries.iter().map(|e| e.id.clone()).collect()
}

async fn in_drive(store: &dyn Store, id: &str) -> bool {
    let chain = store.drive_ancestry(id).await.expect("drive_ancestry");
    chain
        .last()
        .is_some_and(|e| e.parent.as_deref() == Some(""))
}

/// Step the purge until it is idle; everything it released.
async fn purge_all(store: &dyn Store, owner: Option<UserId>, limit: u32) -> Vec<Unreferenced> {
    let mut released = Vec::new();
    for _ in 0..10_000 {
        let step = store
            .drive_purge_step_v(owner, T0, limit)
            .await
            .expect("drive_purge_step");
        assert!(step.removed <= limit.max(1), "a step is bounded: {step:?}");
        released.extend(step.released);
        if step.idle {
            return released;
        }
    }
    panic!("the purge never became idle");
}

// ---------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------

async fn entries_are_added_to_folders_of_their_owner(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let docs = folder(store, alice, "", "Docs").await;
    assert!(docs.is_folder());
    assert_eq!(docs.parent.as_deref(), Some(""));
    assert_eq!((docs.size, docs.state), (0, EntryState::Placed));

    let src = upload(store, bob, "chat.pdf", 3).await;
    let saved = save(store, alice, &docs.id, "chat.pdf", &src).await;
    let file = saved.file.clone().expect("a file entry");
    assert_eq!(saved.size, size_of(3));
    assert_eq!(saved.parent.as_deref(), Some(docs.id.as_str()));
    assert_eq!(
        (file.owner, file.purpose, file.name.as_str()),
        (alice, FilePurpose::Drive, "chat.pdf")
    );
    assert_eq!(file.blob, src.blob);
    assert_eq!(store.file(&file.id).await.expect("file"), Some(file));

    // Adopting an upload turns it into the drive file itself.
    let mine = upload(store, alice, "scan.png", 4).await;
    let adopted = add(
        store,
        alice,
        "",
        "Scan.png",
        NewContent::Adopt {
            file_id: mine.id.clone(),
        },
        OnClash::Refuse,
        OPEN,
    )
    .await
    .expect("adopt");
    let file = adopted.file.clone().expect("a file entry");
    assert_eq!(file.id, mine.id);
    assert_eq!(
        (file.purpose, file.name.as_str()),
        (FilePurpose::Drive, "Scan.png")
    );
    assert_eq!(adopted.size, size_of(4));
    assert_eq!(
        store
            .files_of(alice, FilePurpose::Upload, "", ALL)
            .await
            .expect("files_of"),
        vec![]
    );
    // Adopted once only, and only one's own uploads.
    let again = NewContent::Adopt { file_id: mine.id };
    let r = add(store, alice, "", "again", again, OnClash::Refuse, OPEN).await;
    assert_eq!(refusal(r), Refusal::NoSuchFile);
    let theirs = upload(store, bob, "theirs", 5).await;
    let steal = NewContent::Adopt { file_id: theirs.id };
    let r = add(store, alice, "", "theirs", steal, OnClash::Refuse, OPEN).await;
    assert_eq!(refusal(r), Refusal::NoSuchFile);

    // Parents must be the owner's folders in the drive.
    let r = add(
        store,
        bob,
        &docs.id,
        "x",
        NewContent::Folder,
        OnClash::Refuse,
        OPEN,
    )
    .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry, "another user's folder");
    let r = add(
        store,
        alice,
        &saved.id,
        "x",
        NewContent::Folder,
        OnClash::Refuse,
        OPEN,
    )
    .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry, "a file is no folder");
    let r = add(
        store,
        alice,
        &new_id(),
        "x",
        NewContent::Folder,
        OnClash::Refuse,
        OPEN,
    )
    .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry, "no such folder");

    // Listing: folders first, then by the sort asked for.
    let sub = folder(store, alice, "", "zeta").await;
    save(store, alice, "", "b.txt", &src).await;
    assert_eq!(
        names(store, alice, "").await,
        vec!["Docs", "zeta", "Scan.png", "b.txt"]
    );
    let by_size = store
        .drive_children(alice, "", DriveSort::Size, true, 0, ALL)
        .await
        .expect("children");
    let by_size: Vec<_> = by_size.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(by_size[2..], ["Scan.png", "b.txt"]);
    let page = store
        .drive_children(alice, "", DriveSort::Name, false, 1, 2)
        .await
        .expect("children");
    assert_eq!(
        page.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["zeta", "Scan.png"]
    );

    // Entries are their owner's.
    assert_eq!(store.drive_entry(bob, &sub.id).await.expect("entry"), None);
    assert_eq!(
        store.drive_entry(alice, &sub.id).await.expect("entry"),
        Some(sub.clone())
    );
    let chain = store.drive_ancestry(&saved.id).await.expect("ancestry");
    assert_eq!(
        ids(&chain.iter().collect::<Vec<_>>()),
        vec![saved.id.clone(), docs.id.clone()]
    );
}

async fn name_clashes_are_refused_or_numbered(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let src = upload(store, alice, "a.txt", 1).await;
    let first = save(store, alice, "", "report.txt", &src).await;
    let r = add(
        store,
        alice,
        "",
        "report.txt",
        reference(alice, &src),
        OnClash::Refuse,
        OPEN,
    )
    .await;
    assert_eq!(refusal(r), Refusal::NameTaken);
    for want in ["report (1).txt", "report (2).txt"] {
        let e = add(
            store,
            alice,
            "",
            "report.txt",
            reference(alice, &src),
            OnClash::Rename,
            OPEN,
        )
        .await
        .expect("renamed");
        assert_eq!(e.name, want);
        assert_eq!(e.file.expect("file").name, want);
    }
    // Names differ by their exact bytes: case is a different name.
    save(store, alice, "", "REPORT.txt", &src).await;
    // Folders and dot-files are numbered at the end.
    folder(store, alice, "", "v1.2").await;
    let e = add(
        store,
        alice,
        "",
        "v1.2",
        NewContent::Folder,
        OnClash::Rename,
        OPEN,
    )
    .await
    .expect("renamed folder");
    assert_eq!(e.name, "v1.2 (1)");
    save(store, alice, "", ".env", &src).await;
    let e = add(
        store,
        alice,
        "",
        ".env",
        reference(alice, &src),
        OnClash::Rename,
        OPEN,
    )
    .await
    .expect("renamed dot-file");
    assert_eq!(e.name, ".env (1)");
    // The same name in another folder is no clash.
    let sub = folder(store, alice, "", "sub").await;
    save(store, alice, &sub.id, "report.txt", &src).await;

    // Renames clash likewise, and name the file row too.
    let r = store
        .drive_rename_v(alice, &first.id, "REPORT.txt", OnClash::Refuse, T0 + 20)
        .await;
    assert_eq!(refusal(r), Refusal::NameTaken);
    let renamed = store
        .drive_rename_v(alice, &first.id, "REPORT.txt", OnClash::Rename, T0 + 20)
        .await
        .expect("rename");
    assert_eq!(renamed.name, "REPORT (1).txt");
    assert_eq!(renamed.updated_at, T0 + 20);
    let file = store
        .file(&renamed.file.expect("file").id)
        .await
        .expect("file")
        .expect("still there");
    assert_eq!(file.name, "REPORT (1).txt");
    let same = store
        .drive_rename_v(alice, &first.id, "REPORT (1).txt", OnClash::Refuse, T0 + 30)
        .await
        .expect("renaming to its own name");
    assert_eq!(same.name, "REPORT (1).txt");
    let bob = user(store, "bob").await;
    let r = store
        .drive_rename_v(bob, &first.id, "x", OnClash::Refuse, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
}

async fn moves_cannot_make_cycles(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let a = folder(store, alice, "", "a").await;
    let b = folder(store, alice, &a.id, "b").await;
    let c = folder(store, alice, &b.id, "c").await;
    let other = folder(store, alice, "", "other").await;
    for (what, dest) in [("itself", &a), ("a child", &b), ("a grandchild", &c)] {
        let r = store
            .drive_move_v(alice, from_ref(&a.id), &dest.id, OnClash::Refuse, T0)
            .await;
        assert_eq!(refusal(r), Refusal::InvalidMove, "into {what}");
    }
    // All or none: one bad id refuses the whole move.
    let r = store
        .drive_move_v(
            alice,
            &[other.id.clone(), b.id.clone()],
            &c.id,
            OnClash::Refuse,
            T0,
        )
        .await;
    assert_eq!(refusal(r), Refusal::InvalidMove);
    assert_eq!(names(store, alice, &c.id).await, Vec::<String>::new());

    let moved = store
        .drive_move_v(alice, from_ref(&c.id), &other.id, OnClash::Refuse, T0 + 5)
        .await
        .expect("move");
    assert_eq!(moved[0].parent.as_deref(), Some(other.id.as_str()));
    assert_eq!(moved[0].updated_at, T0 + 5);
    // Clashes in the destination.
    let c2 = folder(store, alice, "", "c").await;
    let r = store
        .drive_move_v(alice, from_ref(&c2.id), &other.id, OnClash::Refuse, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NameTaken);
    let moved = store
        .drive_move_v(alice, from_ref(&c2.id), &other.id, OnClash::Rename, T0)
        .await
        .expect("move");
    assert_eq!(moved[0].name, "c (1)");
    assert_eq!(names(store, alice, &other.id).await, vec!["c", "c (1)"]);
    // Moving within the same folder changes nothing.
    let same = store
        .drive_move_v(alice, from_ref(&c.id), &other.id, OnClash::Refuse, T0)
        .await
        .expect("a no-op move");
    assert_eq!(same[0].name, "c");
    // Only one's own entries in the drive, into one's own folders.
    let bob = user(store, "bob").await;
    let theirs = folder(store, bob, "", "theirs").await;
    let r = store
        .drive_move_v(alice, from_ref(&theirs.id), "", OnClash::Refuse, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
    let r = store
        .drive_move_v(alice, from_ref(&a.id), &theirs.id, OnClash::Refuse, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
    store
        .drive_trash_v(alice, from_ref(&a.id), T0)
        .await
        .expect("trash");
    let r = store
        .drive_move_v(alice, from_ref(&b.id), "", OnClash::Refuse, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry, "inside the bin");
}

async fn depth_and_entries_are_bounded(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let mut parent = String::new();
    let mut chain = Vec::new();
    for level in 0..MAX_DEPTH {
        let f = folder(store, alice, &parent, &format!("level {level}")).await;
        parent = f.id.clone();
        chain.push(f);
    }
    let r = add(
        store,
        alice,
        &parent,
        "too deep",
        NewContent::Folder,
        OnClash::Refuse,
        OPEN,
    )
    .await;
    assert_eq!(refusal(r), Refusal::LimitReached("folder depth"));
    let ancestry = store.drive_ancestry(&parent).await.expect("ancestry");
    assert_eq!(ancestry.len(), MAX_DEPTH);
    assert!(in_drive(store, &parent).await);
    // A subtree cannot be moved to where its bottom would be too deep.
    let top = folder(store, alice, "", "top").await;
    let sub = folder(store, alice, &top.id, "sub").await;
    let r = store
        .drive_move_v(
            alice,
            from_ref(&top.id),
            &chain[MAX_DEPTH - 2].id,
            OnClash::Refuse,
            T0,
        )
        .await;
    assert_eq!(refusal(r), Refusal::LimitReached("folder depth"));
    store
        .drive_move_v(
            alice,
            from_ref(&sub.id),
            &chain[MAX_DEPTH - 2].id,
            OnClash::Refuse,
            T0,
        )
        .await
        .expect("a move that just fits");

    let bob = user(store, "bob").await;
    let small = DriveLimits {
        max_entries: 3,
        ..OPEN
    };
    let f = add(
        store,
        bob,
        "",
        "one",
        NewContent::Folder,
        OnClash::Refuse,
        small,
    )
    .await
    .expect("one");
    add(
        store,
        bob,
        "",
        "two",
        NewContent::Folder,
        OnClash::Refuse,
        small,
    )
    .await
    .expect("two");
    add(
        store,
        bob,
        &f.id,
        "three",
        NewContent::Folder,
        OnClash::Refuse,
        small,
    )
    .await
    .expect("three");
    store
        .drive_trash_v(bob, from_ref(&f.id), T0)
        .await
        .expect("trash");
    let r = add(
        store,
        bob,
        "",
        "four",
        NewContent::Folder,
        OnClash::Refuse,
        small,
    )
    .await;
    assert_eq!(
        refusal(r),
        Refusal::LimitReached("drive entries"),
        "the bin counts"
    );
}

async fn new_content_is_counted_once_against_the_quota(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let big = upload(store, bob, "big", 9).await; // 9000 bytes
    let small = upload(store, bob, "small", 2).await; // 2000 bytes
    let tight = DriveLimits {
        quota: 10_000,
        ..OPEN
    };
    add(
        store,
        alice,
        "",
        "big",
        reference(alice, &big),
        OnClash::Refuse,
        tight,
    )
    .await
    .expect("fits");
    // The same content again costs nothing.
    add(
        store,
        alice,
        "",
        "big again",
        reference(alice, &big),
        OnClash::Refuse,
        tight,
    )
    .await
    .expect("already held");
    let r = add(
        store,
        alice,
        "",
        "small",
        reference(alice, &small),
        OnClash::Refuse,
        tight,
    )
    .await;
    assert_eq!(refusal(r), Refusal::QuotaExceeded);
    assert_eq!(
        store.quota_use(alice).await.expect("quota").stored,
        size_of(9)
    );

    // Copies are counted by the distinct content they add.
    let shared = folder(store, bob, "", "shared").await;
    save(store, bob, &shared.id, "big", &big).await;
    save(store, bob, &shared.id, "small", &small).await;
    save(store, bob, &shared.id, "small copy", &small).await;
    let r = store
        .drive_copy_v(alice, from_ref(&shared.id), "", tight, T0)
        .await;
    assert_eq!(refusal(r), Refusal::QuotaExceeded);
    let roomy = DriveLimits {
        quota: size_of(9) + size_of(2),
        ..OPEN
    };
    store
        .drive_copy_v(alice, from_ref(&shared.id), "", roomy, T0)
        .await
        .expect("the small content counted once");
    assert_eq!(
        store.quota_use(alice).await.expect("quota").stored,
        size_of(9) + size_of(2)
    );
    // The content must still be stored.
    let gone = FileRecord {
        blob: BlobRecord {
            sha256: [77; 32],
            ..big.blob.clone()
        },
        ..big.clone()
    };
    let r = add(
        store,
        alice,
        "",
        "gone",
        reference(alice, &gone),
        OnClash::Refuse,
        OPEN,
    )
    .await;
    assert_eq!(refusal(r), Refusal::NoSuchFile);

    // Per-user quota overrides.
    assert_eq!(store.user_quota(alice).await.expect("quota"), None);
    store
        .set_user_quota(alice, Some(5 << 30))
        .await
        .expect("set");
    assert_eq!(store.user_quota(alice).await.expect("quota"), Some(5 << 30));
    store
        .set_user_quota(alice, Some(5 << 30))
        .await
        .expect("set again");
    store.set_user_quota(alice, None).await.expect("clear");
    assert_eq!(store.user_quota(alice).await.expect("quota"), None);
    assert_eq!(
        refusal(store.set_user_quota(alice + 1000, Some(1)).await),
        Refusal::UnknownUser
    );
}

// ---------------------------------------------------------------------------
// The bin and the purge
// ---------------------------------------------------------------------------

async fn the_bin_restores_where_it_can(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let src = upload(store, alice, "x", 1).await;
    let work = folder(store, alice, "", "work").await;
    let plan = save(store, alice, &work.id, "plan.txt", &src).await;
    let notes = save(store, alice, &work.id, "notes.txt", &src).await;
    let inner = folder(store, alice, &work.id, "inner").await;
    let deep = save(store, alice, &inner.id, "deep.txt", &src).await;

    store
        .drive_trash_v(alice, &[plan.id.clone(), inner.id.clone()], T0 + 1)
        .await
        .expect("trash");
    let bin = store.drive_bin(alice, 0, ALL).await.expect("bin");
    assert_eq!(bin.len(), 2);
    for e in &bin {
        assert_eq!(
            (
                e.state,
                e.parent.as_deref(),
                e.home.as_deref(),
                e.trashed_at
            ),
            (
                EntryState::Binned,
                None,
                Some(work.id.as_str()),
                Some(T0 + 1)
            )
        );
    }
    assert!(!in_drive(store, &deep.id).await, "inside a binned folder");
    assert_eq!(names(store, alice, &work.id).await, vec!["notes.txt"]);
    // Trashing again, or trashing what is in the bin, is refused whole.
    let r = store
        .drive_trash_v(alice, &[notes.id.clone(), deep.id.clone()], T0 + 2)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
    assert!(in_drive(store, &notes.id).await);

    // Back home, with a clash renamed.
    save(store, alice, &work.id, "plan.txt", &src).await;
    let restored = store
        .drive_restore_v(alice, &[plan.id.clone(), inner.id.clone()], T0 + 3)
        .await
        .expect("restore");
    assert_eq!(restored[0].name, "plan (1).txt");
    assert_eq!(restored[0].parent.as_deref(), Some(work.id.as_str()));
    assert_eq!(
        (
            restored[0].state,
            restored[0].home.as_deref(),
            restored[0].trashed_at
        ),
        (EntryState::Placed, None, None)
    );
    assert!(in_drive(store, &deep.id).await);
    assert_eq!(store.drive_bin(alice, 0, ALL).await.expect("bin"), vec![]);

    // Home gone: to the top.
    store
        .drive_trash_v(alice, from_ref(&deep.id), T0 + 4)
        .await
        .expect("trash");
    store
        .drive_trash_v(alice, from_ref(&work.id), T0 + 5)
        .await
        .expect("trash");
    let restored = store
        .drive_restore_v(alice, from_ref(&deep.id), T0 + 6)
        .await
        .expect("restore");
    assert_eq!(restored[0].parent.as_deref(), Some(""));
    assert_eq!(
        store.drive_bin(alice, 0, ALL).await.expect("bin")[0].id,
        work.id,
        "most recent first"
    );
    // Only bin entries of one's own.
    let r = store.drive_restore_v(alice, from_ref(&deep.id), T0).await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
    let bob = user(store, "bob").await;
    let r = store.drive_restore_v(bob, from_ref(&work.id), T0).await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
}

async fn purging_a_tree_releases_its_references(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    // Content 1 only in the tree (twice); content 2 also held by bob.
    let (only, only_key) = upload_keyed(store, alice, "only", 1).await.expect("upload");
    let only_key = only_key.expect("new content");
    let both = upload(store, bob, "both", 2).await;
    let root = folder(store, alice, "", "root").await;
    let mut parent = root.id.clone();
    for level in 0..4 {
        let f = folder(store, alice, &parent, &format!("level {level}")).await;
        for i in 0..3 {
            save(store, alice, &parent, &format!("both {i}"), &both).await;
        }
        save(store, alice, &parent, "only", &only).await;
        parent = f.id;
    }
    let share = ShareRecord {
        id: new_id(),
        owner: alice,
        entry_id: parent.clone(),
        code: "abcd".into(),
        expires_at: None,
        max_downloads: None,
        downloads: 0,
        saves: 0,
        created_at: T0,
    };
    store.share_create(&share).await.expect("share");
    store
        .delete_file(&only.id)
        .await
        .expect("delete the upload");
    assert!(store.blob(&only.blob.sha256).await.expect("blob").is_some());

    store
        .drive_trash_v(alice, from_ref(&root.id), T0)
        .await
        .expect("trash");
    // Unmarked and recent: nothing to do.
    let step = store
        .drive_purge_step_v(None, T0 - 1, 2)
        .await
        .expect("step");
    assert!(step.idle);
    assert_eq!(store.drive_purge_mark_v(bob, None).await.expect("mark"), 0);
    assert_eq!(
        store
            .drive_purge_mark_v(alice, Some(&[new_id()]))
            .await
            .expect("mark"),
        0
    );
    assert_eq!(
        store
            .drive_purge_mark_v(alice, Some(from_ref(&root.id)))
            .await
            .expect("mark"),
        1
    );
    assert_eq!(store.drive_bin(alice, 0, ALL).await.expect("bin"), vec![]);

    let released = purge_all(store, Some(alice), 2).await;
    assert_eq!(
        released,
        vec![Unreferenced {
            storage_key: only_key,
            thumb_key: only.blob.thumb_key.clone(),
        }],
        "the last reference to content 1 released its bytes once"
    );
    assert!(store.blob(&only.blob.sha256).await.expect("blob").is_none());
    assert!(store.blob(&both.blob.sha256).await.expect("blob").is_some());
    assert_eq!(
        store.drive_entry(alice, &root.id).await.expect("entry"),
        None
    );
    assert_eq!(
        store.drive_entry(alice, &parent).await.expect("entry"),
        None
    );
    assert_eq!(store.share(&share.id).await.expect("share"), None);
    assert_eq!(store.quota_use(alice).await.expect("quota").stored, 0);
    // Bob's file is untouched and is now the last reference.
    assert_eq!(
        store
            .delete_file(&both.id)
            .await
            .expect("delete")
            .map(|u| u.thumb_key),
        Some(both.blob.thumb_key.clone())
    );
}

async fn old_bin_entries_are_purged_when_due(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let src = upload(store, alice, "x", 1).await;
    let old = save(store, alice, "", "old", &src).await;
    let new = save(store, alice, "", "new", &src).await;
    store
        .drive_trash_v(alice, from_ref(&old.id), T0 - 100)
        .await
        .expect("trash");
    store
        .drive_trash_v(alice, from_ref(&new.id), T0 + 100)
        .await
        .expect("trash");
    let bob = user(store, "bob").await;
    assert!(
        store
            .drive_purge_step_v(Some(bob), T0, 10)
            .await
            .expect("step")
            .idle
    );
    let step = store
        .drive_purge_step_v(Some(alice), T0, 10)
        .await
        .expect("step");
    assert_eq!(step.removed, 1);
    assert!(
        store
            .drive_purge_step_v(None, T0, 10)
            .await
            .expect("step")
            .idle
    );
    let bin = store.drive_bin(alice, 0, ALL).await.expect("bin");
    assert_eq!(ids(&bin.iter().collect::<Vec<_>>()), vec![new.id.clone()]);
}

/// A purge cut short (the store closed between steps) goes on where it
/// stopped: every step leaves a consistent tree.
async fn an_interrupted_purge_resumes<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let src = upload(store, alice, "x", 1).await;
    let root = folder(store, alice, "", "root").await;
    let sub = folder(store, alice, &root.id, "sub").await;
    for i in 0..5 {
        save(store, alice, &root.id, &format!("r{i}"), &src).await;
        save(store, alice, &sub.id, &format!("s{i}"), &src).await;
    }
    store
        .drive_trash_v(alice, from_ref(&root.id), T0)
        .await
        .expect("trash");
    store.drive_purge_mark_v(alice, None).await.expect("mark");
    let step = store.drive_purge_step_v(None, T0, 3).await.expect("step");
    assert!(!step.idle);
    assert!(step.released.is_empty());
    let harness = harness.reopen().await;
    let store = harness.store();
    purge_all(store, None, 3).await;
    assert_eq!(
        store.drive_entry(alice, &sub.id).await.expect("entry"),
        None
    );
    assert_eq!(
        store.drive_entry(alice, &root.id).await.expect("entry"),
        None
    );
    // The upload is the last reference.
    assert!(store.delete_file(&src.id).await.expect("delete").is_some());
    harness.close().await;
}

// ---------------------------------------------------------------------------
// Search and recent files
// ---------------------------------------------------------------------------

async fn search_finds_names_in_the_drive(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let src = upload(store, alice, "x", 1).await;
    let minutes = save(store, alice, "", "明天会议纪要.docx", &src).await;
    let f = folder(store, alice, "", "Quarterly Reports").await;
    let q3 = save(store, alice, &f.id, "Q3-Report.PDF", &src).await;
    let hidden = folder(store, alice, "", "hidden").await;
    let inner = folder(store, alice, &hidden.id, "deeper").await;
    save(store, alice, &inner.id, "会议 old.docx", &src).await;
    save(store, alice, "", "100%_done!.txt", &src).await;
    save(store, alice, "", "100x_done.txt", &src).await;
    // Pages (below) count only entries in the drive.
    for i in 0..30 {
        save(store, alice, &inner.id, &format!("page {i:02}"), &src).await;
        save(store, alice, "", &format!("page {i:02}"), &src).await;
    }
    store
        .drive_trash_v(alice, from_ref(&hidden.id), T0)
        .await
        .expect("trash");

    let search = async |needle: &str| -> Vec<String> {
        store
            .drive_search(alice, needle, 0, ALL)
            .await
            .expect("search")
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(
        search("会议").await,
        vec![minutes.name.clone()],
        "not the binned one"
    );
    assert_eq!(search("report").await.len(), 2);
    assert_eq!(search("q3-report.pdf").await, vec![q3.name.clone()]);
    assert_eq!(
        search("%_").await,
        vec!["100%_done!.txt"],
        "wildcards are literal"
    );
    assert_eq!(search("!").await, vec!["100%_done!.txt"]);
    assert_eq!(search("nothing").await, Vec::<String>::new());
    let bob = user(store, "bob").await;
    assert_eq!(
        store
            .drive_search(bob, "会议", 0, ALL)
            .await
            .expect("search"),
        vec![]
    );

    let mut seen = BTreeSet::new();
    for page in 0..4 {
        let found = store
            .drive_search(alice, "page", page * 10, 10)
            .await
            .expect("search");
        assert_eq!(found.len(), if page < 3 { 10 } else { 0 });
        for e in found {
            assert_eq!(e.parent.as_deref(), Some(""));
            assert!(seen.insert(e.id));
        }
    }

    let recent = store.drive_recent(alice, 5).await.expect("recent");
    assert_eq!(recent.len(), 5);
    assert!(
        recent
            .iter()
            .all(|e| !e.is_folder() && e.parent.as_deref() == Some(""))
    );
}

// ---------------------------------------------------------------------------
// Copies
// ---------------------------------------------------------------------------

async fn copies_save_whole_subtrees(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let src = upload(store, bob, "x", 1).await;
    let shared = folder(store, bob, "", "shared").await;
    let a = save(store, bob, &shared.id, "a.txt", &src).await;
    let sub = folder(store, bob, &shared.id, "sub").await;
    save(store, bob, &sub.id, "b.txt", &src).await;
    let binned = save(store, bob, &sub.id, "binned.txt", &src).await;
    store
        .drive_trash_v(bob, from_ref(&binned.id), T0)
        .await
        .expect("trash");
    let mine = folder(store, alice, "", "shared").await;

    let copied = store
        .drive_copy_v(
            alice,
            &[shared.id.clone(), a.id.clone()],
            &mine.id,
            OPEN,
            T0 + 7,
        )
        .await
        .expect("copy");
    assert_eq!(copied.len(), 2);
    assert_eq!(copied[0].name, "shared");
    assert_eq!(copied[0].owner, alice);
    assert_eq!(copied[0].created_at, T0 + 7);
    assert_ne!(copied[0].id, shared.id);
    assert_eq!(copied[1].name, "a.txt");
    let copied_file = copied[1].file.clone().expect("file");
    assert_eq!(
        (copied_file.owner, copied_file.purpose),
        (alice, FilePurpose::Drive)
    );
    assert_ne!(copied_file.id, a.file.clone().expect("file").id);
    assert_eq!(
        names(store, alice, &copied[0].id).await,
        vec!["sub", "a.txt"]
    );
    let sub_copy = &store
        .drive_children(alice, &copied[0].id, DriveSort::Name, false, 0, 1)
        .await
        .expect("children")[0];
    assert_eq!(
        names(store, alice, &sub_copy.id).await,
        vec!["b.txt"],
        "not the binned one"
    );
    // Top-level clashes rename.
    let again = store
        .drive_copy_v(alice, from_ref(&shared.id), &mine.id, OPEN, T0)
        .await
        .expect("copy again");
    assert_eq!(again[0].name, "shared (1)");

    let few = DriveLimits {
        max_copy: 3,
        ..OPEN
    };
    let r = store
        .drive_copy_v(alice, from_ref(&shared.id), "", few, T0)
        .await;
    assert_eq!(refusal(r), Refusal::LimitReached("entries to save"));
    let enough = DriveLimits {
        max_copy: 4,
        ..OPEN
    };
    store
        .drive_copy_v(alice, from_ref(&shared.id), "", enough, T0)
        .await
        .expect("exactly max_copy");
    let r = store
        .drive_copy_v(alice, from_ref(&binned.id), "", OPEN, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
    let r = store
        .drive_copy_v(alice, from_ref(&a.id), &shared.id, OPEN, T0)
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry, "into another's folder");
    let r = store
        .drive_copy_v(
            alice,
            from_ref(&shared.id),
            "",
            DriveLimits {
                max_entries: 8,
                ..OPEN
            },
            T0,
        )
        .await;
    assert_eq!(refusal(r), Refusal::LimitReached("drive entries"));
}

// ---------------------------------------------------------------------------
// Shares
// ---------------------------------------------------------------------------

fn share_of(owner: UserId, entry: &EntryRecord, created_at: i64) -> ShareRecord {
    ShareRecord {
        id: new_id(),
        owner,
        entry_id: entry.id.clone(),
        code: "x7k2".into(),
        expires_at: None,
        max_downloads: None,
        downloads: 0,
        saves: 0,
        created_at,
    }
}

async fn shares_count_downloads_and_wrong_codes(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let f = folder(store, alice, "", "f").await;
    let limited = ShareRecord {
        max_downloads: Some(2),
        ..share_of(alice, &f, T0)
    };
    store.share_create(&limited).await.expect("share");
    assert_eq!(
        store.share(&limited.id).await.expect("share"),
        Some(limited.clone())
    );
    assert!(
        store
            .share_count_download(&limited.id, T0)
            .await
            .expect("dl")
    );
    assert!(
        store
            .share_count_download(&limited.id, T0)
            .await
            .expect("dl")
    );
    assert!(
        !store
            .share_count_download(&limited.id, T0)
            .await
            .expect("dl")
    );
    assert_eq!(
        store
            .share(&limited.id)
            .await
            .expect("share")
            .expect("share")
            .downloads,
        2
    );

    let expiring = ShareRecord {
        expires_at: Some(T0 + 10),
        ..share_of(alice, &f, T0 + 1)
    };
    store.share_create(&expiring).await.expect("share");
    assert!(
        store
            .share_count_download(&expiring.id, T0 + 9)
            .await
            .expect("dl")
    );
    assert!(
        !store
            .share_count_download(&expiring.id, T0 + 10)
            .await
            .expect("dl")
    );
    assert!(!store.share_count_download(&new_id(), T0).await.expect("dl"));
    store.share_count_save(&expiring.id).await.expect("save");
    assert_eq!(
        store
            .share(&expiring.id)
            .await
            .expect("share")
            .expect("share")
            .saves,
        1
    );

    // Wrong codes in windows.
    let id = &limited.id;
    assert_eq!(
        store.share_failures(id, T0, 1000).await.expect("failures"),
        0
    );
    assert_eq!(store.share_fail(id, T0, 1000).await.expect("fail"), 1);
    assert_eq!(store.share_fail(id, T0 + 500, 1000).await.expect("fail"), 2);
    assert_eq!(
        store
            .share_failures(id, T0 + 999, 1000)
            .await
            .expect("failures"),
        2
    );
    assert_eq!(
        store
            .share_failures(id, T0 + 1000, 1000)
            .await
            .expect("failures"),
        0
    );
    assert_eq!(
        store.share_fail(id, T0 + 1000, 1000).await.expect("fail"),
        1
    );
    assert_eq!(
        store
            .share_failures(id, T0 + 1001, 1000)
            .await
            .expect("failures"),
        1
    );

    // Listing and deleting are the owner's.
    let listed = store.shares_of(alice, 0, ALL).await.expect("shares");
    assert_eq!(
        ids_of(&listed),
        vec![expiring.id.clone(), limited.id.clone()]
    );
    assert!(!store.share_delete(bob, &limited.id).await.expect("delete"));
    assert!(
        store
            .share_delete(alice, &limited.id)
            .await
            .expect("delete")
    );
    assert_eq!(store.share(&limited.id).await.expect("share"), None);
    // Only over one's own entries in the drive.
    let r = store.share_create(&share_of(bob, &f, T0)).await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
    store
        .drive_trash_v(alice, from_ref(&f.id), T0)
        .await
        .expect("trash");
    let r = store.share_create(&share_of(alice, &f, T0)).await;
    assert_eq!(refusal(r), Refusal::NoSuchEntry);
}

fn ids_of(shares: &[ShareRecord]) -> Vec<String> {
    shares.iter().map(|s| s.id.clone()).collect()
}

/// Downloads counted on two nodes at once never pass the limit.
async fn concurrent_downloads_respect_the_limit<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let f = folder(store, alice, "", "f").await;
    let share = ShareRecord {
        max_downloads: Some(5),
        ..share_of(alice, &f, T0)
    };
    store.share_create(&share).await.expect("share");
    let nodes = [
        Arc::new(harness.another_node().await),
        Arc::new(harness.another_node().await),
    ];
    let mut tasks = Vec::new();
    for i in 0..20 {
        let node = nodes[i % 2].clone();
        let id = share.id.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match node.share_count_download(&id, T0).await {
                    Err(StoreError::Unavailable(_)) => continue,
                    other => break other.expect("count"),
                }
            }
        }));
    }
    let mut counted = 0;
    for task in tasks {
        counted += usize::from(task.await.expect("task"));
    }
    assert_eq!(counted, 5);
    for node in nodes {
        node.close().await;
    }
    harness.close().await;
}

/// The kinds and entry ids of `user`'s changes after `after`.
async fn drive_changes(store: &dyn Store, user: UserId, after: i64) -> Vec<(String, Vec<String>)> {
    use magpie_proto::ChangeEvent;
    let page = store.changes(user, after, 1000).await.expect("changes");
    page.changes
        .into_iter()
        .filter_map(|c| match c.event {
            ChangeEvent::DriveEntry(e) => Some(("entry".to_string(), vec![e.id])),
            ChangeEvent::DriveRemoved(r) => Some(("removed".to_string(), r.entries)),
            _ => None,
        })
        .collect()
}

async fn stream_head(store: &dyn Store, user: UserId) -> i64 {
    store.changes(user, 0, 1).await.expect("changes").head
}

async fn changes_reach_the_owners_stream(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let start = stream_head(store, alice).await;
    let made = store
        .drive_add(
            &NewEntry {
                id: new_id(),
                owner: alice,
                parent: String::new(),
                name: "Docs".into(),
                content: NewContent::Folder,
                now: T0,
            },
            OnClash::Refuse,
            OPEN,
        )
        .await
        .expect("add");
    assert_eq!(made.written.len(), 1);
    assert_eq!(made.written[0].user, alice);
    let docs = made.value;
    let inner = folder(store, alice, &docs.id, "inner").await;
    store
        .drive_rename(alice, &docs.id, "Papers", OnClash::Refuse, T0)
        .await
        .expect("rename");
    let binned = store
        .drive_trash(alice, from_ref(&docs.id), T0 + 5, 1000)
        .await
        .expect("trash");
    match &binned.written[0].change.event {
        magpie_proto::ChangeEvent::DriveEntry(e) => {
            assert_eq!((e.trashed_at, e.purge_at), (Some(T0 + 5), Some(T0 + 1005)));
        }
        other => panic!("a drive_entry change, not {other:?}"),
    }
    store
        .drive_restore(alice, from_ref(&docs.id), T0 + 6)
        .await
        .expect("restore");
    store
        .drive_trash(alice, from_ref(&docs.id), T0 + 7, 0)
        .await
        .expect("trash");
    let marked = store
        .drive_purge_mark(alice, None, T0 + 8)
        .await
        .expect("mark");
    assert_eq!(marked.value, 1);
    // What happens inside the bin is not seen: only the bin entry's
    // removal, written when it was marked.
    purge_all(store, Some(alice), 10).await;
    assert_eq!(
        drive_changes(store, alice, start).await,
        [
            ("entry".to_string(), vec![docs.id.clone()]),
            ("entry".to_string(), vec![inner.id.clone()]),
            ("entry".to_string(), vec![docs.id.clone()]),
            ("entry".to_string(), vec![docs.id.clone()]),
            ("entry".to_string(), vec![docs.id.clone()]),
            ("entry".to_string(), vec![docs.id.clone()]),
            ("removed".to_string(), vec![docs.id.clone()]),
        ]
    );
    assert!(
        drive_changes(store, bob, 0).await.is_empty(),
        "only the owner is told"
    );

    // A bin entry the background purge takes when it expires is removed
    // from the owner's bin by a change too.
    let old = folder(store, alice, "", "old").await;
    store
        .drive_trash(alice, from_ref(&old.id), T0, 0)
        .await
        .expect("trash");
    let before = stream_head(store, alice).await;
    let step = store
        .drive_purge_step(None, T0 + 1, 10, T0 + 2)
        .await
        .expect("step");
    assert_eq!(step.written.len(), 1);
    assert_eq!(
        drive_changes(store, alice, before).await,
        [("removed".to_string(), vec![old.id.clone()])]
    );
}

common::contract_suite! {
    store: [
        changes_reach_the_owners_stream,
        entries_are_added_to_folders_of_their_owner,
        name_clashes_are_refused_or_numbered,
        moves_cannot_make_cycles,
        depth_and_entries_are_bounded,
        new_content_is_counted_once_against_the_quota,
        the_bin_restores_where_it_can,
        purging_a_tree_releases_its_references,
        old_bin_entries_are_purged_when_due,
        search_finds_names_in_the_drive,
        copies_save_whole_subtrees,
        shares_count_downloads_and_wrong_codes,
    ],
    harness: [
        an_interrupted_purge_resumes,
        concurrent_downloads_respect_the_limit,
    ],
}

// ---------------------------------------------------------------------------
// Reference counts, checked in the tables
// ---------------------------------------------------------------------------

/// A store on a database of its own, and direct access to its tables for
/// the checks the API cannot make.
struct Audited {
    store: Arc<SqlStore>,
    raw: Raw,
    _dir: Option<tempfile::TempDir>,
    _db: Option<magpie_testkit::TestDatabase>,
}

enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
    MySql(sqlx::MySqlConnection),
}

impl Audited {
    async fn sqlite() -> Audited {
        use sqlx::Connection;
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let path = dir.path().join("magpie.db");
        let store = SqlStore::open_sqlite(&path).await.expect("open SQLite");
        let raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("raw SQLite connection");
        Audited {
            store: Arc::new(store),
            raw: Raw::Sqlite(raw),
            _dir: Some(dir),
            _db: None,
        }
    }

    async fn server(env: &str, default: &str) -> Audited {
        use sqlx::Connection;
        let admin = std::env::var(env).unwrap_or_else(|_| default.to_string());
        let db = magpie_testkit::TestDatabase::create(&admin).await;
        let store = SqlStore::connect(&db.url, &PoolSettings::default())
            .await
            .expect("connect");
        let raw = if db.url.starts_with("postgres") {
            Raw::Postgres(sqlx::PgConnection::connect(&db.url).await.expect("raw"))
        } else {
            Raw::MySql(sqlx::MySqlConnection::connect(&db.url).await.expect("raw"))
        };
        Audited {
            store: Arc::new(store),
            raw,
            _dir: None,
            _db: Some(db),
        }
    }

    async fn postgres() -> Audited {
        Audited::server("MAGPIE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432").await
    }

    async fn mysql() -> Audited {
        Audited::server("MAGPIE_TEST_MYSQL", "mysql://root@127.0.0.1:3306").await
    }

    async fn count(&mut self, sql: &'static str) -> i64 {
        let result = match &mut self.raw {
            Raw::Sqlite(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
            Raw::Postgres(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
            Raw::MySql(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every blob's `refs` is the number of files over it, and a blob row
    /// exists exactly while some file references it; drive files and
    /// their entries go together.
    async fn check(&mut self, when: &str) {
        let checks: [(&str, &'static str); 6] = [
            (
                "blobs whose refs differ from their files",
                "SELECT COUNT(*) FROM blobs b \
                 WHERE b.refs <> (SELECT COUNT(*) FROM files f WHERE f.sha256 = b.sha256)",
            ),
            (
                "blobs no file references",
                "SELECT COUNT(*) FROM blobs WHERE refs <= 0",
            ),
            (
                "files over no blob",
                "SELECT COUNT(*) FROM files f \
                 WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = f.sha256)",
            ),
            (
                "drive files without an entry",
                "SELECT COUNT(*) FROM files f WHERE f.purpose = 4 \
                 AND NOT EXISTS (SELECT 1 FROM drive_entries e WHERE e.file_id = f.id)",
            ),
            (
                "files held by two entries",
                "SELECT COUNT(*) FROM drive_entries e WHERE e.file_id IS NOT NULL AND EXISTS \
                 (SELECT 1 FROM drive_entries o WHERE o.file_id = e.file_id AND o.id <> e.id)",
            ),
            (
                "entries inside nothing",
                "SELECT COUNT(*) FROM drive_entries e WHERE e.parent IS NOT NULL \
                 AND e.parent <> '' \
                 AND NOT EXISTS (SELECT 1 FROM drive_entries p WHERE p.id = e.parent)",
            ),
        ];
        for (what, sql) in checks {
            assert_eq!(self.count(sql).await, 0, "{what} ({when})");
        }
    }

    async fn close(self) {
        self.store.close().await;
    }
}

macro_rules! audited_suite {
    ($($test:ident),* $(,)?) => {
        audited_suite!(@backend sqlite, []; [$($test),*]);
        audited_suite!(@backend postgres,
            [#[ignore = "needs PostgreSQL; .ci/run runs it"]]; [$($test),*]);
        audited_suite!(@backend mysql,
            [#[ignore = "needs MySQL/MariaDB; .ci/run runs it"]]; [$($test),*]);
    };
    (@backend $open:ident, $attrs:tt; [$($test:ident),*]) => {
        mod $open {
            $( audited_suite!(@test $open, $attrs, $test); )*
        }
    };
    (@test $open:ident, [$(#[$attr:meta])*], $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        $(#[$attr])*
        async fn $test() {
            super::$test(super::Audited::$open().await).await;
        }
    };
}

/// A small deterministic generator (xorshift64*), so a failing sequence
/// is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

/// Retry what the store says is worth retrying (deadlocks, busy): a
/// macro rather than a function over an async closure, so that the
/// spawned tasks stay `Send`.
macro_rules! retried {
    ($call:expr) => {{
        let mut tries = 0;
        loop {
            match $call.await {
                Err(StoreError::Unavailable(_)) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                other => break other,
            }
        }
    }};
}

/// Refusals are part of the game; anything else fails the test.
#[track_caller]
fn allowed<T>(result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(StoreError::Refused(_)) => None,
        Err(e) => panic!("unexpected store error: {e}"),
    }
}

/// What the model keeps track of: every storage key stored and released,
/// and the ids it may pick from (some long gone: the store refuses those).
#[derive(Default)]
struct Model {
    stored: BTreeSet<String>,
    released: BTreeMap<String, usize>,
    uploads: Vec<(UserId, FileRecord)>,
    entries: Vec<(UserId, String)>,
    folders: Vec<(UserId, String)>,
    /// Successful operations by kind, to show the sequence does something.
    done: BTreeMap<&'static str, usize>,
}

impl Model {
    fn did(&mut self, what: &'static str) {
        *self.done.entry(what).or_default() += 1;
    }

    fn release(&mut self, released: impl IntoIterator<Item = Unreferenced>) {
        for bytes in released {
            *self.released.entry(bytes.storage_key).or_default() += 1;
        }
    }

    fn entries_of(&self, owner: UserId) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(o, _)| *o == owner)
            .map(|(_, id)| id.clone())
            .collect()
    }

    fn folder_of(&self, rng: &mut Rng, owner: UserId) -> String {
        let mine: Vec<_> = self.folders.iter().filter(|(o, _)| *o == owner).collect();
        match rng.pick(&mine) {
            Some((_, id)) if rng.below(3) > 0 => id.clone(),
            _ => String::new(),
        }
    }
}

/// Trash everything, purge it, delete every upload: then every stored key
/// must have been released exactly once, and nothing be left.
async fn drain(db: &mut Audited, users: &[UserId], model: &mut Model) {
    let store: &dyn Store = &*db.store;
    for &u in users {
        let top: Vec<String> = store
            .drive_children(u, "", DriveSort::Name, false, 0, ALL)
            .await
            .expect("children")
            .into_iter()
            .map(|e| e.id)
            .collect();
        if !top.is_empty() {
            store.drive_trash_v(u, &top, T0).await.expect("trash all");
        }
        store.drive_purge_mark_v(u, None).await.expect("mark all");
    }
    model.release(purge_all(store, None, 4).await);
    for (_, file) in std::mem::take(&mut model.uploads) {
        if let Some(current) = store.file(&file.id).await.expect("file")
            && current.purpose == FilePurpose::Upload
        {
            let released = store.delete_file(&file.id).await.expect("delete");
            model.release(released);
        }
    }
    db.check("after the drain").await;
    assert_eq!(db.count("SELECT COUNT(*) FROM drive_entries").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM files").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM blobs").await, 0);
    let released: BTreeSet<String> = model.released.keys().cloned().collect();
    assert_eq!(released, model.stored, "every stored key released");
    assert!(
        model.released.values().all(|&n| n == 1),
        "no key released twice"
    );
}

async fn refcounts_follow_a_random_model(mut db: Audited) {
    let store: Arc<SqlStore> = db.store.clone();
    let store: &dyn Store = &*store;
    let users = [
        user(store, "ann").await,
        user(store, "ben").await,
        user(store, "cat").await,
    ];
    let limits = DriveLimits {
        quota: 40_000,
        max_entries: 60,
        max_copy: 12,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut model = Model::default();
    for op in 0..600 {
        let u = users[rng.below(users.len())];
        let now = T0 + op;
        match rng.below(12) {
            0 => {
                let content = 1 + rng.below(8) as u8;
                let (file, key) = upload_keyed(store, u, "up", content).await.expect("upload");
                model.stored.extend(key);
                model.uploads.push((u, file));
            }
            1 | 2 => {
                let Some((_, src)) = rng.pick(&model.uploads).cloned() else {
                    continue;
                };
                let parent = model.folder_of(&mut rng, u);
                let entry = add(
                    store,
                    u,
                    &parent,
                    "ref.bin",
                    reference(u, &src),
                    OnClash::Rename,
                    limits,
                )
                .await;
                if let Some(e) = allowed(entry) {
                    model.did("reference");
                    model.entries.push((u, e.id));
                }
            }
            3 => {
                let mine: Vec<_> = model.uploads.iter().filter(|(o, _)| *o == u).collect();
                let Some((_, file)) = rng.pick(&mine).cloned() else {
                    continue;
                };
                let content = NewContent::Adopt {
                    file_id: file.id.clone(),
                };
                let parent = model.folder_of(&mut rng, u);
                let entry = add(
                    store,
                    u,
                    &parent,
                    "adopted",
                    content,
                    OnClash::Rename,
                    limits,
                )
                .await;
                if let Some(e) = allowed(entry) {
                    model.did("adopt");
                    model.entries.push((u, e.id));
                }
            }
            4 => {
                let parent = model.folder_of(&mut rng, u);
                let entry = add(
                    store,
                    u,
                    &parent,
                    "dir",
                    NewContent::Folder,
                    OnClash::Rename,
                    limits,
                )
                .await;
                if let Some(e) = allowed(entry) {
                    model.folders.push((u, e.id.clone()));
                    model.entries.push((u, e.id));
                }
            }
            5 => {
                let Some((_, source)) = rng.pick(&model.entries).cloned() else {
                    continue;
                };
                let parent = model.folder_of(&mut rng, u);
                let copied = store.drive_copy_v(u, &[source], &parent, limits, now).await;
                if let Some(copied) = allowed(copied) {
                    model.did("copy");
                    for e in copied {
                        if e.is_folder() {
                            model.folders.push((u, e.id.clone()));
                        }
                        model.entries.push((u, e.id));
                    }
                }
            }
            6 | 7 => {
                let mine = model.entries_of(u);
                let picked: Vec<String> = (0..1 + rng.below(2))
                    .filter_map(|_| rng.pick(&mine).cloned())
                    .collect();
                if !picked.is_empty()
                    && allowed(store.drive_trash_v(u, &picked, now).await).is_some()
                {
                    model.did("trash");
                }
            }
            8 => {
                let bin = store.drive_bin(u, 0, ALL).await.expect("bin");
                if let Some(e) = rng.pick(&bin)
                    && allowed(store.drive_restore_v(u, from_ref(&e.id), now).await).is_some()
                {
                    model.did("restore");
                }
            }
            9 => {
                let bin = store.drive_bin(u, 0, ALL).await.expect("bin");
                if rng.below(2) == 0 {
                    store.drive_purge_mark_v(u, None).await.expect("mark");
                } else if let Some(e) = rng.pick(&bin) {
                    store
                        .drive_purge_mark_v(u, Some(from_ref(&e.id)))
                        .await
                        .expect("mark");
                }
            }
            10 => {
                let owner = if rng.below(2) == 0 { Some(u) } else { None };
                for _ in 0..1 + rng.below(4) {
                    let step = store
                        .drive_purge_step_v(
                            owner,
                            T0 + rng.below(600) as i64,
                            1 + rng.below(3) as u32,
                        )
                        .await
                        .expect("step");
                    if step.removed > 0 {
                        model.did("purge");
                    }
                    model.release(step.released);
                }
            }
            _ => {
                let mine = model.entries_of(u);
                let Some(id) = rng.pick(&mine).cloned() else {
                    continue;
                };
                let dest = model.folder_of(&mut rng, u);
                let moved = store
                    .drive_move_v(u, &[id], &dest, OnClash::Rename, now)
                    .await;
                if allowed(moved).is_some() {
                    model.did("move");
                }
                // And an upload deleted now and then.
                if let Some((_, file)) = rng.pick(&model.uploads).cloned()
                    && let Some(current) = store.file(&file.id).await.expect("file")
                    && current.purpose == FilePurpose::Upload
                {
                    let released = store.delete_file(&file.id).await.expect("delete");
                    model.release(released);
                }
            }
        }
        if op % 50 == 49 {
            db.check(&format!("after op {op}")).await;
        }
    }
    db.check("at the end").await;
    for what in [
        "reference",
        "adopt",
        "copy",
        "trash",
        "restore",
        "move",
        "purge",
    ] {
        let n = model.done.get(what).copied().unwrap_or(0);
        assert!(n >= 5, "the sequence exercises {what} ({n} times)");
    }
    assert!(
        !model.released.is_empty(),
        "some bytes were released on the way"
    );
    drain(&mut db, &users, &mut model).await;
    db.close().await;
}

async fn concurrent_saves_and_purges_keep_refcounts(mut db: Audited) {
    let store: &dyn Store = &*db.store;
    let owner = user(store, "owner").await;
    let savers = [
        user(store, "s1").await,
        user(store, "s2").await,
        user(store, "s3").await,
    ];
    let mut model = Model::default();
    // A shared folder over contents 1..=6, each also as an upload.
    let shared = folder(store, owner, "", "shared").await;
    for content in 1..=6u8 {
        let (file, key) = upload_keyed(store, owner, "up", content)
            .await
            .expect("upload");
        model.stored.extend(key);
        save(store, owner, &shared.id, &format!("f{content}"), &file).await;
        model.uploads.push((owner, file));
    }
    let sources: Vec<FileRecord> = model.uploads.iter().map(|(_, f)| f.clone()).collect();
    let mut tasks = Vec::new();
    for (i, &u) in savers.iter().enumerate() {
        let store = db.store.clone();
        let shared = shared.id.clone();
        let sources = sources.clone();
        tasks.push(tokio::spawn(async move {
            let store: &dyn Store = &*store;
            let mut rng = Rng(0x1234_5678 + i as u64);
            let mut released = Vec::new();
            for round in 0..25 {
                let now = T0 + round;
                match rng.below(4) {
                    0 => {
                        let r = retried!(store.drive_copy_v(u, from_ref(&shared), "", OPEN, now));
                        allowed(r);
                    }
                    1 => {
                        let Some(src) = rng.pick(&sources).cloned() else {
                            continue;
                        };
                        let r = retried!(add(
                            store,
                            u,
                            "",
                            "ref",
                            reference(u, &src),
                            OnClash::Rename,
                            OPEN,
                        ));
                        allowed(r);
                    }
                    2 => {
                        let top = store
                            .drive_children(u, "", DriveSort::Name, false, 0, ALL)
                            .await
                            .expect("children");
                        let picked: Vec<String> =
                            top.iter().take(2).map(|e| e.id.clone()).collect();
                        if !picked.is_empty() {
                            allowed(retried!(store.drive_trash_v(u, &picked, now)));
                            allowed(retried!(store.drive_purge_mark_v(u, None)));
                        }
                    }
                    _ => {
                        for _ in 0..3 {
                            let step = retried!(store.drive_purge_step_v(None, T0, 2));
                            if let Some(step) = allowed(step) {
                                released.extend(step.released);
                            }
                        }
                    }
                }
            }
            released
        }));
    }
    // Meanwhile the owner trashes the shared folder's files and purges them.
    let owner_task = {
        let store = db.store.clone();
        let shared = shared.id.clone();
        tokio::spawn(async move {
            let store: &dyn Store = &*store;
            let mut released = Vec::new();
            for round in 0..6 {
                let files = store
                    .drive_children(owner, &shared, DriveSort::Name, false, 0, 1)
                    .await
                    .expect("children");
                if let Some(e) = files.first() {
                    allowed(retried!(store.drive_trash_v(
                        owner,
                        from_ref(&e.id),
                        T0 + round
                    )));
                    allowed(retried!(store.drive_purge_mark_v(owner, None)));
                }
                let step = retried!(store.drive_purge_step_v(Some(owner), T0, 3));
                if let Some(step) = allowed(step) {
                    released.extend(step.released);
                }
                tokio::task::yield_now().await;
            }
            released
        })
    };
    for task in tasks {
        model.release(task.await.expect("saver"));
    }
    model.release(owner_task.await.expect("owner"));
    db.check("after the race").await;
    let mut users = savers.to_vec();
    users.push(owner);
    drain(&mut db, &users, &mut model).await;
    db.close().await;
}

/// The refcount suites, in a module of their own beside the contract
/// suite's per-engine modules.
mod refcounts {
    use super::*;

    audited_suite!(
        refcounts_follow_a_random_model,
        concurrent_saves_and_purges_keep_refcounts,
    );
}
