/**
 * Every operation and push of the protocol, typed.
 *
 * Each area module (named as in the Rust `magpie-proto` crate) exports an
 * `…Ops` interface mapping op names to `{ args; result }` and, where the
 * area has pushes, a `…Pushes` interface mapping push names to their data.
 * {@link Ops} and {@link Pushes} join them, so `Connection.request` and the
 * push listeners are typed for every operation without one wrapper each.
 */

import type { AdminOps } from "./admin.js";
import type { AmendOps } from "./amend.js";
import type { ChangeOps, ChangePushes } from "./changes.js";
import type { ConvSettingsOps } from "./conv_settings.js";
import type { ConversationOps } from "./conversations.js";
import type { DeviceOps } from "./devices.js";
import type { DirectoryOps, DirectoryPushes } from "./directory.js";
import type { DriveOps } from "./drive.js";
import type { FileOps } from "./files.js";
import type { GroupOps } from "./groups.js";
import type { MessageOps, MessagePushes } from "./messages.js";
import type { PeopleOps } from "./people.js";
import type { PresenceOps, PresencePushes } from "./presence.js";
import type { SearchOps } from "./search.js";
import type { SessionOps, SessionPushes } from "./session.js";
import type { TypingOps, TypingPushes } from "./typing.js";

export * from "./admin.js";
export * from "./amend.js";
export * from "./changes.js";
export * from "./conv_settings.js";
export * from "./conversations.js";
export * from "./devices.js";
export * from "./directory.js";
export * from "./drive.js";
export * from "./files.js";
export * from "./frames.js";
export * from "./groups.js";
export * from "./messages.js";
export * from "./people.js";
export * from "./presence.js";
export * from "./search.js";
export * from "./session.js";
export * from "./typing.js";

/** Every operation: `Ops[op]["args"]` and `Ops[op]["result"]`. */
export interface Ops
  extends
    SessionOps,
    MessageOps,
    ConversationOps,
    AmendOps,
    ChangeOps,
    ConvSettingsOps,
    TypingOps,
    SearchOps,
    PeopleOps,
    PresenceOps,
    DeviceOps,
    DirectoryOps,
    AdminOps,
    GroupOps,
    FileOps,
    DriveOps {}

/** Every push: `Pushes[name]` is its `data`. */
export interface Pushes
  extends SessionPushes, MessagePushes, ChangePushes, PresencePushes, DirectoryPushes, TypingPushes {}

export type OpName = keyof Ops;
export type ArgsOf<K extends OpName> = Ops[K]["args"];
export type ResultOf<K extends OpName> = Ops[K]["result"];
export type PushName = keyof Pushes;
