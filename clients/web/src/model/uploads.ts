// Files on their way up: each a pending bubble with progress, pause,
// resume and cancel, sent as a message (`image`, `video`, `voice` or
// `file`, from what the server found the bytes to be) once uploaded.
//
// An upload survives a reload: its bytes and where it goes are kept in
// IndexedDB (`magpie-uploads-<user>`) until it is sent, and tus-js-client
// remembers the upload's URL in localStorage under the same fingerprint,
// so after a reload the bubble reappears and continues from the server's
// offset.

import { signal } from "@preact/signals";
import { openDB, type IDBPDatabase } from "idb";
import type { FileInfo, FileKind, MagpieClient, Upload } from "magpie-client";
import type { Chats } from "./chats";

export type Target = { conv: number } | { peer: string };

/** One file going up, as the views show it. */
export interface PendingUpload {
  key: string;
  target: Target;
  name: string;
  size: number;
  type: string;
  sent: number;
  status: "uploading" | "paused" | "failed" | "sending";
  error?: string;
  /** `voice` for a recording: sent as voice when the server agrees. */
  intent?: FileKind;
}

interface Stored {
  key: string;
  target: Target;
  name: string;
  type: string;
  blob: Blob;
  intent?: FileKind;
}

/** Bigger files are not kept for a reload (they resume within the page). */
const KEEP_AT_MOST = 256 * 1024 * 1024;

export class Uploads {
  readonly pending = signal<readonly PendingUpload[]>([]);
  private readonly chats: Chats;
  private readonly running = new Map<string, Upload>();
  private readonly db: Promise<IDBPDatabase | undefined>;

  constructor(chats: Chats) {
    this.chats = chats;
    this.db = openDB(`magpie-uploads-${chats.me}`, 1, {
      upgrade(db) {
        db.createObjectStore("uploads", { keyPath: "key" });
      },
    }).catch(() => undefined);
    void this.restore();
  }

  private get client(): MagpieClient {
    return this.chats.client;
  }

  /** Send files (or a recording) to a conversation. */
  add(target: Target, files: readonly (File | Blob)[], intent?: FileKind): void {
    for (const file of files) {
      const name = file instanceof File ? file.name : `voice-${new Date().toISOString().replace(/[:.]/g, "-")}.webm`;
      const stored: Stored = { key: crypto.randomUUID(), target, name, type: file.type, blob: file };
      if (intent !== undefined) stored.intent = intent;
      if (file.size <= KEEP_AT_MOST) void this.db.then((db) => db?.put("uploads", stored).catch(() => undefined));
      this.begin(stored);
    }
  }

  pause(key: string): void {
    this.running.get(key)?.pause();
    this.update(key, { status: "paused" });
  }

  resume(key: string): void {
    this.running.get(key)?.resume();
    this.update(key, { status: "uploading" });
  }

  cancel(key: string): void {
    void this.running.get(key)?.abort();
    this.finish(key);
  }

  private async restore(): Promise<void> {
    const db = await this.db;
    if (db === undefined) return;
    const stored = (await db.getAll("uploads").catch(() => [])) as Stored[];
    for (const s of stored) if (!this.running.has(s.key)) this.begin(s);
  }

  private begin(s: Stored): void {
    const entry: PendingUpload = {
      key: s.key,
      target: s.target,
      name: s.name,
      size: s.blob.size,
      type: s.type,
      sent: 0,
      status: "uploading",
    };
    if (s.intent !== undefined) entry.intent = s.intent;
    this.pending.value = [...this.pending.value, entry];
    const upload = this.client.upload(s.blob, {
      name: s.name,
      // The key is stable across reloads: tus finds the upload's URL by it.
      fingerprint: `magpie-${this.chats.me}-${s.key}`,
      onProgress: (sent) => this.update(s.key, { sent }),
    });
    this.running.set(s.key, upload);
    upload.done.then(
      (info) => this.send(s, info),
      (e: { code?: string }) => {
        if (e.code === "aborted") return;
        this.update(s.key, { status: "failed", error: e.code ?? "internal" });
      },
    );
  }

  private send(s: Stored, info: FileInfo): void {
    this.update(s.key, { status: "sending", sent: info.size });
    const media = info.media.kind;
    const kind: FileKind = media === "image" || media === "video" || media === "voice" ? media : "file";
    this.chats.send(s.target, "", { kind, file: info.id });
    this.finish(s.key);
  }

  private finish(key: string): void {
    this.running.delete(key);
    this.pending.value = this.pending.value.filter((p) => p.key !== key);
    void this.db.then((db) => db?.delete("uploads", key).catch(() => undefined));
  }

  private update(key: string, change: Partial<PendingUpload>): void {
    this.pending.value = this.pending.value.map((p) => (p.key === key ? { ...p, ...change } : p));
  }
}

const all = new WeakMap<Chats, Uploads>();

/** The uploads of a signed-in user's chats (made on first use, which
 * also brings back those a reload interrupted). */
export function uploadsOf(chats: Chats): Uploads {
  let uploads = all.get(chats);
  if (uploads === undefined) {
    uploads = new Uploads(chats);
    all.set(chats, uploads);
  }
  return uploads;
}

/** The open conversation as a send target. */
export function targetOf(chats: Chats): Target | undefined {
  const open = chats.open.value;
  if (open === undefined) return undefined;
  return "conv" in open ? { conv: open.conv } : { peer: open.peer };
}

/** Signed URLs (file_url), cached until shortly before they expire. */
const urls = new Map<string, { url: string; expires_at: number }>();

export async function signedUrl(client: MagpieClient, file: string, thumbnail = false): Promise<string> {
  const key = `${file}${thumbnail ? ":t" : ""}`;
  const cached = urls.get(key);
  if (cached !== undefined && cached.expires_at - Date.now() > 60_000) return cached.url;
  const answer = await client.request("file_url", thumbnail ? { file, thumbnail: true } : { file });
  urls.set(key, answer);
  return answer.url;
}
