/** Presence: whether a user is reachable now and how they want to be seen
 * (PROTOCOL.md: presence_set, the presence push, PresenceState, 9.4). It
 * reaches only contacts, and is never replayed: take the current state
 * from `friends` and `dept_members` after a reconnect (10.9). */

/** How a user appears. `invisible` appears only in the user's own view;
 * contacts see an invisible user as `offline`. */
export type PresenceStatus = "online" | "away" | "busy" | "invisible" | "offline";

/** `presence_set`: how contacts see the caller while connected. The
 * choice is stored with the account and holds on every device until the
 * next call. */
export interface PresenceSet {
  /** Not `offline`: disconnecting is what that is for. */
  status: Exclude<PresenceStatus, "offline">;
  /** At most 64 bytes, one line. Omitted keeps the current text; `""`
   * clears it. */
  text?: string;
}

/** A user's presence as one viewer sees it: the whole current state, so
 * apply it by replacing what is shown for `user_id`. */
export interface PresenceState {
  user_id: number;
  user: string;
  status: PresenceStatus;
  /** Empty when none, and always empty with `offline`. */
  text: string;
}

/** The presence operation. */
export interface PresenceOps {
  presence_set: { args: PresenceSet; result: PresenceState };
}

/** The presence push: a contact's presence (or the caller's own, from
 * `presence_set` on any of their devices) changed. */
export interface PresencePushes {
  presence: PresenceState;
}
