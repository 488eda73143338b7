/** The company directory: a versioned tree of departments that every
 * signed-in user may read (PROTOCOL.md "The company directory": directory,
 * dept_members; the directory push; Department and Member objects; 10.10).
 * Keep the version last loaded and reload when a push or `changes` shows a
 * newer one. */

import type { UserCard } from "./people.js";
import type { PresenceState } from "./presence.js";

/** One department of the tree. */
export interface Department {
  id: number;
  /** Need not be unique. */
  name: string;
  /** Absent for a top-level department. */
  parent?: number;
  /** Display order among siblings, ascending; ties by `id`. */
  order: number;
  /** Active accounts directly in it (not in its sub-departments). */
  members: number;
}

/** The answer to `directory`: the whole tree, each department before its
 * sub-departments. */
export interface DirectoryOk {
  /** Keep it: compare it with `directory` pushes and `changes`. */
  version: number;
  departments: Department[];
}

/** `dept_members`: one page of a department's members by user id. */
export interface DeptMembers {
  dept: number;
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** A member of a department (`Member` in PROTOCOL.md and the Rust crate,
 * renamed so it is not taken for a group's `GroupMember`). */
export interface DeptMember {
  user: UserCard;
  /** Job title; empty when none. */
  title: string;
  /** A snapshot, as contacts see it; always `offline` when the caller is
   * not in the directory themself. */
  presence: PresenceState;
}

/** The answer to `dept_members`. */
export interface DeptMembersOk {
  members: DeptMember[];
  next?: number;
}

/** The directory changed (the `directory` push; also the answer to
 * `dept_update` and `dept_delete`): reload if `version` is newer than the
 * one held. Pushes may arrive out of order. */
export interface DirectoryVersion {
  version: number;
}

/** The directory operations. */
export interface DirectoryOps {
  directory: { args: void; result: DirectoryOk };
  dept_members: { args: DeptMembers; result: DeptMembersOk };
}

/** The directory push. */
export interface DirectoryPushes {
  directory: DirectoryVersion;
}
