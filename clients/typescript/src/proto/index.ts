/**
 * Every operation and push of the protocol, typed.
 *
 * Each area module (named as in the Rust `magpie-proto` crate) exports an
 * `…Ops` interface mapping op names to `{ args; result }` and, where the
 * area has pushes, a `…Pushes` interface mapping push names to their data.
 * {@link Ops} and {@link Pushes} join them, so `Connection.request` and the
 * push listeners are typed for every operation without one wrapper each.
 */

import type { AmendOps } from "./amend.js";
import type { ChangeOps, ChangePushes } from "./changes.js";
import type { ConversationOps } from "./conversations.js";
import type { MessageOps, MessagePushes } from "./messages.js";
import type { SessionOps, SessionPushes } from "./session.js";

export * from "./amend.js";
export * from "./changes.js";
export * from "./conversations.js";
export * from "./frames.js";
export * from "./messages.js";
export * from "./session.js";

/** Every operation: `Ops[op]["args"]` and `Ops[op]["result"]`. */
export interface Ops extends SessionOps, MessageOps, ConversationOps, AmendOps, ChangeOps {}

/** Every push: `Pushes[name]` is its `data`. */
export interface Pushes extends SessionPushes, MessagePushes, ChangePushes {}

export type OpName = keyof Ops;
export type ArgsOf<K extends OpName> = Ops[K]["args"];
export type ResultOf<K extends OpName> = Ops[K]["result"];
export type PushName = keyof Pushes;
