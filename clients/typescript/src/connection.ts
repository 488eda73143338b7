/**
 * One WebSocket connection: framing, request correlation, heartbeats.
 *
 * A {@link Connection} is opened greeted (its `hello` answered) and lives
 * until it closes, for whatever reason; it never reconnects. The
 * {@link MagpieClient} of `client.ts` owns the life across connections
 * (reconnect, resume, catch-up). Keeping the two apart keeps this file about
 * the wire only, and lets tests and tools drive a bare connection.
 */

import { MagpieError } from "./errors.js";
import { classifyFrame, type RequestFrame } from "./proto/frames.js";
import type { GoAway, HelloOk } from "./proto/session.js";
import type { OpName, Ops, PushName, Pushes, ResultOf } from "./proto/index.js";

/** The part of the WebSocket API this package uses: the browser's global
 * `WebSocket` and the `ws` package of Node both provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (`globalThis.WebSocket`, or `ws` in Node). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The arguments of `op`: omitted for ops without, optional for ops whose
 * arguments all have defaults, required otherwise. */
export type ArgsParam<K extends OpName> = [Ops[K]["args"]] extends [void]
  ? [args?: undefined]
  : void extends Ops[K]["args"]
    ? [args?: Exclude<Ops[K]["args"], void>]
    : [args: Ops[K]["args"]];

export interface ConnectionOptions {
  /** `ws://host:7071/ws` or `wss://…`. */
  url: string;
  /** Defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Sent in `hello`, for the server's logs. */
  clientName?: string;
  /** Give up on a request (and the connection) after this long; default 30 s. */
  requestTimeoutMs?: number;
  /** Treat the connection as dead when a ping is unanswered this long; default 10 s. */
  pingTimeoutMs?: number;
  /** Give up opening after this long; default 15 s. */
  openTimeoutMs?: number;
}

/** Why a connection ended. */
export interface CloseInfo {
  /** The server's goaway, when it said why before closing. */
  goaway?: GoAway;
  /** The WebSocket close code (1006 when the network broke). */
  code: number;
  /** A description for logs. */
  reason: string;
}

export interface ConnectionHandlers {
  onPush?: <K extends PushName>(name: K, data: Pushes[K]) => void;
  /** Pushes this package does not know, for forward compatibility. */
  onUnknownPush?: (name: string, data: unknown) => void;
  onClose?: (info: CloseInfo) => void;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: MagpieError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;
const KNOWN_PUSHES: ReadonlySet<string> = new Set<PushName>([
  "message",
  "read",
  "receipt",
  "change",
  "goaway",
  "resync",
]);

const utf8 = new TextEncoder();

export class Connection {
  /** The server's limits from `hello`. */
  readonly hello: HelloOk;
  private readonly socket: WebSocketLike;
  private readonly handlers: ConnectionHandlers;
  private readonly requestTimeoutMs: number;
  private readonly pingTimeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private goaway: GoAway | undefined;
  private closed: CloseInfo | undefined;
  private heartbeat: ReturnType<typeof setTimeout> | undefined;
  private lastSentAt = Date.now();

  private constructor(socket: WebSocketLike, hello: HelloOk, handlers: ConnectionHandlers, options: ConnectionOptions) {
    this.socket = socket;
    this.hello = hello;
    this.handlers = handlers;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 10_000;
  }

  /** Open a WebSocket and say `hello`. Rejects with `MagpieError` when the
   * socket cannot be opened or the server refuses the version. */
  static open(options: ConnectionOptions, handlers: ConnectionHandlers = {}): Promise<Connection> {
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Ctor === undefined) {
      return Promise.reject(new MagpieError("offline", "no WebSocket implementation: pass options.WebSocket"));
    }
    const socket = new Ctor(options.url);
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const fail = (error: MagpieError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
        try {
          socket.close();
        } catch {
          // Closing a socket that never opened may throw; it is gone either way.
        }
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new MagpieError("timeout", "the connection did not open in time")),
        options.openTimeoutMs ?? 15_000,
      );
      socket.onerror = () => fail(new MagpieError("offline", `cannot connect to ${options.url}`));
      socket.onclose = (event) => fail(new MagpieError("connection_closed", `closed while opening (${event.code})`));
      socket.onmessage = (event) => {
        const frame = parseFrame(event.data);
        if (frame === null) return;
        if (frame.type === "result" && frame.id === 0) {
          settled = true;
          clearTimeout(timer);
          const connection = new Connection(socket, frame.result as HelloOk, handlers, options);
          connection.attach();
          resolve(connection);
        } else if (frame.type === "error") {
          fail(MagpieError.fromBody(frame.error));
        } else if (frame.type === "push" && frame.push === "goaway") {
          const goaway = frame.data as GoAway;
          fail(new MagpieError("offline", `the server refused the connection: ${goaway.reason}`));
        }
      };
      socket.onopen = () => {
        const hello: RequestFrame = {
          id: 0,
          op: "hello",
          args: { version: 1, client: options.clientName ?? "magpie-client-ts/0.1.0" },
        };
        socket.send(JSON.stringify(hello));
      };
    });
  }

  /** Whether the connection is still usable. */
  get isOpen(): boolean {
    return this.closed === undefined && this.socket.readyState === OPEN;
  }

  /** Send one request and wait for its answer. Rejects with the server's
   * error, or `connection_closed` / `timeout` / `offline`. A frame over the
   * server's `max_frame_bytes` is refused here (`frame_too_large`) rather
   * than sent: the server would close the connection over it. */
  request<K extends OpName>(op: K, ...params: ArgsParam<K>): Promise<ResultOf<K>> {
    if (!this.isOpen) {
      return Promise.reject(new MagpieError("offline", "the connection is closed"));
    }
    const id = this.nextId++;
    const frame: RequestFrame = { id, op };
    if (params[0] !== undefined) frame.args = params[0];
    const text = JSON.stringify(frame);
    if (utf8.encode(text).length > this.hello.max_frame_bytes) {
      return Promise.reject(
        new MagpieError("frame_too_large", `the request is over ${this.hello.max_frame_bytes} bytes`),
      );
    }
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MagpieError("timeout", `no answer to ${op} within ${this.requestTimeoutMs} ms`));
        // An unanswered request means the link is broken or the server
        // is stuck: start over on a fresh connection.
        this.terminate(4000, `${op} timed out`);
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.transmit(text);
    });
  }

  /** Close the connection; pending requests fail with `connection_closed`. */
  close(): void {
    this.terminate(1000, "closed by the client");
  }

  private transmit(text: string): void {
    this.lastSentAt = Date.now();
    this.socket.send(text);
  }

  private attach(): void {
    this.socket.onmessage = (event) => this.receive(event.data);
    this.socket.onerror = () => {
      // Always followed by onclose, which does the work.
    };
    this.socket.onclose = (event) => this.finish({ code: event.code, reason: event.reason || "closed by the server" });
    this.scheduleHeartbeat();
  }

  private receive(data: unknown): void {
    const frame = parseFrame(data);
    if (frame === null) return;
    switch (frame.type) {
      case "result": {
        this.settle(frame.id, (p) => p.resolve(frame.result));
        return;
      }
      case "error": {
        if (frame.id === null) return; // e.g. bad_frame for something unreadable
        const error = MagpieError.fromBody(frame.error);
        this.settle(frame.id, (p) => p.reject(error));
        return;
      }
      case "push": {
        if (frame.push === "goaway") this.goaway = frame.data as GoAway;
        if (KNOWN_PUSHES.has(frame.push) || isAreaPush(frame.push)) {
          this.handlers.onPush?.(frame.push as PushName, frame.data as Pushes[PushName]);
        } else {
          this.handlers.onUnknownPush?.(frame.push, frame.data);
        }
        return;
      }
    }
  }

  private settle(id: number, how: (pending: Pending) => void): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    how(pending);
  }

  /** Ping after a third of the idle timeout of silence from this side
   * (4.2); a ping unanswered within `pingTimeoutMs` ends the connection. */
  private scheduleHeartbeat(): void {
    if (this.closed !== undefined) return;
    const every = Math.max(1_000, (this.hello.idle_timeout_secs * 1_000) / 3);
    const due = this.lastSentAt + every - Date.now();
    this.heartbeat = setTimeout(
      () => {
        if (this.closed !== undefined) return;
        if (Date.now() - this.lastSentAt < every) {
          this.scheduleHeartbeat();
          return;
        }
        const id = this.nextId++;
        const timer = setTimeout(() => {
          this.pending.delete(id);
          this.terminate(4001, "ping unanswered");
        }, this.pingTimeoutMs);
        this.pending.set(id, { resolve: () => undefined, reject: () => undefined, timer });
        this.transmit(JSON.stringify({ id, op: "ping" }));
        this.scheduleHeartbeat();
      },
      Math.max(0, due),
    );
  }

  private terminate(code: number, reason: string): void {
    if (this.closed !== undefined) return;
    try {
      this.socket.close(code === 1000 ? 1000 : 4000, reason.slice(0, 100));
    } catch {
      // Already closing.
    }
    this.finish({ code, reason });
  }

  private finish(info: Omit<CloseInfo, "goaway">): void {
    if (this.closed !== undefined) return;
    const closed: CloseInfo = { ...info };
    if (this.goaway !== undefined) closed.goaway = this.goaway;
    this.closed = closed;
    clearTimeout(this.heartbeat);
    this.socket.onmessage = null;
    this.socket.onclose = null;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new MagpieError("connection_closed", `connection closed: ${info.reason}`));
      this.pending.delete(id);
    }
    this.handlers.onClose?.(closed);
  }
}

/** Pushes of the other areas, known to the typed {@link Pushes} map. */
function isAreaPush(name: string): boolean {
  return name === "presence" || name === "directory" || name === "typing";
}

function parseFrame(data: unknown): ReturnType<typeof classifyFrame> {
  const text = typeof data === "string" ? data : data instanceof ArrayBuffer ? null : String(data);
  if (text === null) return null;
  try {
    return classifyFrame(JSON.parse(text));
  } catch {
    return null;
  }
}
