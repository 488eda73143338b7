// The people around the signed-in user: friends (with remarks and
// categories), friend requests both ways, the blocklist, contacts'
// presence and the user's own profile and status. Loaded as snapshots
// after every sign-in (before the change stream continues, PROTOCOL.md
// 10.8), then kept by the `change` events and `presence` pushes; nothing
// here is cached across reloads, since the snapshots are small and the
// stream is exact (the own status is the exception: nothing returns it
// at sign-in, 10.9).

import { computed, signal } from "@preact/signals";
import {
  isChange,
  MemoryUrlStorage,
  type Category,
  type Change,
  type Friend,
  type MagpieClient,
  type PendingRequest,
  type PresenceSet,
  type PresenceState,
  type PresenceStatus,
  type Profile,
  type ProfileSet,
  type UserCard,
} from "magpie-client";
import { readStorage, writeStorage } from "../storage";

/** A file id, as `avatar_set` makes: anything else in `avatar` is a URL,
 * which the page's CSP (img-src 'self') would not load anyway. */
const AVATAR_FILE = /^[0-9a-f]{32}$/u;

/** The avatar file of a card or profile, if it has one to show. */
export function avatarFile(avatar: string): string | undefined {
  return AVATAR_FILE.test(avatar) ? avatar : undefined;
}

/** Friends under one heading of the contacts: a category, or none. */
export interface FriendGroup {
  category: Category | undefined;
  friends: Friend[];
}

export class People {
  readonly friends = signal<ReadonlyMap<number, Friend>>(new Map());
  readonly incoming = signal<readonly PendingRequest[]>([]);
  readonly outgoing = signal<readonly PendingRequest[]>([]);
  readonly presence = signal<ReadonlyMap<number, PresenceState>>(new Map());
  /** The caller's categories, oldest first. */
  readonly categories = signal<readonly Category[]>([]);
  /** The users the caller has blocked, by id. */
  readonly blocked = signal<ReadonlyMap<number, UserCard>>(new Map());
  /** The caller's own profile, `phone` and `email` included. */
  readonly mine = signal<Profile | undefined>(undefined);
  /** The caller's own status as last seen on this device (10.9). */
  readonly myStatus = signal<PresenceState | undefined>(undefined);
  /** Profiles read for cards, kept fresh by `profile` changes. */
  readonly profiles = signal<ReadonlyMap<string, Profile>>(new Map());
  /** Friends in display order: online first, then by name. */
  readonly sorted = computed(() =>
    [...this.friends.value.values()].sort(
      (a, b) =>
        Number(this.isOnline(b.user.user_id)) - Number(this.isOnline(a.user.user_id)) ||
        displayName(a).localeCompare(displayName(b)),
    ),
  );
  /** Friends by username, for the views that know only the name. */
  private readonly byName = computed(
    () => new Map([...this.friends.value.values()].map((f) => [f.user.user, f] as const)),
  );
  /** The friends under each category (in the categories' order), then
   * those in none. */
  readonly grouped = computed((): FriendGroup[] => {
    const known = new Set(this.categories.value.map((c) => c.id));
    const groups: FriendGroup[] = this.categories.value.map((category) => ({
      category,
      friends: this.sorted.value.filter((f) => f.category === category.id),
    }));
    const rest = this.sorted.value.filter((f) => f.category === undefined || !known.has(f.category));
    return [...groups, { category: undefined, friends: rest }];
  });

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
      client.on("changesReset", () => void this.load().catch(() => undefined)),
    );
    const status = readStorage(this.statusKey());
    if (status !== null) this.myStatus.value = parseStatus(status);
  }

  dispose(): void {
    for (const stop of this.stops) stop();
  }

  /** The snapshots: every page of friends (with their presence and the
   * categories), the pending requests, the blocklist and the own profile. */
  async load(): Promise<void> {
    const friends: Friend[] = [];
    let categories: Category[] = [];
    let after: number | undefined;
    do {
      const page = await this.client.request("friends", after === undefined ? { limit: 500 } : { after, limit: 500 });
      friends.push(...page.friends);
      categories = page.categories;
      after = page.next;
    } while (after !== undefined);
    const [requests, blocked, mine] = await Promise.all([
      this.client.request("friend_requests"),
      this.loadBlocks(),
      this.client.request("profile"),
    ]);
    this.friends.value = new Map(friends.map((f) => [f.user.user_id, stripPresence(f)]));
    this.categories.value = categories;
    this.setPresence(friends.flatMap((f) => (f.presence === undefined ? [] : [f.presence])));
    this.incoming.value = requests.incoming;
    this.outgoing.value = requests.outgoing;
    this.blocked.value = new Map(blocked.map((u) => [u.user_id, u]));
    this.mine.value = mine;
  }

  private async loadBlocks(): Promise<UserCard[]> {
    const users: UserCard[] = [];
    let after: number | undefined;
    do {
      const page = await this.client.request("blocks", after === undefined ? { limit: 500 } : { after, limit: 500 });
      users.push(...page.users);
      after = page.next;
    } while (after !== undefined);
    return users;
  }

  isOnline(userId: number): boolean {
    const status = this.presence.value.get(userId)?.status;
    return status !== undefined && status !== "offline" && status !== "invisible";
  }

  /** A user's status as last known (`offline` when nothing is known). */
  statusOf(userId: number): PresenceStatus {
    return this.presence.value.get(userId)?.status ?? "offline";
  }

  isFriend(user: string): boolean {
    return this.friendNamed(user) !== undefined;
  }

  friendNamed(user: string): Friend | undefined {
    return this.byName.value.get(user);
  }

  isBlocked(user: string): boolean {
    return [...this.blocked.value.values()].some((u) => u.user === user);
  }

  /** How a user is shown anywhere: the remark for a friend, else the
   * nickname, else the username. */
  nameOf(card: UserCard): string {
    const friend = this.friends.value.get(card.user_id);
    return friend !== undefined ? displayName(friend) : card.nickname || card.user;
  }

  /** A user's profile, read afresh (and kept for the card). */
  async profileOf(user: string): Promise<Profile> {
    const profile = await this.client.request("profile", { user });
    this.keepProfile(profile);
    return profile;
  }

  async saveProfile(fields: ProfileSet): Promise<Profile> {
    const profile = await this.client.request("profile_set", fields);
    this.mine.value = profile;
    return profile;
  }

  /** Upload an image and make it the avatar; the server makes its own
   * avatar file over it, so the uploaded copy is deleted after. */
  async setAvatar(image: Blob, name: string): Promise<void> {
    // Nothing to resume after a reload: keep no upload URL in localStorage.
    const info = await this.client.upload(image, { name, urlStorage: new MemoryUrlStorage() }).done;
    try {
      const { avatar } = await this.client.request("avatar_set", { file: info.id });
      const mine = this.mine.value;
      if (mine !== undefined) this.mine.value = { ...mine, avatar };
    } finally {
      void this.client.request("file_delete", { file: info.id }).catch(() => undefined);
    }
  }

  async setStatus(choice: PresenceSet): Promise<void> {
    this.setPresence([await this.client.request("presence_set", choice)]);
  }

  search(query: string): Promise<UserCard[]> {
    return this.client.request("search", { query: query.trim(), limit: 20 }).then((r) => r.users);
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

  remove(user: string): Promise<unknown> {
    return this.client.request("friend_remove", { user });
  }

  /** Set a friend's remark (`""` clears it) or category (0: none). */
  async setFriend(user: string, change: { remark?: string; category?: number }): Promise<void> {
    this.keepFriend(await this.client.request("friend_set", { user, ...change }));
  }

  async createCategory(name: string): Promise<Category> {
    const category = await this.client.request("category_create", { name: name.trim() });
    this.keepCategory(category);
    return category;
  }

  async renameCategory(id: number, name: string): Promise<void> {
    this.keepCategory(await this.client.request("category_rename", { id, name: name.trim() }));
  }

  async deleteCategory(id: number): Promise<void> {
    await this.client.request("category_delete", { id });
    this.dropCategory(id);
  }

  async block(user: string): Promise<void> {
    await this.client.request("block", { user });
  }

  async unblock(user: string): Promise<void> {
    await this.client.request("unblock", { user });
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
      this.keepFriend(change.data as Friend);
    } else if (isChange(change, "friend_removed")) {
      const next = new Map(this.friends.value);
      next.delete(change.data.user_id);
      this.friends.value = next;
    } else if (isChange(change, "category_updated")) {
      this.keepCategory(change.data);
    } else if (isChange(change, "category_deleted")) {
      this.dropCategory(change.data.id);
    } else if (isChange(change, "blocked")) {
      this.blocked.value = new Map([...this.blocked.value, [change.data.user_id, change.data]]);
    } else if (isChange(change, "unblocked")) {
      const next = new Map(this.blocked.value);
      next.delete(change.data.user_id);
      this.blocked.value = next;
    } else if (isChange(change, "profile")) {
      const profile = change.data;
      if (profile.user === this.me()) this.mine.value = profile;
      if (this.profiles.value.has(profile.user)) this.keepProfile(profile);
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

  /** Presence states, from pushes or a snapshot (`friends`,
   * `dept_members`): each replaces what is known of its user. */
  setPresence(states: readonly PresenceState[]): void {
    if (states.length === 0) return;
    const next = new Map(this.presence.value);
    for (const state of states) {
      next.set(state.user_id, state);
      if (state.user === this.me()) {
        this.myStatus.value = state;
        writeStorage(this.statusKey(), JSON.stringify(state));
      }
    }
    this.presence.value = next;
  }

  /** A snapshot of others' presence (`dept_members`): the caller's own
   * entry there is as contacts see it, so it is left out. */
  setOthersPresence(states: readonly PresenceState[]): void {
    this.setPresence(states.filter((s) => s.user !== this.me()));
  }

  private statusKey(): string {
    return `magpie.presence.${this.me()}`;
  }

  private keepFriend(friend: Friend): void {
    const next = new Map(this.friends.value);
    next.set(friend.user.user_id, stripPresence(friend));
    this.friends.value = next;
  }

  private keepProfile(profile: Profile): void {
    this.profiles.value = new Map([...this.profiles.value, [profile.user, profile]]);
  }

  private keepCategory(category: Category): void {
    const known = this.categories.value.some((c) => c.id === category.id);
    this.categories.value = known
      ? this.categories.value.map((c) => (c.id === category.id ? category : c))
      : [...this.categories.value, category];
  }

  /** A deleted category's friends are in none, without a change each. */
  private dropCategory(id: number): void {
    this.categories.value = this.categories.value.filter((c) => c.id !== id);
    const next = new Map(this.friends.value);
    for (const [key, friend] of next) {
      if (friend.category === id) {
        const { category: _category, ...rest } = friend;
        next.set(key, rest);
      }
    }
    this.friends.value = next;
  }
}

function parseStatus(stored: string): PresenceState | undefined {
  try {
    const state = JSON.parse(stored) as PresenceState;
    return typeof state.status === "string" ? state : undefined;
  } catch {
    return undefined;
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
