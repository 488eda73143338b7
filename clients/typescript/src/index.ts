/**
 * magpie-client: the Magpie protocol for browsers and Node.
 *
 * - {@link Connection}: one WebSocket, typed requests and pushes, heartbeats.
 * - {@link MagpieClient}: a signed-in user across reconnects, with the
 *   exactly-once, in-order algorithm of PROTOCOL.md section 10 and a
 *   reliable outbox.
 * - {@link SyncState}, {@link ChangeCursor}, {@link applyAmend}: the pure
 *   rules, for applications that keep their own state.
 */

export * from "./proto/index.js";
export { Connection } from "./connection.js";
export type {
  ArgsParam,
  CloseInfo,
  ConnectionHandlers,
  ConnectionOptions,
  WebSocketConstructor,
  WebSocketLike,
} from "./connection.js";
export { MagpieError, type LocalErrorCode } from "./errors.js";
export { SyncState, type Accept } from "./sync.js";
export { ChangeCursor } from "./changes.js";
export { applyAmend, applyToQuote } from "./amend.js";
export { MagpieClient, newCmid } from "./client.js";
export { Upload, MemoryUrlStorage, httpBaseOf } from "./uploads.js";
export type { UploadOptions, UploadStatus, UploadUrlStorage, PreviousUpload } from "./uploads.js";
export type {
  ClientEvents,
  ClientOptions,
  ClientState,
  EntrySource,
  OutboxEntry,
  OutboxStore,
  SendArgs,
  Session,
} from "./client.js";
