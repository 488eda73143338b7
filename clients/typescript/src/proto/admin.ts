/** Administration: accounts, storage quotas and the directory, for
 * accounts whose role is `admin` (PROTOCOL.md "Administration", the
 * AdminUser object, 9.6). The server checks the role on every request;
 * anyone else gets `forbidden`. In `dept` and `parent`, `0` means none. */

import type { Department, DirectoryVersion } from "./directory.js";
import type { GroupChanged } from "./groups.js";
import type { UserRef } from "./people.js";

type Empty = Record<string, never>;

/** What an account may do (`Role` in the Rust crate). */
export type AccountRole = "user" | "admin";

/** Whether an account may sign in. `deleted` is final. */
export type AccountState = "active" | "disabled" | "deleted";

/** `admin_user_create`: an account, active at once. */
export interface AdminUserCreate {
  user: string;
  /** 8–1024 bytes. Omitted: the server generates one and returns it. */
  password?: string;
  nickname?: string;
  /** `0` or omitted: not in the directory. */
  dept?: number;
  title?: string;
  /** Default `user`. */
  role?: AccountRole;
}

/** The answer to `admin_user_create`. */
export interface AdminUserCreated {
  user_id: number;
  /** As stored (lower-case). */
  user: string;
  /** The generated password, when none was given. Shown only here: pass
   * it on to the user. */
  password?: string;
}

/** An account as administrators see it, in every state. */
export interface AdminUser {
  user_id: number;
  user: string;
  nickname: string;
  role: AccountRole;
  state: AccountState;
  /** Absent when the account is not in the directory. */
  dept?: number;
  /** Job title, or empty. */
  title: string;
  created_at: number;
}

/** `admin_users`: one page of accounts by id. */
export interface AdminUsers {
  /** Only usernames that begin with it (any case). */
  prefix?: string;
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** The answer to `admin_users`. */
export interface AdminUsersOk {
  users: AdminUser[];
  next?: number;
}

/** `admin_user_set`: omitted fields keep their value. Disabling or
 * deleting the account, or a new password, signs out every device. */
export interface AdminUserSet {
  user: string;
  role?: AccountRole;
  state?: AccountState;
  /** `0` takes the account out of the directory. */
  dept?: number;
  /** `""` clears it. */
  title?: string;
  password?: string;
}

/** `admin_quota_set`: an account's storage quota for files and drive
 * together (defined in the Rust crate's `drive` module). */
export interface AdminQuotaSet {
  user: string;
  /** Omitted: back to the server's default. */
  bytes?: number;
}

/** `dept_create`. */
export interface DeptCreate {
  /** 1–64 bytes, one line; need not be unique. */
  name: string;
  /** `0` or omitted: top level. */
  parent?: number;
  /** Display order among siblings (any integer). Default 0. */
  order?: number;
}

/** `dept_update`: rename, move (`parent: 0` makes it top-level) or
 * reorder; omitted fields keep their value. */
export interface DeptUpdate {
  id: number;
  name?: string;
  parent?: number;
  order?: number;
}

/** `dept_delete`: only an empty department (no sub-departments, no
 * accounts, disabled ones included). */
export interface DeptDelete {
  id: number;
}

/** `admin_groups`: one page of every group that is not dissolved, by
 * conversation id, whoever its members are. */
export interface AdminGroups {
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** A group as administrators see it. */
export interface AdminGroup {
  conv: number;
  name: string;
  owner_id: number;
  /** The owner's username. */
  owner: string;
  members: number;
  /** Present (true) only for a temporary group. */
  temporary?: boolean;
  created_at: number;
}

/** The answer to `admin_groups`. */
export interface AdminGroupsOk {
  groups: AdminGroup[];
  next?: number;
}

/** `admin_group_dissolve`: dissolve any group as its owner would; the
 * `dissolved` event names the administrator. Answers like `group_dissolve`. */
export interface AdminGroupDissolve {
  conv: number;
}

/** A histogram's running totals since the node started. */
export interface HistogramTotals {
  sum: number;
  count: number;
}

/** The answer to `admin_stats`: the answering node's own metrics at `at`.
 * Counters and histogram totals only grow from the node's start: a rate is
 * the difference of two answers over the difference of their `at`, a mean
 * the difference of `sum` over the difference of `count`. */
export interface AdminStats {
  /** ms since the epoch, the node's clock. */
  at: number;
  started_at: number;
  /** Open connections on this node now (a gauge). */
  connections: number;
  connections_tcp: number;
  connections_ws: number;
  logins: number;
  login_failures: number;
  /** Messages stored by this node. */
  messages_in: number;
  /** Message pushes queued to this node's connections. */
  messages_out: number;
  slow_consumer_disconnects: number;
  send_ack_seconds: HistogramTotals;
  store_batch_seconds: HistogramTotals;
  /** Messages per group-commit batch. */
  store_batch_size: HistogramTotals;
  search_seconds: HistogramTotals;
}

/** The administration operations. */
export interface AdminOps {
  admin_user_create: { args: AdminUserCreate; result: AdminUserCreated };
  admin_users: { args: AdminUsers | void; result: AdminUsersOk };
  admin_user: { args: UserRef; result: AdminUser };
  admin_user_set: { args: AdminUserSet; result: AdminUser };
  admin_quota_set: { args: AdminQuotaSet; result: Empty };
  dept_create: { args: DeptCreate; result: Department };
  dept_update: { args: DeptUpdate; result: DirectoryVersion };
  dept_delete: { args: DeptDelete; result: DirectoryVersion };
  admin_groups: { args: AdminGroups | void; result: AdminGroupsOk };
  admin_group_dissolve: { args: AdminGroupDissolve; result: GroupChanged };
  admin_stats: { args: void; result: AdminStats };
}
