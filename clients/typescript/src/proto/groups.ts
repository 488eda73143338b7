/** Groups: conversations of kind `group` with a profile, settings and
 * members with roles (PROTOCOL.md "Groups", 9.7; GroupInfo, GroupMember,
 * GroupChanged, GroupEvent, GroupJoinRequest, GroupRequestClosed,
 * GroupCard and GroupLeft objects). Every change to a group is an `event`
 * entry of its sequence, so replaying events converges every device. */

import type { PresenceStatus } from "./presence.js";

/** What a member may do; `owner` > `admin` > `member`. */
export type GroupRole = "member" | "admin" | "owner";

/** Who may become a member: `invite` (owner and admins add members),
 * `open` (anyone may `group_join`), `request` (`group_join` files a
 * request that an admin answers). */
export type JoinPolicy = "invite" | "open" | "request";

/** A group's profile and settings, with the caller's role. */
export interface GroupInfo {
  conv: number;
  name: string;
  /** Empty when unset, like `description` and `announcement`. */
  avatar: string;
  description: string;
  /** The group notice (群公告). */
  announcement: string;
  /** The owner's username. */
  owner: string;
  join_policy: JoinPolicy;
  /** Entries before their join that new members may read. */
  history_visible: number;
  member_limit: number;
  /** A temporary group (临时群): any member may invite, and it is
   * dissolved when its last member leaves. */
  temporary: boolean;
  /** Only the owner and admins may send. */
  muted_all: boolean;
  /** How many members it has. */
  members: number;
  /** The caller's role (`member` for a non-member reading an open
   * group). */
  role: GroupRole;
  /** The group's newest seq when read. */
  max_seq: number;
  created_at: number;
}

/** One member of a group, as `group_members` lists them. */
export interface GroupMember {
  user_id: number;
  user: string;
  role: GroupRole;
  /** The group nickname (群名片); empty if none. */
  nickname: string;
  /** Muted until then (ms since the epoch); absent if not muted. */
  muted_until?: number;
  joined_at: number;
  /** As anyone sees it: invisible members show as `offline`. */
  status: Exclude<PresenceStatus, "invisible">;
  /** Absent when none. */
  status_text?: string;
}

/** The settings `group_set` changes and the `updated` event reports:
 * only the ones that change are present. */
export interface GroupFields {
  name?: string;
  avatar?: string;
  description?: string;
  announcement?: string;
  join_policy?: JoinPolicy;
  history_visible?: number;
}

/** `group_create`: a new group with the caller as its owner. */
export interface GroupCreate {
  /** 1–64 bytes, one line. */
  name: string;
  /** Usernames to add besides the caller (at most 500). */
  members?: string[];
  avatar?: string;
  description?: string;
  announcement?: string;
  /** Default `invite`. */
  join_policy?: JoinPolicy;
  /** 0–1000, default 0. */
  history_visible?: number;
  /** Default `false`. */
  temporary?: boolean;
}

/** The arguments of operations on a group as a whole (`group_info`,
 * `group_leave`, `group_dissolve`). */
export interface GroupRef {
  conv: number;
}

/** `group_join`: join an open group, or ask to join a `request` one. */
export interface GroupJoin {
  conv: number;
  /** For the admins of a `request` group: at most 256 bytes, one line. */
  note?: string;
}

/** One page of a group's people by user id: its members
 * (`group_members`) or its applicants (`group_requests`). */
export interface GroupPage {
  conv: number;
  /** Continue after this user id (the previous page's `next`). */
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** The answer to `group_members`. */
export interface GroupMembersOk {
  members: GroupMember[];
  next?: number;
}

/** `groups`: one page of the caller's groups by id. */
export interface Groups {
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** The answer to `groups`. */
export interface GroupsOk {
  groups: GroupInfo[];
  next?: number;
}

/** `group_invite`: add users (owner and admins; any member of a
 * temporary group). */
export interface GroupInvite {
  conv: number;
  /** 1–500 usernames; members already in are skipped. */
  users: string[];
}

/** An operation on one member: `group_approve`, `group_reject`,
 * `group_remove`, `group_transfer`. */
export interface GroupUser {
  conv: number;
  user: string;
}

/** `group_role` (owner only); ownership moves with `group_transfer`. */
export interface GroupRoleSet {
  conv: number;
  user: string;
  role: Exclude<GroupRole, "owner">;
}

/** `group_mute`: keep a member from sending for a while. */
export interface GroupMute {
  conv: number;
  user: string;
  /** Up to 2,592,000 (30 days); 0 lifts the mute. */
  seconds: number;
}

/** `group_mute_all`: while on, only the owner and admins may send. */
export interface GroupMuteAll {
  conv: number;
  on: boolean;
}

/** `group_nickname`: the caller's own group nickname (empty clears). */
export interface GroupNickname {
  conv: number;
  nickname: string;
}

/** `group_set`: `conv` and at least one setting. */
export interface GroupSet extends GroupFields {
  conv: number;
}

/** The answer to every operation that changes a group: where its event
 * went in the group's sequence. */
export interface GroupChanged {
  conv: number;
  /** Absent when nothing changed (a repeat), or when the change writes no
   * event (a join request, `group_reject`). */
  seq?: number;
  /** Present and `true` when `group_join` filed or renewed a request
   * instead of joining. */
  requested?: boolean;
}

/** A pending request to join: `group_requests` rows and the
 * `group_request` change. */
export interface GroupJoinRequest {
  conv: number;
  user_id: number;
  user: string;
  note: string;
  /** When it was made or last renewed. */
  ts: number;
}

/** The answer to `group_requests`. */
export interface GroupRequestsOk {
  requests: GroupJoinRequest[];
  next?: number;
}

/** How a request to join ended: `approved` (or the applicant was
 * invited meanwhile), `rejected`, or `dropped` with the dissolved group. */
export type JoinOutcome = "approved" | "rejected" | "dropped";

/** A request to join ended (the `group_request_closed` change). */
export interface GroupRequestClosed {
  conv: number;
  user_id: number;
  /** The applicant. */
  user: string;
  outcome: JoinOutcome;
}

/** The caller is now in a group (the `group_joined` change). */
export interface GroupCard {
  conv: number;
  name: string;
  avatar: string;
  /** The caller's role. */
  role: GroupRole;
  temporary: boolean;
}

/** Why the caller is no longer in a group. */
export type LeftReason = "left" | "removed" | "dissolved";

/** The caller is no longer in a group (the `group_left` change). */
export interface GroupLeft {
  conv: number;
  reason: LeftReason;
  /** The seq of the event that ended the membership: the last entry the
   * caller may read. */
  last_seq: number;
}

/** `created`: always entry 1. */
export interface GroupCreatedEvent {
  type: "created";
  by: string;
  name: string;
  /** Usernames, the owner first. */
  members: string[];
  temporary: boolean;
}

/** `invited`: `by` added `users`. */
export interface GroupInvitedEvent {
  type: "invited";
  by: string;
  users: string[];
}

/** `joined`: `user` joined an open group, or `by` approved their
 * request. */
export interface GroupJoinedEvent {
  type: "joined";
  user: string;
  by?: string;
}

/** `left`: `user` left. `owner` names the new owner when the owner of a
 * temporary group left. */
export interface GroupLeftEvent {
  type: "left";
  user: string;
  owner?: string;
}

/** `removed`: `by` put `user` out; the last entry `user` receives. */
export interface GroupRemovedEvent {
  type: "removed";
  by: string;
  user: string;
}

/** `role`: `by` gave `user` this role. */
export interface GroupRoleEvent {
  type: "role";
  by: string;
  user: string;
  role: GroupRole;
}

/** `transferred`: ownership passed from `from` (now an admin) to `to`. */
export interface GroupTransferredEvent {
  type: "transferred";
  from: string;
  to: string;
}

/** `muted`: `by` muted `user` until `until` (ms since the epoch); 0: the
 * mute was lifted. */
export interface GroupMutedEvent {
  type: "muted";
  by: string;
  user: string;
  until: number;
}

/** `muted_all`: `by` turned mute-all on or off. */
export interface GroupMutedAllEvent {
  type: "muted_all";
  by: string;
  on: boolean;
}

/** `updated`: `by` changed the settings present (and only those). */
export interface GroupUpdatedEvent extends GroupFields {
  type: "updated";
  by: string;
}

/** `nickname`: `user` set their group nickname. */
export interface GroupNicknameEvent {
  type: "nickname";
  user: string;
  nickname: string;
}

/** `dissolved`: the group's last entry. */
export interface GroupDissolvedEvent {
  type: "dissolved";
  by: string;
}

/** Every event type this package knows, told apart by `type`. */
export type KnownGroupEvent =
  | GroupCreatedEvent
  | GroupInvitedEvent
  | GroupJoinedEvent
  | GroupLeftEvent
  | GroupRemovedEvent
  | GroupRoleEvent
  | GroupTransferredEvent
  | GroupMutedEvent
  | GroupMutedAllEvent
  | GroupUpdatedEvent
  | GroupNicknameEvent
  | GroupDissolvedEvent;

/** An event of a type newer than this package: show it as an
 * unsupported notice and still advance the cursor. */
export interface UnknownGroupEvent {
  type: string;
  [field: string]: unknown;
}

/** The `event` of an entry of kind `event`, as the wire may carry it.
 * Narrow with {@link isKnownGroupEvent} before switching on `type`, so
 * that a newer server's types are handled rather than mistyped. */
export type GroupEvent = KnownGroupEvent | UnknownGroupEvent;

const KNOWN_TYPES: Record<KnownGroupEvent["type"], true> = {
  created: true,
  invited: true,
  joined: true,
  left: true,
  removed: true,
  role: true,
  transferred: true,
  muted: true,
  muted_all: true,
  updated: true,
  nickname: true,
  dissolved: true,
};

/** The `type`s of {@link KnownGroupEvent}. */
export const GROUP_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(KNOWN_TYPES));

/** Whether an event is of a type this package knows (it does not check
 * the fields). */
export function isKnownGroupEvent(event: GroupEvent): event is KnownGroupEvent {
  return GROUP_EVENT_TYPES.has(event.type);
}

/** The group operations. */
export interface GroupOps {
  group_create: { args: GroupCreate; result: GroupInfo };
  group_info: { args: GroupRef; result: GroupInfo };
  group_members: { args: GroupPage; result: GroupMembersOk };
  groups: { args: Groups | void; result: GroupsOk };
  group_invite: { args: GroupInvite; result: GroupChanged };
  group_join: { args: GroupJoin; result: GroupChanged };
  group_requests: { args: GroupPage; result: GroupRequestsOk };
  group_approve: { args: GroupUser; result: GroupChanged };
  group_reject: { args: GroupUser; result: GroupChanged };
  group_leave: { args: GroupRef; result: GroupChanged };
  group_remove: { args: GroupUser; result: GroupChanged };
  group_role: { args: GroupRoleSet; result: GroupChanged };
  group_transfer: { args: GroupUser; result: GroupChanged };
  group_mute: { args: GroupMute; result: GroupChanged };
  group_mute_all: { args: GroupMuteAll; result: GroupChanged };
  group_nickname: { args: GroupNickname; result: GroupChanged };
  group_set: { args: GroupSet; result: GroupChanged };
  group_dissolve: { args: GroupRef; result: GroupChanged };
}
