// The people around the signed-in user: friends, friend requests both
// ways, and contacts' presence. Loaded as snapshots after every sign-in
// (before the change stream continues, PROTOCOL.md 10.8), then kept by
// the `change` events and `presence` pushes; nothing here is cached
// across reloads, since the snapshots are small and the stream is exact.

import { computed, signal } from "@preact/signals";
import {
  isChange,
  type Change,
  type Friend,
  type MagpieClient,
  type PendingRequest,
  type PresenceState,
} from "magpie-client";

export class People {
  readonly friends = signal<ReadonlyMap<number, Friend>>(new Map());
  readonly incoming = signal<readonly PendingRequest[]>([]);
  readonly outgoing = signal<readonly PendingRequest[]>([]);
  readonly presence = signal<ReadonlyMap<number, PresenceState>>(new Map());
  /** Friends in display order: online first, then by name. */
  readonly sorted = computed(() =>
    [...this.friends.value.values()].sort(
      (a, b) =>
        Number(this.isOnline(b.user.user_id)) - Number(this.isOnline(a.user.user_id)) ||
        displayName(a).localeCompare(displayName(b)),
    ),
  );

  private readonly client: MagpieClient;
  private readonly me: () => string;
  private readonly stops: (() => void)[] = [];

  constructor(client: MagpieClient, me: () => string) {
    this.client = client;
    this.me = me;
    this.stops.push(
      client.on("change", (change) => this.apply(change)),
      client.on("presence", (state) => this.setPresence([state])),
      client.on("resync", () => void this.load().catch(() => undefined)),
    );
  }

  dispose(): void {
    for (const stop of this.stops) stop();
  }

  /** The snapshots: every page of friends (with their presence) and the
   * pending requests. */
  async load(): Promise<void> {
    const friends: Friend[] = [];
    let after: number | undefined;
    do {
      const page = await this.client.request("friends", after === undefined ? { limit: 500 } : { after, limit: 500 });
      friends.push(...page.friends);
      after = page.next;
    } while (after !== undefined);
    const requests = await this.client.request("friend_requests");
    this.friends.value = new Map(friends.map((f) => [f.user.user_id, stripPresence(f)]));
    this.setPresence(friends.flatMap((f) => (f.presence === undefined ? [] : [f.presence])));
    this.incoming.value = requests.incoming;
    this.outgoing.value = requests.outgoing;
  }

  isOnline(userId: number): boolean {
    const status = this.presence.value.get(userId)?.status;
    return status !== undefined && status !== "offline" && status !== "invisible";
  }

  isFriend(user: string): boolean {
    return [...this.friends.value.values()].some((f) => f.user.user === user);
  }

  request(user: string, note: string): Promise<unknown> {
    return this.client.request("friend_request", { user: user.trim(), note });
  }

  accept(user: string): Promise<unknown> {
    return this.client.request("friend_accept", { user });
  }

  reject(user: string): Promise<unknown> {
    return this.client.request("friend_reject", { user });
  }

  cancel(user: string): Promise<unknown> {
    return this.client.request("friend_cancel", { user });
  }

  /** One change of the stream, in order: replace or remove what it is about. */
  private apply(change: Change): void {
    if (isChange(change, "friend_request")) {
      const request = change.data;
      const mine = request.from.user === this.me();
      const list = mine ? this.outgoing : this.incoming;
      list.value = [...list.value.filter((r) => !samePair(r, request)), request];
    } else if (isChange(change, "friend_request_closed")) {
      const closed = change.data;
      this.incoming.value = this.incoming.value.filter((r) => !samePair(r, closed));
      this.outgoing.value = this.outgoing.value.filter((r) => !samePair(r, closed));
    } else if (isChange(change, "friend_added") || isChange(change, "friend_updated")) {
      const friend = change.data as Friend;
      const next = new Map(this.friends.value);
      next.set(friend.user.user_id, stripPresence(friend));
      this.friends.value = next;
    } else if (isChange(change, "friend_removed")) {
      const next = new Map(this.friends.value);
      next.delete(change.data.user_id);
      this.friends.value = next;
    } else if (isChange(change, "profile")) {
      const profile = change.data;
      const friend = this.friends.value.get(profile.user_id);
      if (friend !== undefined) {
        const next = new Map(this.friends.value);
        next.set(profile.user_id, {
          ...friend,
          user: { ...friend.user, nickname: profile.nickname, avatar: profile.avatar },
        });
        this.friends.value = next;
      }
    }
  }

  private setPresence(states: readonly PresenceState[]): void {
    if (states.length === 0) return;
    const next = new Map(this.presence.value);
    for (const state of states) next.set(state.user_id, state);
    this.presence.value = next;
  }
}

/** How a friend is shown: the remark, else the nickname, else the username. */
export function displayName(friend: Friend): string {
  return friend.remark || friend.user.nickname || friend.user.user;
}

function stripPresence(friend: Friend): Friend {
  const { presence: _presence, ...rest } = friend;
  return rest;
}

function samePair(a: { from: { user_id: number }; to: { user_id: number } }, b: typeof a): boolean {
  return a.from.user_id === b.from.user_id && a.to.user_id === b.to.user_id;
}
