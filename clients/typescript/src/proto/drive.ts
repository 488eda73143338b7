/** The personal drive (网盘): folders and files kept on the server, a
 * recycle bin, and share links protected by an extraction code (提取码)
 * (PROTOCOL.md "The drive"; DriveEntry, Crumb and ShareInfo objects; the
 * share objects of 13.6). Entry and share ids are 32 lowercase hex
 * digits. Operations on several entries name 1–100 of them and apply to
 * all or none. */

import type { FileInfo, Quota } from "./files.js";

type Empty = Record<string, never>;

/** Folder or file. */
export type EntryKind = "folder" | "file";

/** A folder or file of the caller's drive, in the drive or in the bin
 * (`trashed_at` set). Also the `drive_entry` change: the entry's whole
 * new state. */
export interface DriveEntry {
  /** Never changes, through renames, moves and the bin. */
  id: string;
  kind: EntryKind;
  /** Unique in its folder. */
  name: string;
  /** Absent at the top of the drive, and for an entry in the bin. */
  parent?: string;
  /** A file's bytes; 0 for a folder. */
  size: number;
  /** A file's content: its `id` downloads it and sends it into a chat. */
  file?: FileInfo;
  created_at: number;
  /** Its last rename, move or restore (`created_at` until then). */
  updated_at: number;
  /** In the bin: when it was deleted. */
  trashed_at?: number;
  /** In the bin: the folder it was deleted from; absent for the top. */
  home?: string;
  /** In the bin: when the server will purge it. */
  purge_at?: number;
}

/** Bin entries purged for good (the `drive_removed` change). */
export interface DriveRemoved {
  /** Entry ids, at most 500 per change. */
  entries: string[];
}

/** One folder of a path, from the top down: a breadcrumb. */
export interface Crumb {
  id: string;
  name: string;
}

/** How `drive_list` orders a folder; folders always come first. `time`
 * is `updated_at`. */
export type DriveSortKey = "name" | "size" | "time";

/** `drive_list`: one page of a folder. */
export interface DriveList {
  /** Omitted: the top of the drive. */
  folder?: string;
  /** Default `name`. */
  sort?: DriveSortKey;
  /** Largest, newest or last name first. Default `false`. */
  desc?: boolean;
  /** Entries to skip: the previous page's `next`. */
  offset?: number;
  /** 1–500, default 100. */
  limit?: number;
}

/** The answer to `drive_list`. */
export interface DriveListOk {
  /** The folder listed and its parents, from the top down; empty for the
   * top. */
  path: Crumb[];
  entries: DriveEntry[];
  /** Pass as `offset`; absent on the last page. */
  next?: number;
}

/** `drive_info`: one entry of the caller's, by id. */
export interface DriveRef {
  entry: string;
}

/** The answer to `drive_info`: an entry known only by id, with where it
 * is. */
export interface DriveInfoOk {
  entry: DriveEntry;
  /** The folders it is in, from the top down; empty at the top and in the
   * bin. */
  path: Crumb[];
}

/** `drive_mkdir`: a new folder. */
export interface DriveMkdir {
  /** Omitted: the top. */
  parent?: string;
  name: string;
  /** On a clash take `name (1)`, ... instead of failing with
   * `name_taken`. Default `false`. */
  rename?: boolean;
}

/** `drive_put`: place a file in the drive. The caller's own upload
 * becomes the drive file; any other readable file is saved as a new
 * reference to the same content. */
export interface DrivePut {
  file: string;
  /** Omitted: the top. */
  parent?: string;
  /** Omitted: the file's own name. */
  name?: string;
  rename?: boolean;
}

/** `drive_rename`: rename an entry in its folder. */
export interface DriveRename {
  entry: string;
  name: string;
  rename?: boolean;
}

/** `drive_move`: move entries into a folder. */
export interface DriveMove {
  entries: string[];
  /** The destination; omitted: the top. */
  parent?: string;
  rename?: boolean;
}

/** `drive_delete` (to the bin) and `drive_restore` (from it). */
export interface DriveEntries {
  entries: string[];
}

/** The answer to the operations that return several entries. */
export interface DriveEntriesOk {
  entries: DriveEntry[];
  /** Pass as `offset`, where the operation pages; absent on the last
   * page. */
  next?: number;
}

/** `drive_bin` and `drive_shares`: one page by offset. */
export interface DrivePage {
  offset?: number;
  /** 1–500, default 100. */
  limit?: number;
}

/** `drive_purge`: delete bin entries for good; all of the bin when
 * `entries` is absent. */
export interface DrivePurge {
  entries?: string[];
}

/** The answer to `drive_purge`. */
export interface DrivePurgeOk {
  /** Bin entries taken out of the bin (not counting their contents). */
  purged: number;
  /** Part of the purge goes on in the background; the quota frees up as
   * it goes. */
  pending: boolean;
}

/** `drive_search`: the caller's entries whose name contains `query`,
 * case-insensitively. */
export interface DriveSearch {
  /** 1–100 characters once trimmed. */
  query: string;
  offset?: number;
  /** 1–100, default 50. */
  limit?: number;
}

/** `drive_recent`: the files most recently added to the drive. One page,
 * no `next`. */
export interface DriveRecent {
  /** 1–100, default 50. */
  limit?: number;
}

/** `drive_share`: a share link over one of the caller's entries. */
export interface DriveShare {
  entry: string;
  /** 4–16 ASCII letters or digits; omitted: 4 random characters. */
  code?: string;
  /** In the future (ms since the epoch); omitted: never expires. */
  expires_at?: number;
  /** At least 1; omitted: unlimited. */
  max_downloads?: number;
}

/** A share link as its owner sees it. */
export interface ShareInfo {
  id: string;
  /** The page to give out, a path on the HTTP port (`/s/{id}`): put the
   * server's public address in front. */
  url: string;
  /** Lower case. */
  code: string;
  /** The shared entry's id. */
  entry: string;
  /** The shared entry's name now. */
  name: string;
  kind: EntryKind;
  /** Absent: never expires. */
  expires_at?: number;
  /** Absent: unlimited. */
  max_downloads?: number;
  downloads: number;
  saves: number;
  created_at: number;
  /** Works fully now: not expired, its entry in the drive, downloads
   * left. */
  active: boolean;
}

/** The answer to `drive_shares`. */
export interface DriveSharesOk {
  shares: ShareInfo[];
  next?: number;
}

/** `drive_unshare`: revoke a share link at once. */
export interface DriveUnshare {
  share: string;
}

/** `drive_save` (转存): copy what a share link holds into the caller's
 * drive, over the same content. */
export interface DriveSave {
  share: string;
  /** The extraction code, any case; a wrong one counts against the
   * link's limit of wrong codes. */
  code: string;
  /** 1–100 entry ids inside the shared folder; omitted: the shared entry
   * itself. */
  entries?: string[];
  /** The caller's folder to save into; omitted: the top. */
  parent?: string;
}

/** An entry as anyone with a share link sees it (13.6): no owner, no
 * hash, no file id. */
export interface SharedItem {
  /** The entry id: `folder` for browsing, `{entry}` for downloading,
   * `entries` for `drive_save`. */
  id: string;
  kind: EntryKind;
  name: string;
  /** A file's bytes; 0 for a folder. */
  size: number;
  /** A file's sniffed type; absent for a folder. */
  mime?: string;
  updated_at: number;
}

/** The answer to `GET /api/shares/{share}` (13.6): the shared entry and,
 * for a folder, one page of the folder asked for. */
export interface SharedView {
  /** The shared entry itself. */
  root: SharedItem;
  /** Who shared it: their nickname, or their username. */
  sharer: string;
  /** Absent: never expires. */
  expires_at?: number;
  /** From the shared folder down to the folder listed; empty for a
   * shared file. */
  path: Crumb[];
  /** The folder listed; empty for a file. */
  entries: SharedItem[];
  /** Pass as `offset`; absent on the last page. */
  next?: number;
}

/** The drive operations. */
export interface DriveOps {
  drive_list: { args: DriveList | void; result: DriveListOk };
  drive_info: { args: DriveRef; result: DriveInfoOk };
  drive_mkdir: { args: DriveMkdir; result: DriveEntry };
  drive_put: { args: DrivePut; result: DriveEntry };
  drive_rename: { args: DriveRename; result: DriveEntry };
  drive_move: { args: DriveMove; result: DriveEntriesOk };
  drive_delete: { args: DriveEntries; result: Empty };
  drive_bin: { args: DrivePage | void; result: DriveEntriesOk };
  drive_restore: { args: DriveEntries; result: DriveEntriesOk };
  drive_purge: { args: DrivePurge | void; result: DrivePurgeOk };
  drive_search: { args: DriveSearch; result: DriveEntriesOk };
  drive_recent: { args: DriveRecent | void; result: DriveEntriesOk };
  drive_quota: { args: void; result: Quota };
  drive_share: { args: DriveShare; result: ShareInfo };
  drive_shares: { args: DrivePage | void; result: DriveSharesOk };
  drive_unshare: { args: DriveUnshare; result: Empty };
  drive_save: { args: DriveSave; result: DriveEntriesOk };
}
