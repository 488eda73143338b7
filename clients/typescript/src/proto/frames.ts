/**
 * Frames: the three JSON documents of the protocol (PROTOCOL.md section 3).
 *
 * The client sends requests with an `id` of its choosing; the server answers
 * each with exactly one response carrying that `id`, and sends pushes at any
 * time. Every operation's argument and result types live in the area modules
 * beside this one and are collected into {@link Ops} by `proto/index.ts`.
 */

/** A request as it goes on the wire (3.1). */
export interface RequestFrame {
  id: number;
  op: string;
  args?: unknown;
}

/** The stable error codes of PROTOCOL.md section 8. New codes may be added:
 * treat an unknown one as a non-retryable failure of that request. */
export type ErrorCode =
  | "bad_frame"
  | "frame_too_large"
  | "unknown_op"
  | "invalid_args"
  | "body_too_large"
  | "hello_required"
  | "unsupported_version"
  | "not_authenticated"
  | "already_authenticated"
  | "invalid_credentials"
  | "account_disabled"
  | "registration_closed"
  | "invalid_token"
  | "username_taken"
  | "invalid_username"
  | "invalid_password"
  | "unknown_user"
  | "unknown_conversation"
  | "muted"
  | "not_allowed"
  | "forbidden"
  | "already_friends"
  | "not_friends"
  | "no_such_request"
  | "unknown_category"
  | "unknown_device"
  | "unknown_department"
  | "department_not_empty"
  | "limit_reached"
  | "overloaded"
  | "rate_limited"
  | "too_many_sessions"
  | "unavailable"
  | "shutting_down"
  | "unknown_file"
  | "file_too_large"
  | "quota_exceeded"
  | "invalid_media"
  | "unknown_entry"
  | "name_taken"
  | "invalid_name"
  | "invalid_move"
  | "unknown_share"
  | "wrong_code"
  | "unknown_message"
  | "not_amendable"
  | "too_late"
  | "internal";

/** The `error` object of a failure response (3.2). */
export interface ErrorBody {
  /** Branch on this; `string` admits codes newer than this package. */
  code: ErrorCode | (string & {});
  /** For humans and logs only: its wording may change. */
  message: string;
  /** With `rate_limited` and `overloaded`: wait at least this long. */
  retry_after_ms?: number;
}

/** Codes after which the same request may succeed unchanged (section 8). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "overloaded",
  "rate_limited",
  "unavailable",
  "shutting_down",
]);

/** A response: a result or an error, with the request's id (null when the
 * server could not read one). */
export type ResponseFrame = { id: number; result: unknown } | { id: number | null; error: ErrorBody };

/** A push: no id, no answer expected (3.3). */
export interface PushFrame {
  push: string;
  data: unknown;
}

/** Any frame from the server, told apart by {@link classifyFrame} (3.4). */
export type ServerFrame = ResponseFrame | PushFrame;

/** What a server frame is, by the rules of 3.4, or `null` for a document
 * that is none of them (which a client ignores). */
export function classifyFrame(
  value: unknown,
):
  | { type: "push"; push: string; data: unknown }
  | { type: "error"; id: number | null; error: ErrorBody }
  | { type: "result"; id: number; result: unknown }
  | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const frame = value as Record<string, unknown>;
  if (typeof frame.push === "string") {
    return { type: "push", push: frame.push, data: frame.data ?? {} };
  }
  const id = typeof frame.id === "number" ? frame.id : null;
  if (typeof frame.error === "object" && frame.error !== null) {
    const raw = frame.error as Record<string, unknown>;
    const error: ErrorBody = {
      code: typeof raw.code === "string" ? raw.code : "internal",
      message: typeof raw.message === "string" ? raw.message : "",
    };
    if (typeof raw.retry_after_ms === "number") error.retry_after_ms = raw.retry_after_ms;
    return { type: "error", id, error };
  }
  if (id !== null && "result" in frame) return { type: "result", id, result: frame.result };
  return null;
}
