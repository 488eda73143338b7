/**
 * The client: one signed-in user across connections.
 *
 * {@link MagpieClient} runs the algorithm of PROTOCOL.md section 10 so an
 * application only renders: it reconnects with backoff and jitter, resumes
 * with the token, catches up messages (`sync`) and changes (`changes`), and
 * resends its outbox with the same `cmid`s, then emits entries exactly once
 * and in order per conversation. Everything is observable through typed
 * events; nothing here touches the DOM, so the same code runs in browsers
 * and in Node.
 */

import { applyAmend, applyToQuote } from "./amend.js";
import { ChangeCursor } from "./changes.js";
import {
  Connection,
  type ArgsParam,
  type CloseInfo,
  type ConnectionOptions,
  type WebSocketConstructor,
} from "./connection.js";
import { MagpieError } from "./errors.js";
import { Emitter } from "./events.js";
import type { Forward } from "./proto/amend.js";
import type { Change } from "./proto/changes.js";
import type { Message, ReadMark, Receipt, Send, SendOk } from "./proto/messages.js";
import type { OpName, Pushes, PushName, ResultOf } from "./proto/index.js";
import { TOKEN_ENDING_REASONS, type Authenticated, type Platform } from "./proto/session.js";
import { SyncState } from "./sync.js";
import { Upload, httpBaseOf, type UploadOptions } from "./uploads.js";

export { applyAmend, applyToQuote };

/** Where the client is in its life. */
export type ClientState =
  /** Not started, or closed by the application. */
  | "idle"
  /** Opening the first connection. */
  | "connecting"
  /** Authenticated and caught up: entries flow live. */
  | "online"
  /** The connection is lost; a new one is due (see `retryAt`). */
  | "reconnecting"
  /** The token is gone (logout, revoked, replaced…): sign in again. */
  | "signed_out";

/** A signed-in session to keep across restarts (the token stands in for
 * the password: store it like one). */
export interface Session {
  user_id: number;
  user: string;
  token: string;
  expires_at: number;
}

/** A message the user sent that has no ack yet (10.5), or was refused. */
export interface OutboxEntry {
  cmid: string;
  args: Send;
  created_at: number;
  status: "queued" | "sending" | "sent" | "failed";
  /** The refusal, for `failed`. */
  error?: { code: string; message: string };
  /** The ack, for `sent`. */
  ack?: SendOk;
}

/** Where the outbox lives across reloads; the web client uses IndexedDB.
 * Without one, the outbox lives in memory only. */
export interface OutboxStore {
  load(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  delete(cmid: string): Promise<void>;
}

/** Arguments of {@link MagpieClient.send}: `send` without the `cmid`. */
export type SendArgs = Omit<Send, "cmid">;

export interface ClientOptions extends Omit<ConnectionOptions, "url"> {
  /** `ws://host:7071/ws`, or `wss://…`. */
  url: string;
  /** The device name and platform for `login`. */
  device?: string;
  platform?: Platform;
  /** The persisted outbox; default: in memory. */
  outbox?: OutboxStore;
  /** Cursors restored with a local cache of messages (10.2). */
  cursors?: Record<string, number>;
  /** The change cursor restored with the state it describes (10.8). */
  changeCursor?: number;
  /** Reconnect backoff: first delay and cap, ms (default 500 and 30 000). */
  backoffMs?: { first: number; max: number };
  /**
   * Runs after every login or resume, before the catch-ups: the place to
   * seed a fresh device's cursors ({@link SyncState.seed}, the change
   * cursor after loading snapshots, 10.8) so it does not replay all
   * history. A failure here is treated like a lost connection.
   */
  onAuthenticated?: (client: MagpieClient) => Promise<void>;
  /** A connection healthy this long resets the backoff (default 60 s). */
  healthyAfterMs?: number;
}

/** Why entries are emitted: live pushes, the device's own writes (acks and
 * amend answers), or a catch-up after a reconnect or gap. */
export type EntrySource = "push" | "own" | "sync";

export interface ClientEvents {
  state: ClientState;
  /** The session after `login` (with a new token) or `resume`. */
  session: Session;
  /** New entries of the user's conversations, exactly once, in seq order
   * per conversation. Quiet entries (recall, edit, reaction) are included:
   * apply them with {@link applyAmend}. */
  entries: { entries: Message[]; source: EntrySource };
  /** The next change of the user's stream, in order (unknown kinds too). */
  change: Change;
  /** The change stream cannot continue: reload friends, requests, blocks,
   * conversation settings and profiles; changes continue from `head`. */
  changesReset: { head: number };
  /** A catch-up (messages and changes) finished: the client is current. */
  caughtUp: { directory_version: number };
  /** An outbox entry changed status (queued, sending, sent, failed). */
  outbox: OutboxEntry;
  /** The session ended; `reason` is the goaway reason or the error code. */
  signedOut: { reason: string };
  read: ReadMark;
  receipt: Receipt;
  typing: Pushes["typing"];
  presence: Pushes["presence"];
  directory: Pushes["directory"];
  /** Pushes may have been lost (cluster link recovered): reload presence
   * and what is on show. The catch-up runs by itself. */
  resync: Record<string, never>;
}

const CATCH_UP_LIMIT = 500;
/** How long a gap may stay before a catch-up: a peer's message pushed
 * just before the ack of this device's own one arrives leaves a gap that
 * the ack fills within milliseconds, so asking the server at once would
 * cost a `sync` round trip for nothing, and delay the peer's message. */
const GAP_GRACE_MS = 250;
const CHANGES_LIMIT = 200;

/** In-memory outbox: the default when the application keeps none. */
class MemoryOutbox implements OutboxStore {
  private readonly entries = new Map<string, OutboxEntry>();
  async load(): Promise<OutboxEntry[]> {
    return [...this.entries.values()];
  }
  async put(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.cmid, entry);
  }
  async delete(cmid: string): Promise<void> {
    this.entries.delete(cmid);
  }
}

export class MagpieClient extends Emitter<ClientEvents> {
  /** Per-conversation cursors (10.2): persist `sync.cursors()` with the
   * entries it covers. */
  readonly sync: SyncState;
  /** The change stream's cursor (10.8). */
  readonly changeCursor: ChangeCursor;
  private readonly options: ClientOptions;
  private readonly store: OutboxStore;
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly waiters = new Map<string, { resolve: (ack: SendOk) => void; reject: (e: MagpieError) => void }>();
  private connection: Connection | undefined;
  private currentState: ClientState = "idle";
  private currentSession: Session | undefined;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private healthyTimer: ReturnType<typeof setTimeout> | undefined;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  /** No send goes out before this time (a retryable refusal's wait). */
  private blockedUntil = 0;
  /** After a retryable refusal, one send at a time until the outbox
   * drains, so retries cannot overtake each other (see {@link pump}). */
  private careful = false;
  private inFlight = 0;
  private syncing = false;
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private resyncWanted = false;
  private changing = false;
  private rechangeWanted = false;
  private ready = false;
  private outboxLoaded: Promise<void> | undefined;
  private readonly onNetworkBack = (): void => this.reconnectNow();
  private readonly onNetworkGone = (): void => this.connection?.close();

  constructor(options: ClientOptions) {
    super();
    this.options = options;
    this.store = options.outbox ?? new MemoryOutbox();
    this.sync = SyncState.fromCursors(options.cursors ?? {});
    this.changeCursor = new ChangeCursor(options.changeCursor ?? 0);
  }

  /** Create an account (it does not sign in): opens a connection of its
   * own, so it works before and without a session. */
  static async register(
    options: { url: string; WebSocket?: WebSocketConstructor; clientName?: string },
    user: string,
    password: string,
  ): Promise<ResultOf<"register">> {
    const connection = await Connection.open(options);
    try {
      return await connection.request("register", { user, password });
    } finally {
      connection.close();
    }
  }

  get state(): ClientState {
    return this.currentState;
  }

  /** The signed-in user, once authenticated. */
  get session(): Session | undefined {
    return this.currentSession;
  }

  /** The HTTP base of the server (`http://host:port`), for the file API
   * (PROTOCOL.md section 12): the WebSocket URL's origin. */
  get httpUrl(): string {
    return httpBaseOf(this.options.url);
  }

  /** Upload a file by tus with the session's token (see {@link Upload}):
   * `upload(file, {onProgress}).done` resolves to its FileInfo. */
  upload(file: Blob | Uint8Array, options?: UploadOptions): Upload {
    return new Upload(this, file, options);
  }

  /** The server's limits (from the current connection's `hello`). */
  get limits(): Connection["hello"] | undefined {
    return this.connection?.hello;
  }

  /** Outbox entries not yet acked, or refused, oldest first. */
  pendingSends(): OutboxEntry[] {
    return [...this.outbox.values()];
  }

  /** Sign in with a password. Rejects on any failure (the user is waiting
   * at a form); on success the client stays connected by itself. */
  async login(user: string, password: string): Promise<Session> {
    this.assertStartable();
    await this.loadOutbox();
    this.setState("connecting");
    let connection: Connection;
    try {
      connection = await this.open();
    } catch (error) {
      this.setState("idle");
      throw error;
    }
    try {
      const args: { user: string; password: string; device?: string; platform: Platform } = {
        user,
        password,
        platform: this.options.platform ?? "web",
      };
      if (this.options.device !== undefined) args.device = this.options.device;
      const ok = await connection.request("login", args);
      const session = toSession(ok, ok.token ?? "");
      this.begin(connection, session);
      return session;
    } catch (error) {
      connection.close();
      this.setState("idle");
      throw error;
    }
  }

  /** Continue a stored session. Resolves once authenticated; while the
   * server cannot be reached it keeps trying (state `reconnecting`).
   * Rejects only when the token is refused (`invalid_token`,
   * `account_disabled`): sign in again. */
  resume(session: Session): Promise<Session> {
    this.assertStartable();
    this.currentSession = session;
    return new Promise<Session>((resolve, reject) => {
      const stopSession = this.on("session", (s) => {
        stopSession();
        stopSignedOut();
        resolve(s);
      });
      const stopSignedOut = this.on("signedOut", ({ reason }) => {
        stopSession();
        stopSignedOut();
        reject(new MagpieError(reason, "the session cannot be resumed"));
      });
      this.setState("connecting");
      void this.loadOutbox().then(() => this.connectAndResume());
    });
  }

  /** Sign out this device: revokes the token, then closes. */
  async logout(): Promise<void> {
    const connection = this.connection;
    try {
      if (connection?.isOpen) await connection.request("logout");
    } finally {
      this.end("logout");
    }
  }

  /** Stop: close the connection and timers, keep the session (a later
   * {@link resume} continues it). */
  close(): void {
    this.stopTimers();
    this.ready = false;
    const connection = this.connection;
    this.connection = undefined;
    connection?.close();
    this.setState("idle");
  }

  /** Skip the wait before the next reconnection attempt (the browser
   * says the network is back, the user clicked "retry"). */
  reconnectNow(): void {
    if (this.currentState !== "reconnecting") return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.connectAndResume();
  }

  /** Any operation, typed; fails with `offline` while not connected. */
  request<K extends OpName>(op: K, ...params: ArgsParam<K>): Promise<ResultOf<K>> {
    const connection = this.connection;
    if (connection === undefined || !connection.isOpen || this.currentSession === undefined) {
      return Promise.reject(new MagpieError("offline", "not connected"));
    }
    return connection.request(op, ...params);
  }

  /**
   * Send a message reliably (10.5): it gets a `cmid` now, enters the
   * outbox (persisted when an {@link OutboxStore} is given), and is sent,
   * and resent with the same `cmid` after every reconnect, until the
   * server acks it or refuses it. The promise resolves with the ack and
   * rejects only on a refusal (the entry is then `failed`, see
   * {@link retrySend} and {@link discardSend}); the returned `cmid` lets
   * the UI show the message at once and match it to its ack.
   */
  send(args: SendArgs): { cmid: string; acked: Promise<SendOk> } {
    const cmid = newCmid();
    const entry: OutboxEntry = {
      cmid,
      args: { ...args, cmid },
      created_at: Date.now(),
      status: "queued",
    };
    const acked = new Promise<SendOk>((resolve, reject) => this.waiters.set(cmid, { resolve, reject }));
    // A refusal nobody awaits must not become an unhandled rejection.
    acked.catch(() => undefined);
    this.outbox.set(cmid, entry);
    this.emit("outbox", entry);
    void this.store.put(entry).then(() => this.pump());
    return { cmid, acked };
  }

  /** Send a refused (`failed`) outbox entry again, with its `cmid`. */
  retrySend(cmid: string): void {
    const entry = this.outbox.get(cmid);
    if (entry === undefined || entry.status !== "failed") return;
    const queued: OutboxEntry = { cmid, args: entry.args, created_at: entry.created_at, status: "queued" };
    this.updateOutbox(queued);
    this.pump();
  }

  /** Drop a refused outbox entry. */
  discardSend(cmid: string): void {
    const entry = this.outbox.get(cmid);
    if (entry === undefined || entry.status !== "failed") return;
    this.outbox.delete(cmid);
    void this.store.delete(cmid);
  }

  /** Recall, edit or react, and emit the entry written (this connection
   * gets it in the answer, not as a push). */
  async amend<K extends "recall" | "edit" | "react">(op: K, ...params: ArgsParam<K>): Promise<Message | undefined> {
    const { entry } = await this.request(op, ...params);
    if (entry !== undefined) this.deliver(this.sync.receiveOwn(entry), "own");
    return entry;
  }

  /** Forward messages, then catch up to see the copies (they are pushed
   * to every connection but this one). */
  async forward(args: Forward): Promise<ResultOf<"forward">> {
    const result = await this.request("forward", args);
    void this.catchUp();
    return result;
  }

  // ---- the connection's life ----

  private assertStartable(): void {
    if (this.currentState !== "idle" && this.currentState !== "signed_out") {
      throw new MagpieError("protocol", `the client is already ${this.currentState}`);
    }
  }

  private loadOutbox(): Promise<void> {
    this.outboxLoaded ??= this.store.load().then((entries) => {
      // The outbox's order is the order of sending: oldest first.
      entries.sort((a, b) => a.created_at - b.created_at);
      for (const entry of entries) {
        // An entry that was being sent when the page closed may or may not
        // be stored: it is resent with its cmid, which is safe.
        const restored: OutboxEntry = entry.status === "sending" ? { ...entry, status: "queued" } : entry;
        if (restored.status !== "sent") this.outbox.set(restored.cmid, restored);
      }
    });
    return this.outboxLoaded;
  }

  private open(): Promise<Connection> {
    const options: ConnectionOptions = { url: this.options.url };
    if (this.options.WebSocket !== undefined) options.WebSocket = this.options.WebSocket;
    if (this.options.clientName !== undefined) options.clientName = this.options.clientName;
    if (this.options.requestTimeoutMs !== undefined) options.requestTimeoutMs = this.options.requestTimeoutMs;
    if (this.options.pingTimeoutMs !== undefined) options.pingTimeoutMs = this.options.pingTimeoutMs;
    if (this.options.openTimeoutMs !== undefined) options.openTimeoutMs = this.options.openTimeoutMs;
    let self: Connection | undefined;
    const opening = Connection.open(options, {
      onPush: (name, data) => {
        if (self !== undefined && self === this.connection) this.onPush(name, data);
      },
      onClose: (info) => {
        if (self !== undefined && self === this.connection) this.onClose(info);
      },
    });
    return opening.then((connection) => {
      self = connection;
      return connection;
    });
  }

  private async connectAndResume(): Promise<void> {
    const session = this.currentSession;
    if (session === undefined) return;
    let connection: Connection;
    try {
      connection = await this.open();
    } catch {
      this.scheduleReconnect(0);
      return;
    }
    if (this.currentSession !== session || this.currentState === "idle") {
      connection.close();
      return;
    }
    try {
      const ok = await connection.request("resume", { token: session.token });
      this.begin(connection, toSession(ok, session.token));
    } catch (error) {
      connection.close();
      const code = error instanceof MagpieError ? error.code : "internal";
      if (code === "invalid_token" || code === "account_disabled") {
        this.end(code);
      } else {
        const wait = error instanceof MagpieError ? (error.retryAfterMs ?? 0) : 0;
        this.scheduleReconnect(wait);
      }
    }
  }

  /** Authenticated on `connection`: catch up, then resend the outbox. */
  private begin(connection: Connection, session: Session): void {
    this.connection = connection;
    this.currentSession = session;
    this.ready = false;
    this.emit("session", session);
    this.setState("online");
    this.watchNetwork(true);
    clearTimeout(this.healthyTimer);
    this.healthyTimer = setTimeout(() => {
      this.attempt = 0;
    }, this.options.healthyAfterMs ?? 60_000);
    const prepare = this.options.onAuthenticated?.(this) ?? Promise.resolve();
    void prepare
      .then(() => Promise.all([this.catchUp(), this.catchUpChanges()]))
      .then(([, version]) => {
        if (this.connection !== connection) return;
        this.ready = true;
        this.emit("caughtUp", { directory_version: version ?? 0 });
        this.pump();
      })
      .catch(() => {
        if (this.connection === connection) connection.close();
      });
  }

  private onClose(info: CloseInfo): void {
    this.connection = undefined;
    this.ready = false;
    this.inFlight = 0;
    clearTimeout(this.healthyTimer);
    for (const entry of this.outbox.values()) {
      if (entry.status === "sending") this.updateOutbox({ ...entry, status: "queued" });
    }
    const reason = info.goaway?.reason;
    if (reason !== undefined && TOKEN_ENDING_REASONS.has(reason)) {
      this.end(reason);
      return;
    }
    this.scheduleReconnect(info.goaway?.reconnect_after_ms ?? 0);
  }

  /** Wait at least `minimumMs`, plus exponential backoff with jitter
   * (10.6): 0.5 s, 1 s, 2 s … up to 30 s, each drawn from its upper half
   * so that many clients cut off together do not return together. */
  private scheduleReconnect(minimumMs: number): void {
    if (this.currentSession === undefined || this.currentState === "idle") return;
    const { first, max } = this.options.backoffMs ?? { first: 500, max: 30_000 };
    const ceiling = Math.min(max, first * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const delay = Math.max(minimumMs, ceiling / 2 + Math.random() * (ceiling / 2));
    this.setState("reconnecting");
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      // A browser that knows it is offline would only fail: wait for its
      // "online" event (which calls reconnectNow), checking now and then.
      if ((globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false) {
        this.scheduleReconnect(0);
        return;
      }
      void this.connectAndResume();
    }, delay);
  }

  private end(reason: string): void {
    this.stopTimers();
    this.ready = false;
    const connection = this.connection;
    this.connection = undefined;
    connection?.close();
    this.currentSession = undefined;
    this.watchNetwork(false);
    this.setState("signed_out");
    this.emit("signedOut", { reason });
  }

  private stopTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.healthyTimer);
    clearTimeout(this.pumpTimer);
    clearTimeout(this.gapTimer);
    this.pumpTimer = undefined;
    this.reconnectTimer = undefined;
    this.gapTimer = undefined;
  }

  private setState(state: ClientState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit("state", state);
  }

  /** In a browser, follow the network: the browser knows it is offline
   * long before a ping times out, so drop the dead connection at once
   * (the banner shows, sends wait in the outbox), and reconnect as soon
   * as the network is back. */
  private watchNetwork(on: boolean): void {
    const target = globalThis as {
      addEventListener?: (t: string, f: () => void) => void;
      removeEventListener?: (t: string, f: () => void) => void;
      window?: unknown;
    };
    if (target.window === undefined || target.addEventListener === undefined) return;
    if (on) {
      target.addEventListener("online", this.onNetworkBack);
      target.addEventListener("offline", this.onNetworkGone);
    } else {
      target.removeEventListener?.("online", this.onNetworkBack);
      target.removeEventListener?.("offline", this.onNetworkGone);
    }
  }

  // ---- receiving ----

  private onPush<K extends PushName>(name: K, data: Pushes[K]): void {
    switch (name) {
      case "message": {
        const outcome = this.sync.receive(data as Message);
        this.deliver(outcome, "push");
        return;
      }
      case "change": {
        const change = data as Change;
        const verdict = this.changeCursor.accept(change);
        if (verdict === "apply") this.emit("change", change);
        else if (verdict === "gap") void this.catchUpChanges();
        return;
      }
      case "resync": {
        this.emit("resync", {});
        void this.catchUp();
        void this.catchUpChanges();
        return;
      }
      case "read":
      case "receipt":
      case "typing":
      case "presence":
      case "directory":
        this.emit(name as "read", data as never);
        return;
      default:
        // goaway is handled with the close that follows it.
        return;
    }
  }

  private deliver(outcome: { show: Message[]; gap: boolean }, source: EntrySource): void {
    if (outcome.show.length > 0) this.emit("entries", { entries: outcome.show, source });
    if (outcome.gap) this.catchUpIfGapStays();
  }

  /** Catch up unless the gap fills within {@link GAP_GRACE_MS}. */
  private catchUpIfGapStays(): void {
    if (this.gapTimer !== undefined) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.sync.gapped) void this.catchUp();
    }, GAP_GRACE_MS);
  }

  /** 10.4: one catch-up at a time, rerun when asked meanwhile. */
  private async catchUp(): Promise<void> {
    if (this.syncing) {
      this.resyncWanted = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.resyncWanted = false;
        for (;;) {
          const page = await this.request("sync", { cursors: this.sync.cursors(), limit: CATCH_UP_LIMIT });
          const shown = this.sync.receiveSyncPage(page.messages);
          this.settleFromSync(shown);
          if (shown.length > 0) this.emit("entries", { entries: shown, source: "sync" });
          if (!page.more) break;
          if (shown.length === 0) throw new MagpieError("protocol", "sync said more but returned nothing new");
        }
      } while (this.resyncWanted);
    } catch {
      // A catch-up cut short by a lost connection runs again after the
      // reconnect; nothing to do here.
    } finally {
      this.syncing = false;
    }
  }

  /** Outbox entries a catch-up returned: their ack was lost (10.5 step 4). */
  private settleFromSync(shown: readonly Message[]): void {
    const me = this.currentSession?.user;
    for (const message of shown) {
      if (message.from !== me) continue;
      const entry = this.outbox.get(message.cmid);
      if (entry === undefined) continue;
      this.acked(entry, {
        msg_id: message.msg_id,
        conv: message.conv,
        seq: message.seq,
        ts: message.ts,
        duplicate: true,
      });
    }
  }

  /** 10.8: the change stream's catch-up. Returns the directory version. */
  private async catchUpChanges(): Promise<number | undefined> {
    if (this.changing) {
      this.rechangeWanted = true;
      return undefined;
    }
    this.changing = true;
    let version: number | undefined;
    try {
      do {
        this.rechangeWanted = false;
        for (;;) {
          const page = await this.request("changes", { after: this.changeCursor.position, limit: CHANGES_LIMIT });
          version = page.directory_version;
          if (page.reset) {
            this.changeCursor.position = page.head;
            this.emit("changesReset", { head: page.head });
            continue;
          }
          for (const change of page.changes) {
            if (change.seq <= this.changeCursor.position) continue;
            this.changeCursor.position = change.seq;
            this.emit("change", change);
          }
          if (!page.more) break;
        }
      } while (this.rechangeWanted);
    } catch {
      // As for catchUp: the next connection runs it again.
    } finally {
      this.changing = false;
    }
    return version;
  }

  // ---- sending ----

  /**
   * Send what the outbox holds, oldest first. Sends are pipelined (the
   * server stores one connection's sends in order), so the order the user
   * typed is the order stored. A retryable refusal (`rate_limited`,
   * `overloaded`, `unavailable`) breaks that: the refused message would be
   * retried after later ones were stored. So it pauses the outbox for the
   * server's `retry_after_ms` and then sends one message at a time until
   * the outbox is empty again.
   */
  private pump(): void {
    if (!this.ready || this.connection === undefined) return;
    const wait = this.blockedUntil - Date.now();
    if (wait > 0) {
      clearTimeout(this.pumpTimer);
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    for (const entry of this.outbox.values()) {
      if (this.careful && this.inFlight > 0) return;
      if (entry.status === "queued") this.transmit(entry);
    }
    if (this.inFlight === 0) this.careful = false;
  }

  private transmit(entry: OutboxEntry): void {
    const connection = this.connection;
    if (connection === undefined) return;
    const sending: OutboxEntry = { ...entry, status: "sending" };
    delete sending.error;
    this.updateOutbox(sending);
    this.inFlight += 1;
    const settled = (): boolean => {
      if (this.connection !== connection) return false; // counted afresh on the new one
      this.inFlight -= 1;
      return true;
    };
    connection.request("send", entry.args).then(
      (ack) => {
        const current = this.outbox.get(entry.cmid);
        const counted = settled();
        if (current !== undefined) {
          this.acked(current, ack);
          // The device's own message: shown from the ack, unless it carries
          // what only the server fills in (a file's details, a quote),
          // which the catch-up brings whole.
          if (entry.args.file === undefined && entry.args.reply === undefined) {
            this.deliver(this.sync.receiveOwn(ownMessage(entry, ack, this.currentSession?.user ?? "")), "own");
          } else {
            void this.catchUp();
          }
        }
        if (counted) this.pump();
      },
      (error: unknown) => {
        const counted = settled();
        const current = this.outbox.get(entry.cmid);
        if (current === undefined) return;
        const failure = error instanceof MagpieError ? error : new MagpieError("internal", String(error));
        if (!failure.retryable) {
          const failed: OutboxEntry = {
            ...current,
            status: "failed",
            error: { code: failure.code, message: failure.message },
          };
          this.updateOutbox(failed);
          const waiter = this.waiters.get(entry.cmid);
          this.waiters.delete(entry.cmid);
          waiter?.reject(failure);
          if (counted) this.pump();
          return;
        }
        this.updateOutbox({ ...current, status: "queued" });
        if (
          !counted ||
          failure.code === "offline" ||
          failure.code === "connection_closed" ||
          failure.code === "timeout"
        ) {
          return; // resent after the reconnect
        }
        this.careful = true;
        const delay = Math.max(failure.retryAfterMs ?? 0, 250 + Math.random() * 250);
        this.blockedUntil = Math.max(this.blockedUntil, Date.now() + delay);
        this.pump();
      },
    );
  }

  private acked(entry: OutboxEntry, ack: SendOk): void {
    this.outbox.delete(entry.cmid);
    void this.store.delete(entry.cmid);
    const sent: OutboxEntry = { ...entry, status: "sent", ack };
    delete sent.error;
    this.emit("outbox", sent);
    const waiter = this.waiters.get(entry.cmid);
    this.waiters.delete(entry.cmid);
    waiter?.resolve(ack);
  }

  private updateOutbox(entry: OutboxEntry): void {
    this.outbox.set(entry.cmid, entry);
    void this.store.put(entry);
    this.emit("outbox", entry);
  }
}

function toSession(ok: Authenticated, token: string): Session {
  return { user_id: ok.user_id, user: ok.user, token, expires_at: ok.expires_at };
}

/** The sent message as stored, from the outbox entry and its ack. */
function ownMessage(entry: OutboxEntry, ack: SendOk, me: string): Message {
  const message: Message = {
    msg_id: ack.msg_id,
    conv: ack.conv,
    seq: ack.seq,
    ts: ack.ts,
    kind: entry.args.kind ?? "text",
    from: me,
    body: entry.args.body,
    cmid: entry.cmid,
  };
  if (entry.args.mentions !== undefined && entry.args.mentions.length > 0)
    message.mentions = [...new Set(entry.args.mentions)];
  if (entry.args.mention_all === true) message.mention_all = true;
  return message;
}

/** A UUID v4 from the platform's CSPRNG (10.5: generated once per message). */
export function newCmid(): string {
  const crypto = (
    globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (a: Uint8Array) => Uint8Array } }
  ).crypto;
  if (crypto?.randomUUID !== undefined) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (crypto?.getRandomValues === undefined) throw new MagpieError("protocol", "no secure random source");
  crypto.getRandomValues(bytes);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
