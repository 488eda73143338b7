/** Full-text search over the caller's messages (PROTOCOL.md:
 * message_search). Matching ignores case and accents, finds CJK text by
 * any run of characters and other words by their beginning; every word
 * of the query must occur. */

import type { MessageKind } from "./messages.js";

/** `message_search`: one page of the caller's messages matching `query`,
 * newest first. */
export interface MessageSearch {
  /** 1–100 characters. */
  query: string;
  /** Only this conversation or group. */
  conv?: number;
  /** Only messages sent by this user (a username, any case). */
  from?: string;
  /** Only messages sent at or after this time (ms since the epoch). */
  after_ts?: number;
  /** Only messages sent before this time; must be after `after_ts`. */
  before_ts?: number;
  /** The cursor: only messages with a `msg_id` below this (the previous
   * page's `next`). */
  before?: number;
  /** 1–50, default 20. */
  limit?: number;
}

/** One message found: enough to list it, and `conv` and `seq` to open it
 * in place with `history`. */
export interface SearchHit {
  msg_id: number;
  conv: number;
  seq: number;
  /** The sender's username. */
  from: string;
  ts: number;
  kind: MessageKind;
  /** The text around the first match, at most 120 characters, `…` where
   * cut, line breaks as spaces. */
  excerpt: string;
  /** Where the query's words are in `excerpt`: `[start, length]` in
   * Unicode code points (not UTF-16 units). Absent when none fall inside
   * it. */
  highlights?: [number, number][];
  /** Present and `true` for an edited message (found by its current
   * text). */
  edited?: boolean;
}

/** The answer to `message_search`. A page may be short, even empty, with
 * `next` set (the server's work limit): only an absent `next` means the
 * end. */
export interface MessageSearchOk {
  hits: SearchHit[];
  /** Ask again with `before` set to it. */
  next?: number;
}

/** The message search operation. */
export interface SearchOps {
  message_search: { args: MessageSearch; result: MessageSearchOk };
}
