// The personal drive (网盘) as signals: what is on show (a folder, recent
// files, a search, the bin, my share links), the quota, and files going up
// into a folder. Kept live by the change stream (`drive_entry`,
// `drive_removed`, PROTOCOL.md "The drive"): every device applies the same
// changes, so a folder made or a file placed on one shows on the others
// without a reload; a `resync` or a reset stream reloads what is on show.

import { batch, computed, signal } from "@preact/signals";
import {
  isChange,
  MagpieError,
  type Crumb,
  type DriveEntry,
  type DriveShare,
  type MagpieClient,
  type Quota,
  type ShareInfo,
  type Upload,
} from "magpie-client";
import type { Chats } from "./chats";

/** What the drive pane shows. */
export type DriveView =
  { kind: "folder" } | { kind: "recent" } | { kind: "search"; query: string } | { kind: "bin" } | { kind: "shares" };

export type SortKey = "name" | "size" | "time";

/** One file going up into a folder of the drive. */
export interface DriveUpload {
  key: string;
  name: string;
  size: number;
  sent: number;
  /** The folder it goes into; undefined: the top. */
  folder: string | undefined;
  status: "uploading" | "paused" | "failed" | "placing";
  error?: string;
}

const PAGE = 200;

export class Drive {
  readonly view = signal<DriveView>({ kind: "folder" });
  /** The folder listed (undefined: the top) and its breadcrumb. */
  readonly folder = signal<string | undefined>(undefined);
  readonly path = signal<readonly Crumb[]>([]);
  /** The entries of the folder, search or recent files on show. */
  readonly entries = signal<readonly DriveEntry[]>([]);
  /** The next page's offset, when the folder or search has more. */
  readonly next = signal<number | undefined>(undefined);
  readonly bin = signal<readonly DriveEntry[]>([]);
  readonly binNext = signal<number | undefined>(undefined);
  readonly shares = signal<readonly ShareInfo[]>([]);
  readonly sharesNext = signal<number | undefined>(undefined);
  readonly quota = signal<Quota | undefined>(undefined);
  readonly uploads = signal<readonly DriveUpload[]>([]);
  readonly sort = signal<SortKey>("name");
  readonly loading = signal<boolean>(false);
  /** A refusal to show (an error code), until the next action. */
  readonly problem = signal<string | undefined>(undefined);
  /** On a phone: whether the drive pane is on screen rather than its menu. */
  readonly paneOpen = signal<boolean>(false);
  /** The entries on show, folders first, then by the chosen order. */
  readonly sorted = computed(() => sortEntries(this.entries.value, this.view.value.kind, this.sort.value));

  readonly client: MagpieClient;
  private readonly me: string;
  private readonly running = new Map<string, Upload>();
  /** Bumped by every load, so an answer that a newer load overtook is dropped. */
  private generation = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(client: MagpieClient, me: string) {
    this.client = client;
    this.me = me;
    client.on("change", (change) => {
      if (isChange(change, "drive_entry")) this.applyEntry(change.data);
      else if (isChange(change, "drive_removed")) this.applyRemoved(change.data.entries);
    });
    client.on("resync", () => void this.reload());
    client.on("changesReset", () => void this.reload());
  }

  // ---- what is on show ----

  /** Show a folder (undefined: the top). */
  openFolder(folder: string | undefined): Promise<void> {
    batch(() => {
      this.problem.value = undefined;
      this.view.value = { kind: "folder" };
      this.folder.value = folder;
      this.entries.value = [];
      this.paneOpen.value = true;
    });
    return this.reload();
  }

  show(view: DriveView): Promise<void> {
    batch(() => {
      this.problem.value = undefined;
      this.view.value = view;
      this.entries.value = [];
      this.paneOpen.value = true;
    });
    return this.reload();
  }

  /** Load what is on show again, from its first page, and the quota. */
  async reload(): Promise<void> {
    const generation = ++this.generation;
    this.loading.value = true;
    try {
      await Promise.all([this.loadView(generation, 0), this.loadQuota()]);
    } catch (error) {
      if (generation !== this.generation) return;
      // The folder on show went to the bin on another device: show the top.
      const gone = error instanceof MagpieError && error.code === "unknown_entry";
      if (gone && this.view.value.kind === "folder" && this.folder.value !== undefined) void this.openFolder(undefined);
      else this.fail(error);
    } finally {
      if (generation === this.generation) this.loading.value = false;
    }
  }

  /** The next page of what is on show. */
  async loadMore(): Promise<void> {
    const view = this.view.value.kind;
    const offset = view === "bin" ? this.binNext.value : view === "shares" ? this.sharesNext.value : this.next.value;
    if (offset === undefined) return;
    await this.loadView(this.generation, offset).catch((error: unknown) => this.fail(error));
  }

  private async loadView(generation: number, offset: number): Promise<void> {
    const view = this.view.value;
    const current = () => generation === this.generation;
    // A later page may hold an entry a live change already added: once.
    const append = <T extends { id: string }>(old: readonly T[], page: readonly T[]) => {
      if (offset === 0) return page;
      const listed = new Set(old.map((item) => item.id));
      return [...old, ...page.filter((item) => !listed.has(item.id))];
    };
    switch (view.kind) {
      case "folder": {
        const folder = this.folder.value;
        const page = await this.client.request("drive_list", {
          ...(folder === undefined ? {} : { folder }),
          offset,
          limit: PAGE,
        });
        if (!current()) return;
        batch(() => {
          this.path.value = page.path;
          this.entries.value = append(this.entries.value, page.entries);
          this.next.value = page.next;
        });
        return;
      }
      case "recent": {
        const page = await this.client.request("drive_recent", { limit: 100 });
        if (!current()) return;
        batch(() => {
          this.entries.value = page.entries;
          this.next.value = undefined;
        });
        return;
      }
      case "search": {
        const page = await this.client.request("drive_search", { query: view.query, offset, limit: 100 });
        if (!current()) return;
        batch(() => {
          this.entries.value = append(this.entries.value, page.entries);
          this.next.value = page.next;
        });
        return;
      }
      case "bin": {
        const page = await this.client.request("drive_bin", { offset, limit: PAGE });
        if (!current()) return;
        batch(() => {
          this.bin.value = append(this.bin.value, page.entries);
          this.binNext.value = page.next;
        });
        return;
      }
      case "shares": {
        const page = await this.client.request("drive_shares", { offset, limit: PAGE });
        if (!current()) return;
        batch(() => {
          this.shares.value = append(this.shares.value, page.shares);
          this.sharesNext.value = page.next;
        });
        return;
      }
    }
  }

  async loadQuota(): Promise<void> {
    this.quota.value = await this.client.request("drive_quota");
  }

  // ---- changes: mine from this device, and from the others ----

  /** An entry's whole new state: show it where it now belongs, and
   * nowhere else. */
  private applyEntry(entry: DriveEntry): void {
    const view = this.view.value;
    batch(() => {
      const trashed = entry.trashed_at !== undefined;
      if (trashed) this.bin.value = upsert(this.bin.value, entry);
      else this.bin.value = this.bin.value.filter((e) => e.id !== entry.id);
      const belongs =
        !trashed &&
        ((view.kind === "folder" && entry.parent === this.folder.value) ||
          (view.kind === "recent" && entry.kind === "file") ||
          (view.kind === "search" && this.entries.value.some((e) => e.id === entry.id)));
      this.entries.value = belongs
        ? upsert(this.entries.value, entry)
        : this.entries.value.filter((e) => e.id !== entry.id);
    });
    // A folder of the breadcrumb renamed, moved or deleted: the path (or
    // the folder itself) is no longer what is shown.
    const crumb = this.path.value.findIndex((c) => c.id === entry.id);
    if (view.kind === "folder" && crumb >= 0) {
      const parentBefore = crumb === 0 ? undefined : this.path.value[crumb - 1]?.id;
      if (entry.trashed_at !== undefined || entry.parent !== parentBefore) {
        if (entry.trashed_at !== undefined) void this.openFolder(undefined);
        else void this.reload();
      } else {
        this.path.value = this.path.value.map((c) => (c.id === entry.id ? { id: c.id, name: entry.name } : c));
      }
    }
    this.refreshSoon();
  }

  private applyRemoved(ids: readonly string[]): void {
    const gone = new Set(ids);
    batch(() => {
      this.bin.value = this.bin.value.filter((e) => !gone.has(e.id));
      this.entries.value = this.entries.value.filter((e) => !gone.has(e.id));
    });
    this.refreshSoon();
  }

  /** The quota and the share links follow from the drive's content, and
   * no change carries them: read them again once a burst of changes ends. */
  private refreshSoon(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      void this.loadQuota().catch(() => undefined);
      if (this.view.value.kind === "shares") void this.reload();
    }, 300);
  }

  // ---- actions; each one's effect comes back as a change, applied above ----

  mkdir(name: string): Promise<unknown> {
    const parent = this.folder.value;
    return this.client.request("drive_mkdir", { name: name.trim(), ...(parent ? { parent } : {}) });
  }

  rename(entry: DriveEntry, name: string): Promise<unknown> {
    return this.client.request("drive_rename", { entry: entry.id, name: name.trim() });
  }

  move(entries: readonly DriveEntry[], parent: string | undefined): Promise<unknown> {
    const ids = entries.map((e) => e.id);
    return this.client.request("drive_move", { entries: ids, ...(parent ? { parent } : {}) });
  }

  trash(entries: readonly DriveEntry[]): Promise<unknown> {
    return this.client.request("drive_delete", { entries: entries.map((e) => e.id) });
  }

  restore(entries: readonly DriveEntry[]): Promise<unknown> {
    return this.client.request("drive_restore", { entries: entries.map((e) => e.id) });
  }

  /** Purge the entries named, or the whole bin; the quota they free shows
   * at once. */
  async purge(entries?: readonly DriveEntry[]): Promise<void> {
    await this.client.request("drive_purge", entries === undefined ? {} : { entries: entries.map((e) => e.id) });
    await this.loadQuota();
  }

  share(args: DriveShare): Promise<ShareInfo> {
    return this.client.request("drive_share", args);
  }

  /** Save what a share link holds (anyone's, with its code) into the
   * folder on show (转存). */
  saveShare(share: string, code: string): Promise<unknown> {
    const parent = this.view.value.kind === "folder" ? this.folder.value : undefined;
    return this.client.request("drive_save", { share, code: code.trim(), ...(parent ? { parent } : {}) });
  }

  /** Revoke a link (no change carries links: the list is updated here). */
  async unshare(share: ShareInfo): Promise<void> {
    await this.client.request("drive_unshare", { share: share.id });
    this.shares.value = this.shares.value.filter((s) => s.id !== share.id);
  }

  /** The sub-folders of a folder, for the folder picker. */
  async foldersIn(folder: string | undefined): Promise<{ path: readonly Crumb[]; folders: DriveEntry[] }> {
    const folders: DriveEntry[] = [];
    let offset: number | undefined = 0;
    let path: readonly Crumb[] = [];
    // Folders come first in a listing: stop at the first page with a file.
    while (offset !== undefined) {
      const page: { path: Crumb[]; entries: DriveEntry[]; next?: number } = await this.client.request("drive_list", {
        ...(folder === undefined ? {} : { folder }),
        offset,
        limit: 500,
      });
      path = page.path;
      const mine = page.entries.filter((e) => e.kind === "folder");
      folders.push(...mine);
      offset = mine.length < page.entries.length ? undefined : page.next;
    }
    return { path, folders };
  }

  /** Run an action that has no dialog to show its refusal in: keep the
   * refusal in `problem`. (A dialog shows its own, and stays open.) */
  attempt(action: (drive: this) => Promise<unknown>): void {
    this.problem.value = undefined;
    action(this).catch((error: unknown) => this.fail(error));
  }

  private fail(error: unknown): void {
    this.problem.value = error instanceof MagpieError ? error.code : "internal";
  }

  // ---- uploads into the folder on show ----

  /** Upload files into the folder on show, then place each in it. */
  upload(files: readonly File[]): void {
    const folder = this.view.value.kind === "folder" ? this.folder.value : undefined;
    for (const file of files) this.begin(file, folder);
  }

  pause(key: string): void {
    this.running.get(key)?.pause();
    this.updateUpload(key, { status: "paused" });
  }

  resume(key: string): void {
    this.running.get(key)?.resume();
    this.updateUpload(key, { status: "uploading" });
  }

  cancel(key: string): void {
    void this.running.get(key)?.abort();
    this.finishUpload(key);
  }

  private begin(file: File, folder: string | undefined): void {
    const key = crypto.randomUUID();
    this.uploads.value = [
      ...this.uploads.value,
      { key, name: file.name, size: file.size, sent: 0, folder, status: "uploading" },
    ];
    const upload = this.client.upload(file, {
      name: file.name,
      fingerprint: `magpie-drive-${this.me}-${key}`,
      onProgress: (sent) => this.updateUpload(key, { sent }),
    });
    this.running.set(key, upload);
    upload.done
      .then(async (info) => {
        this.updateUpload(key, { status: "placing", sent: info.size });
        // The upload becomes the drive file (PROTOCOL.md drive_put); a
        // name taken meanwhile gets "name (1).ext" rather than failing.
        await this.client.request("drive_put", { file: info.id, rename: true, ...(folder ? { parent: folder } : {}) });
        this.finishUpload(key);
      })
      .catch((e: unknown) => {
        const code = e instanceof MagpieError ? e.code : "internal";
        if (code === "aborted") return;
        this.updateUpload(key, { status: "failed", error: code });
      });
  }

  private finishUpload(key: string): void {
    this.running.delete(key);
    this.uploads.value = this.uploads.value.filter((u) => u.key !== key);
  }

  private updateUpload(key: string, change: Partial<DriveUpload>): void {
    this.uploads.value = this.uploads.value.map((u) => (u.key === key ? { ...u, ...change } : u));
  }
}

function upsert(list: readonly DriveEntry[], entry: DriveEntry): readonly DriveEntry[] {
  const at = list.findIndex((e) => e.id === entry.id);
  if (at < 0) return [...list, entry];
  const next = [...list];
  next[at] = entry;
  return next;
}

/** Folders first, then by name (code point by code point, as the server
 * sorts), size or time; recent files newest first, search hits as found
 * by recency, the bin most recently deleted first. */
export function sortEntries(entries: readonly DriveEntry[], view: DriveView["kind"], key: SortKey): DriveEntry[] {
  const list = [...entries];
  if (view === "recent") return list.sort((a, b) => b.created_at - a.created_at);
  if (view === "bin") return list.sort((a, b) => (b.trashed_at ?? 0) - (a.trashed_at ?? 0));
  const byKey = (a: DriveEntry, b: DriveEntry): number => {
    if (key === "size") return b.size - a.size;
    if (key === "time") return b.updated_at - a.updated_at;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
  return list.sort(
    (a, b) => Number(b.kind === "folder") - Number(a.kind === "folder") || byKey(a, b) || (a.id < b.id ? -1 : 1),
  );
}

const all = new WeakMap<Chats, Drive>();

/** The drive of a signed-in user (made on first use). */
export function driveOf(chats: Chats): Drive {
  let drive = all.get(chats);
  if (drive === undefined) {
    const made = new Drive(chats.client, chats.me);
    chats.onSnapshot(() => made.reload());
    all.set(chats, made);
    drive = made;
  }
  return drive;
}

/** The address to give out for a share link: the server's public address
 * (the one serving this page) before the link's path. */
export function shareAddress(share: ShareInfo): string {
  return new URL(share.url, location.origin).href;
}

/** A share link's id and code from what someone pasted: the link (with
 * its `?pwd=` code or not), its path, or the bare id. */
export function parseShareLink(text: string): { share: string; code: string } | undefined {
  const share = /(?:^|\/s\/)([0-9a-f]{32})(?:[?#/]|$)/i.exec(text.trim())?.[1];
  if (share === undefined) return undefined;
  const code = /[?&](?:pwd|code)=([A-Za-z0-9]+)/.exec(text)?.[1] ?? "";
  return { share: share.toLowerCase(), code };
}
