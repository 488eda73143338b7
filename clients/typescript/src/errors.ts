/** Errors the client package raises: the server's refusals, keeping their
 * stable code, and the client's own (offline, timeout, closed). */

import { RETRYABLE_CODES, type ErrorBody } from "./proto/frames.js";

/** Codes the client raises itself, never sent by the server. */
export type LocalErrorCode =
  /** No connection is open (the client is reconnecting or signed out). */
  | "offline"
  /** The connection closed before the answer arrived. */
  | "connection_closed"
  /** No answer within the request timeout; the connection is dropped. */
  | "timeout"
  /** The server sent something that breaks the protocol. */
  | "protocol";

/** A failed request: the server's error (`code` from PROTOCOL.md section 8)
 * or one of {@link LocalErrorCode}. */
export class MagpieError extends Error {
  readonly code: string;
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, retryAfterMs?: number) {
    super(message === "" ? code : `${code}: ${message}`);
    this.name = "MagpieError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  static fromBody(body: ErrorBody): MagpieError {
    return new MagpieError(body.code, body.message, body.retry_after_ms);
  }

  /** Whether the same request may succeed later unchanged: the server's
   * retryable codes, and losing the connection before the answer. */
  get retryable(): boolean {
    return (
      RETRYABLE_CODES.has(this.code) ||
      this.code === "offline" ||
      this.code === "connection_closed" ||
      this.code === "timeout"
    );
  }
}
