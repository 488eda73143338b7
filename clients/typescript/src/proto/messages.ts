/** The messages area: entries of a conversation's sequence and the
 * operations that write and read them (PROTOCOL.md: send, sync, history,
 * read, read_receipts, read_by; the message, read and receipt pushes). */

import type { FileInfo } from "./files.js";
import type { GroupEvent } from "./groups.js";

/** What an entry is. Later versions add kinds: show an unknown one as
 * "unsupported message" and still advance past it. */
export type MessageKind =
  "text" | "event" | "file" | "image" | "voice" | "video" | "record" | "recall" | "edit" | "reaction" | (string & {});

/** Kinds that amend another entry: never a bubble, never unread, never a
 * conversation's last message (10.11). */
export const QUIET_KINDS: ReadonlySet<string> = new Set(["recall", "edit", "reaction"]);

/** The file kinds of `send`. */
export type FileKind = "file" | "image" | "voice" | "video";

/** The message a reply answers, as stored with the reply. */
export interface Quote {
  seq: number;
  from: string;
  kind: MessageKind;
  excerpt: string;
  recalled?: boolean;
}

/** One message of a chat record (a merged forward). */
export interface RecordItem {
  from: string;
  ts: number;
  kind: MessageKind;
  body: string;
  file_name?: string;
}

/** How many reactions of one emoji a message has. */
export interface ReactionCount {
  emoji: string;
  count: number;
  /** Only in `history` and `sync` answers; derive it from own reaction
   * entries afterwards (10.11). */
  mine?: boolean;
}

/** What a `reaction` entry did. */
export interface ReactionChange {
  emoji: string;
  add: boolean;
  count: number;
}

/** A stored entry, as pushed, synced and returned by history (7). */
export interface Message {
  msg_id: number;
  conv: number;
  seq: number;
  kind: MessageKind;
  from: string;
  body: string;
  ts: number;
  cmid: string;
  event?: GroupEvent;
  mentions?: string[];
  mention_all?: boolean;
  file?: FileInfo;
  target?: number;
  reaction?: ReactionChange;
  reply?: Quote;
  forwarded?: { from: string; ts: number };
  record?: RecordItem[];
  edited_ts?: number;
  recalled?: { by: string; ts: number };
  reactions?: ReactionCount[];
}

/** `send`: exactly one of `to` (a username, 1:1) and `conv`. */
export interface Send {
  to?: string;
  conv?: number;
  cmid: string;
  body: string;
  kind?: "text" | FileKind;
  file?: string;
  mentions?: string[];
  mention_all?: boolean;
  reply?: number;
}

/** The ack of a durably stored message. */
export interface SendOk {
  msg_id: number;
  conv: number;
  seq: number;
  ts: number;
  duplicate: boolean;
}

export interface Sync {
  /** Conversation id (decimal string) → highest seq held without a gap. */
  cursors?: Record<string, number>;
  limit?: number;
}

export interface SyncOk {
  messages: Message[];
  more: boolean;
}

export interface History {
  conv?: number;
  peer?: string;
  before?: number;
  limit?: number;
}

export interface HistoryOk {
  conv: number | null;
  messages: Message[];
  more: boolean;
}

export interface Read {
  conv: number;
  seq: number;
}

/** A user's read position in a conversation. */
export interface ReadMark {
  conv: number;
  read_seq: number;
}

export interface ReadReceipts {
  conv: number;
  seqs: number[];
}

export interface ReadReceiptsOk {
  conv: number;
  counts: { seq: number; read: number; unread: number }[];
}

export interface ReadBy {
  conv: number;
  seq: number;
  unread?: boolean;
  after?: number;
  limit?: number;
}

export interface ReadByOk {
  users: { user_id: number; user: string; read_seq: number }[];
  next?: number;
}

/** The other member of a 1:1 conversation read up to `read_seq`. */
export interface Receipt {
  conv: number;
  user: string;
  read_seq: number;
}

export interface MessageOps {
  send: { args: Send; result: SendOk };
  sync: { args: Sync | void; result: SyncOk };
  history: { args: History; result: HistoryOk };
  read: { args: Read; result: ReadMark };
  read_receipts: { args: ReadReceipts; result: ReadReceiptsOk };
  read_by: { args: ReadBy; result: ReadByOk };
}

export interface MessagePushes {
  message: Message;
  read: ReadMark;
  receipt: Receipt;
}
