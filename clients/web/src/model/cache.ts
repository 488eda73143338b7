// The local cache: the web counterpart of the seed clients' SQLite
// history. One IndexedDB database per signed-in user holds the
// conversation list, the newest messages of each conversation, the sync
// cursors that say what those messages cover, the change cursor and the
// outbox. The app opens from it at once, then the client catches up.
//
// Cursors are written in the same transaction as the messages they cover
// (PROTOCOL.md 10.2): after a crash the cache never claims to hold what it
// lost, so the catch-up refetches it.

import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { Conversation, Message, OutboxEntry, OutboxStore } from "magpie-client";

/** Messages kept per conversation; older ones come back from `history`. */
export const KEPT_PER_CONVERSATION = 200;

interface CacheSchema extends DBSchema {
  meta: { key: string; value: unknown };
  convs: { key: number; value: Conversation };
  messages: { key: [number, number]; value: Message };
  outbox: { key: string; value: OutboxEntry };
}

/** What the app needs to open instantly. */
export interface Snapshot {
  cursors: Record<string, number>;
  changeCursor: number;
  convs: Conversation[];
}

export class Cache {
  private constructor(private readonly db: IDBPDatabase<CacheSchema> | undefined) {}

  /** Open the user's cache; without IndexedDB (some private modes) the
   * app still works, from the network only. */
  static async open(user: string): Promise<Cache> {
    try {
      const db = await openDB<CacheSchema>(`magpie-${user}`, 1, {
        upgrade(db) {
          db.createObjectStore("meta");
          db.createObjectStore("convs", { keyPath: "conv" });
          db.createObjectStore("messages", { keyPath: ["conv", "seq"] });
          db.createObjectStore("outbox", { keyPath: "cmid" });
        },
      });
      return new Cache(db);
    } catch {
      return new Cache(undefined);
    }
  }

  /** Remove a user's cache (sign-out). */
  static async drop(user: string): Promise<void> {
    try {
      indexedDB.deleteDatabase(`magpie-${user}`);
    } catch {
      // Nothing kept, nothing to remove.
    }
  }

  async snapshot(): Promise<Snapshot> {
    if (this.db === undefined) return { cursors: {}, changeCursor: 0, convs: [] };
    const tx = this.db.transaction(["meta", "convs"]);
    const [cursors, changeCursor, convs] = await Promise.all([
      tx.objectStore("meta").get("cursors"),
      tx.objectStore("meta").get("changeCursor"),
      tx.objectStore("convs").getAll(),
    ]);
    return {
      cursors: isRecord(cursors) ? (cursors as Record<string, number>) : {},
      changeCursor: typeof changeCursor === "number" ? changeCursor : 0,
      convs,
    };
  }

  /** The newest cached messages of `conv`, ascending by seq. */
  async messages(conv: number): Promise<Message[]> {
    if (this.db === undefined) return [];
    const range = IDBKeyRange.bound([conv, 0], [conv, Number.MAX_SAFE_INTEGER]);
    return this.db.getAll("messages", range);
  }

  /** Store shown entries with the cursors that now cover them, in one
   * transaction, and keep only the newest of each conversation. */
  async putMessages(messages: readonly Message[], cursors: Record<string, number>): Promise<void> {
    if (this.db === undefined) return;
    const tx = this.db.transaction(["messages", "meta"], "readwrite");
    const store = tx.objectStore("messages");
    const touched = new Set<number>();
    for (const message of messages) {
      void store.put(message);
      touched.add(message.conv);
    }
    void tx.objectStore("meta").put(cursors, "cursors");
    for (const conv of touched) {
      const keys = await store.getAllKeys(IDBKeyRange.bound([conv, 0], [conv, Number.MAX_SAFE_INTEGER]));
      for (const key of keys.slice(0, Math.max(0, keys.length - KEPT_PER_CONVERSATION))) void store.delete(key);
    }
    await tx.done;
  }

  /** Replace one cached message (an amend applied to it). */
  async putMessage(message: Message): Promise<void> {
    await this.db?.put("messages", message);
  }

  async putConvs(convs: readonly Conversation[]): Promise<void> {
    if (this.db === undefined) return;
    const tx = this.db.transaction("convs", "readwrite");
    for (const conv of convs) void tx.store.put(conv);
    await tx.done;
  }

  /** Forget a conversation the user is no longer in. */
  async dropConv(conv: number): Promise<void> {
    if (this.db === undefined) return;
    const tx = this.db.transaction(["convs", "messages"], "readwrite");
    void tx.objectStore("convs").delete(conv);
    void tx.objectStore("messages").delete(IDBKeyRange.bound([conv, 0], [conv, Number.MAX_SAFE_INTEGER]));
    await tx.done;
  }

  async putChangeCursor(position: number): Promise<void> {
    await this.db?.put("meta", position, "changeCursor");
  }

  /** The outbox, kept here so an unsent message survives a reload. */
  outbox(): OutboxStore {
    const db = this.db;
    if (db === undefined) {
      const memory = new Map<string, OutboxEntry>();
      return {
        load: async () => [...memory.values()],
        put: async (entry) => void memory.set(entry.cmid, entry),
        delete: async (cmid) => void memory.delete(cmid),
      };
    }
    return {
      load: () => db.getAll("outbox"),
      put: async (entry) => void (await db.put("outbox", entry)),
      delete: (cmid) => db.delete("outbox", cmid),
    };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
