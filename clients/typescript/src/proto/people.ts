/** The people area: profiles, user search, friends and friend requests,
 * friend categories and the blocklist (PROTOCOL.md "The people area";
 * UserCard, Profile, Friend, PendingRequest, RequestClosed and Category
 * objects). Users are named in arguments by username; objects also carry
 * the numeric `user_id`, which never changes: key caches by it. */

import type { PresenceState } from "./presence.js";

type Empty = Record<string, never>;

/** A user as lists show them: just enough to draw a row. */
export interface UserCard {
  user_id: number;
  /** Username (lower-case). */
  user: string;
  /** Empty when the user set none: show the username instead. */
  nickname: string;
  /** An avatar file id (show `/api/files/{id}/thumbnail`) or a URL;
   * empty when none. */
  avatar: string;
}

/** What a user says about their gender; `unspecified` until they choose. */
export type Gender = "unspecified" | "male" | "female" | "other";

/** A user's profile. `phone` and `email` are absent both when unset and
 * when the reader may not see them (not the user, a friend or a
 * colleague), so absence never tells which. */
export interface Profile {
  user_id: number;
  user: string;
  nickname: string;
  avatar: string;
  /** A one-line status text (QQ's 个性签名), or empty. */
  signature: string;
  gender: Gender;
  /** `YYYY-MM-DD`. */
  birthday?: string;
  phone?: string;
  /** Lower-case. */
  email?: string;
  /** When the profile last changed (ms since the epoch); 0 if never. */
  updated_at: number;
}

/** The arguments of operations naming one other user (`friend_accept`,
 * `friend_reject`, `friend_cancel`, `friend_remove`, `block`, `unblock`,
 * `admin_user`). */
export interface UserRef {
  /** A username, any case. */
  user: string;
}

/** `profile`: whose profile to read; the caller's own when omitted. */
export interface ProfileGet {
  user?: string;
}

/** `profile_set`: the fields to change. Omitted fields keep their value;
 * `""` clears a text field (for `gender`, `unspecified` does). `{}` is
 * valid and changes nothing. */
export interface ProfileSet {
  nickname?: string;
  avatar?: string;
  signature?: string;
  gender?: Gender;
  birthday?: string;
  phone?: string;
  email?: string;
}

/** `search`: find users. A query with `@` matches an email exactly; a
 * phone number matches a phone exactly and usernames by prefix; anything
 * else matches usernames by prefix and nicknames by substring. */
export interface Search {
  query: string;
  /** Continue after this user id (the previous page's `next`). */
  after?: number;
  /** 1–50, default 20. */
  limit?: number;
}

/** A page of users by ascending id: the answer to `search` and `blocks`. */
export interface UsersOk {
  users: UserCard[];
  /** Present when more follow: pass it as `after`. */
  next?: number;
}

/** The arguments of the lists paged by user id (`friends`, `blocks`);
 * `Page` in the Rust crate. */
export interface UserPage {
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** `friend_request`: ask a user to be friends. */
export interface FriendRequest {
  user: string;
  /** Shown with the request: at most 256 bytes, one line. Default `""`. */
  note?: string;
}

/** What became of a `friend_request`: `friends` when the other user had
 * asked too, so asking back accepted their request. */
export type RequestStatus = "pending" | "friends";

/** The answer to `friend_request`. */
export interface FriendRequestOk {
  status: RequestStatus;
}

/** A friend request waiting for an answer; at most one per ordered pair
 * of users, so `(from, to)` identifies it. */
export interface PendingRequest {
  from: UserCard;
  to: UserCard;
  note: string;
  /** When it was last sent (a repeat moves it). */
  ts: number;
}

/** How a friend request ended. `ignored`: the addressee blocked the
 * requester; only the addressee is told. */
export type RequestOutcome = "accepted" | "rejected" | "cancelled" | "ignored";

/** A pending request ended (the `friend_request_closed` change): remove
 * `(from, to)` from the pending lists. */
export interface RequestClosed {
  from: UserCard;
  to: UserCard;
  outcome: RequestOutcome;
}

/** The answer to `friend_requests`: pending requests both ways, newest
 * first. */
export interface RequestsOk {
  incoming: PendingRequest[];
  outgoing: PendingRequest[];
}

/** A named list of the caller's friends (QQ's 分组), private to them; a
 * friend is in at most one. */
export interface Category {
  id: number;
  name: string;
}

/** One of the caller's friends, with what only the caller keeps about
 * them. */
export interface Friend {
  user: UserCard;
  /** The caller's private alias; empty when none. */
  remark: string;
  /** The caller's category the friend is in; absent when none. */
  category?: number;
  /** When the friendship began (ms since the epoch). */
  since: number;
  /** Only in `friends` results: presence is not part of the change
   * stream, so changes and `friend_set` leave it out. */
  presence?: PresenceState;
}

/** The answer to `friends`: one page of friends by user id, and every
 * category of the caller's on every page. */
export interface FriendsOk {
  friends: Friend[];
  categories: Category[];
  next?: number;
}

/** `friend_set`: give `remark`, `category` or both. `remark: ""` clears
 * the alias; `category: 0` takes the friend out of any category. */
export interface FriendSet {
  user: string;
  remark?: string;
  category?: number;
}

/** `category_create`. */
export interface CategoryCreate {
  /** 1–32 bytes, one line; need not be unique. */
  name: string;
}

/** `category_rename`. */
export interface CategoryRename {
  id: number;
  name: string;
}

/** `category_delete`: its friends are left in no category, without a
 * `friend_updated` change each (clear them locally). */
export interface CategoryDelete {
  id: number;
}

/** The people area's operations. */
export interface PeopleOps {
  profile: { args: ProfileGet | void; result: Profile };
  profile_set: { args: ProfileSet; result: Profile };
  search: { args: Search; result: UsersOk };
  friend_request: { args: FriendRequest; result: FriendRequestOk };
  friend_accept: { args: UserRef; result: Empty };
  friend_reject: { args: UserRef; result: Empty };
  friend_cancel: { args: UserRef; result: Empty };
  friend_remove: { args: UserRef; result: Empty };
  friend_set: { args: FriendSet; result: Friend };
  friends: { args: UserPage | void; result: FriendsOk };
  friend_requests: { args: void; result: RequestsOk };
  category_create: { args: CategoryCreate; result: Category };
  category_rename: { args: CategoryRename; result: Category };
  category_delete: { args: CategoryDelete; result: Empty };
  block: { args: UserRef; result: Empty };
  unblock: { args: UserRef; result: Empty };
  blocks: { args: UserPage | void; result: UsersOk };
}
