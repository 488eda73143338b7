/** The file area: what a stored file looks like and the operations that
 * list, describe, delete and sign files (PROTOCOL.md "The file area",
 * 12.4 FileInfo). Bytes never travel over the message protocol: they go
 * up by tus and down by HTTP GET (section 12). */

type Empty = Record<string, never>;

/** What a file's content is, decided by the server from its bytes, never
 * from the uploader's claim. */
export type ContentKind = "file" | "image" | "voice" | "video";

/** What the server read from a file's bytes: how to show it. */
export interface MediaInfo {
  /** Sniffed; `application/octet-stream` when unknown. */
  mime: string;
  /** `image`: JPEG, PNG, GIF or WebP that decodes whole; `voice`: Opus in
   * Ogg; `video`: MP4, QuickTime or WebM; anything else is `file`. */
  kind: ContentKind;
  /** Images and video, after any rotation the file asks for. */
  width?: number;
  height?: number;
  /** Voice and video. */
  duration_ms?: number;
  /** Voice: `opus`; video: `h264`, `hevc`, `vp9`, `av1`, ... */
  codec?: string;
}

/** A stored file as clients see it: in messages, lists and the drive. */
export interface FileInfo {
  /** 32 lowercase hex digits: downloads it (`/api/files/{id}`) and sends
   * it (`send` with `file`). */
  id: string;
  /** The upload's name, cleaned of paths and control characters. */
  name: string;
  size: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
  /** The user id of who uploaded (or sent, or shared) it. */
  owner: number;
  created_at: number;
  media: MediaInfo;
  /** Whether `/api/files/{id}/thumbnail` has a server-made thumbnail. */
  thumbnail: boolean;
  /** For a file sent in a conversation: where, and at which seq. */
  conv?: number;
  seq?: number;
}

/** A user's storage use in bytes, shared by files and drive: the `quota`
 * of `files` and the answer to `drive_quota`. */
export interface Quota {
  /** Content the user's files reference, each content once. */
  used: number;
  /** Declared lengths of the user's unfinished uploads. */
  reserved: number;
  limit: number;
}

/** `files`: one page of the caller's own uploads (not copies sent in
 * conversations), by id. */
export interface FilesList {
  /** Start after this file id (the previous page's `next`). */
  after?: string;
  /** 1–500, default 50. */
  limit?: number;
}

/** The answer to `files`. */
export interface FilesOk {
  files: FileInfo[];
  /** A file id: pass it as `after`; absent on the last page. */
  next?: string;
  quota: Quota;
}

/** `file_info` and `file_delete`: one file by id. */
export interface FileRef {
  file: string;
}

/** `file_url`: a signed path for `<img src>`, players and download
 * managers, usable without the token. */
export interface FileUrl {
  file: string;
  /** The thumbnail's URL instead of the content's. */
  thumbnail?: boolean;
}

/** The answer to `file_url`: a path on the HTTP port (put the server's
 * address in front), valid until `expires_at`. */
export interface FileUrlOk {
  url: string;
  expires_at: number;
}

/** `group_files`: the files sent into a group (群文件), newest first, as
 * far back as the caller can read. */
export interface GroupFiles {
  conv: number;
  /** Files sent before this seq (the previous page's `next`). */
  before?: number;
  /** 1–500, default 50. */
  limit?: number;
}

/** The answer to `group_files`. */
export interface GroupFilesOk {
  /** Each with `conv`, `seq` and `owner` (who shared it). */
  files: FileInfo[];
  /** A seq: pass it as `before`; absent on the last page. */
  next?: number;
}

/** `group_file_delete`: take a file out of a group's files (its sender,
 * or the group's owner and admins); the message stays. */
export interface GroupFileDelete {
  conv: number;
  file: string;
}

/** `avatar_set`: make an image the caller may read their avatar, or with
 * `conv` a group's. */
export interface AvatarSet {
  file: string;
  conv?: number;
}

/** The answer to `avatar_set`: the avatar's own file id, now the
 * profile's (or group's) `avatar`. */
export interface AvatarSetOk {
  avatar: string;
}

/** The file operations. */
export interface FileOps {
  files: { args: FilesList | void; result: FilesOk };
  file_info: { args: FileRef; result: FileInfo };
  file_delete: { args: FileRef; result: Empty };
  file_url: { args: FileUrl; result: FileUrlOk };
  group_files: { args: GroupFiles; result: GroupFilesOk };
  group_file_delete: { args: GroupFileDelete; result: Empty };
  avatar_set: { args: AvatarSet; result: AvatarSetOk };
}
