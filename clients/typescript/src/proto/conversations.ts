/** The conversation list (PROTOCOL.md: conversations; Conversation and
 * LastMessage objects). */

import type { MessageKind } from "./messages.js";

/** The newest non-quiet entry of a conversation, cut to an excerpt. */
export interface LastMessage {
  msg_id: number;
  seq: number;
  kind: MessageKind;
  from: string;
  excerpt: string;
  truncated: boolean;
  ts: number;
  recalled?: boolean;
}

/** One row of the list as the caller sees it, with the caller's settings. */
export interface Conversation {
  conv: number;
  kind: "direct" | "group" | (string & {});
  peer?: string;
  name?: string;
  avatar?: string;
  last: LastMessage | null;
  active_ts: number;
  max_seq: number;
  read_seq: number;
  unread: number;
  mentioned?: boolean;
  pinned?: boolean;
  muted_until?: number;
  marked_unread?: boolean;
  draft?: string;
}

/** Where a page of the list continues; pass it back unchanged. */
export interface ConvCursor {
  pinned?: boolean;
  active_ts: number;
  conv: number;
}

export interface Conversations {
  after?: ConvCursor;
  limit?: number;
}

export interface ConversationsOk {
  conversations: Conversation[];
  next?: ConvCursor;
}

export interface ConversationOps {
  conversations: { args: Conversations | void; result: ConversationsOk };
}
