/** The change stream: everything but messages that reaches every device of
 * a user (PROTOCOL.md: changes, the change push, 10.8). */

import type { ConvSettings } from "./conv_settings.js";
import type { DriveEntry, DriveRemoved } from "./drive.js";
import type { GroupCard, GroupJoinRequest, GroupLeft, GroupRequestClosed } from "./groups.js";
import type { Category, Friend, PendingRequest, Profile, RequestClosed, UserCard } from "./people.js";

/** One entry of a user's stream. `data`'s type depends on `kind`; skip
 * kinds you do not know and still advance the cursor. */
export interface Change {
  seq: number;
  ts: number;
  kind: keyof ChangeData | (string & {});
  data: unknown;
}

/** The `data` of a `category_deleted` change. */
export interface CategoryRef {
  id: number;
}

/** Each change kind this package knows and its `data` (the table of the
 * change push, section 6): every one carries the whole new state of what
 * it is about, so applying it twice is harmless. Narrow a {@link Change}
 * with {@link isChange}. */
export interface ChangeData {
  friend_request: PendingRequest;
  friend_request_closed: RequestClosed;
  friend_added: Friend;
  friend_updated: Friend;
  /** The former friend. */
  friend_removed: UserCard;
  category_updated: Category;
  category_deleted: CategoryRef;
  blocked: UserCard;
  unblocked: UserCard;
  /** `phone` and `email` included. */
  profile: Profile;
  group_joined: GroupCard;
  group_left: GroupLeft;
  group_request: GroupJoinRequest;
  group_request_closed: GroupRequestClosed;
  /** An entry with `trashed_at` is in the bin. */
  drive_entry: DriveEntry;
  drive_removed: DriveRemoved;
  conv_settings: ConvSettings;
}

const KNOWN_KINDS: Record<keyof ChangeData, true> = {
  friend_request: true,
  friend_request_closed: true,
  friend_added: true,
  friend_updated: true,
  friend_removed: true,
  category_updated: true,
  category_deleted: true,
  blocked: true,
  unblocked: true,
  profile: true,
  group_joined: true,
  group_left: true,
  group_request: true,
  group_request_closed: true,
  drive_entry: true,
  drive_removed: true,
  conv_settings: true,
};

/** The kinds of {@link ChangeData}: a change of any other kind is
 * skipped, its seq still applied. */
export const CHANGE_KINDS: ReadonlySet<string> = new Set(Object.keys(KNOWN_KINDS));

/** Whether `c` is a change of `kind`, typing its `data` accordingly. It
 * trusts the server for the shape of `data`. */
export function isChange<K extends keyof ChangeData>(
  c: Change,
  kind: K,
): c is Change & { kind: K; data: ChangeData[K] } {
  return c.kind === kind;
}

export interface Changes {
  after?: number;
  limit?: number;
}

export interface ChangesOk {
  changes: Change[];
  more: boolean;
  head: number;
  directory_version: number;
  reset: boolean;
}

export interface ChangeOps {
  changes: { args: Changes | void; result: ChangesOk };
}

export interface ChangePushes {
  change: Change;
}
