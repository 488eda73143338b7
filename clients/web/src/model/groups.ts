// Groups as the web client shows them: each group's details and members,
// loaded when its chat opens and reloaded when one of its events arrives
// (every change to a group is an event in its own sequence, so the
// members shown converge like the messages do), and the operations on
// groups. Join requests and their answers come through the change
// stream: the managers' pending list and the applicant's own status
// follow it.

import { computed, signal } from "@preact/signals";
import {
  isChange,
  type Change,
  type GroupFilesOk,
  type GroupInfo,
  type GroupJoinRequest,
  type GroupMember,
  type GroupRole,
  type JoinOutcome,
  type JoinPolicy,
  type MagpieClient,
} from "magpie-client";

/** Members loaded per group, at most (the default member limit). */
const MOST_MEMBERS = 2000;
/** Profiles read for their nickname per session, at most: beyond, a
 * member without a group nickname shows by username. */
const MOST_PROFILES = 500;
/** Longest a timer may wait (setTimeout's limit is about 24.8 days). */
const LONGEST_TIMER_MS = 86_400_000;

/** Why the signed-in user may not send in a group now: muted until a
 * time (ms since the epoch), or everyone but the owner and admins is. */
export type SendBlock = { kind: "muted"; until: number } | { kind: "muted_all" };

/** Where my own request to join a group stands. */
export type MyRequest = "pending" | JoinOutcome;

/** What a group's chat shows about it. */
export class GroupDetails {
  readonly info = signal<GroupInfo | undefined>(undefined);
  readonly members = signal<readonly GroupMember[]>([]);
  /** conv-local: own seq → how many have read it (from read_receipts). */
  readonly readCounts = signal<ReadonlyMap<number, number>>(new Map());
  /** Pending requests to join, for the owner and admins. */
  readonly requests = signal<readonly GroupJoinRequest[]>([]);
  /** Bumped when a mute runs out, so what depends on the time is redone. */
  readonly clock = signal<number>(Date.now());
  private readonly me: () => string;
  private expiry: ReturnType<typeof setTimeout> | undefined;

  constructor(me: () => string) {
    this.me = me;
  }

  /** My own row among the members. */
  readonly mine = computed(() => this.members.value.find((m) => m.user === this.me()));

  /** Why I may not send now, if I may not (the server decides; this is
   * what the composer shows). */
  readonly sendBlock = computed<SendBlock | undefined>(() => {
    const now = this.clock.value;
    const until = this.mine.value?.muted_until ?? 0;
    if (until > now) return { kind: "muted", until };
    const info = this.info.value;
    if (info?.muted_all === true && info.role === "member") return { kind: "muted_all" };
    return undefined;
  });

  /** Whether a member is muted now. */
  isMuted(member: GroupMember): boolean {
    return (member.muted_until ?? 0) > this.clock.value;
  }

  /** Redo the time-dependent state when the next mute among the members
   * runs out. */
  armExpiry(): void {
    clearTimeout(this.expiry);
    const now = Date.now();
    const next = Math.min(...this.members.value.map((m) => m.muted_until ?? 0).filter((until) => until > now));
    if (!Number.isFinite(next)) return;
    this.expiry = setTimeout(
      () => {
        this.clock.value = Date.now();
        this.armExpiry();
      },
      Math.min(next - now + 250, LONGEST_TIMER_MS),
    );
  }
}

export class Groups {
  /** My requests to join groups, by group, as the change stream tells. */
  readonly myRequests = signal<ReadonlyMap<number, MyRequest>>(new Map());
  /** Nicknames from profiles, by username, for members without a group
   * nickname. */
  readonly nicknames = signal<ReadonlyMap<string, string>>(new Map());
  private readonly client: MagpieClient;
  private readonly details = new Map<number, GroupDetails>();
  private readonly loading = new Map<number, Promise<void>>();
  private readonly reloadAgain = new Set<number>();
  private readonly requestLoads = new Map<number, number>();
  private readonly profilesAsked = new Set<string>();

  // The listener goes with the client, which is made anew at each sign-in.
  constructor(client: MagpieClient) {
    this.client = client;
    client.on("change", (change) => this.apply(change));
  }

  /** Reload every group on show: after a reconnect, the change stream
   * continues from its head, so what changed meanwhile (members, roles,
   * join requests) comes from here. */
  async reloadAll(): Promise<void> {
    await Promise.all([...this.details.keys()].map((conv) => this.reload(conv)));
  }

  /** The signed-in user. */
  get me(): string {
    return this.client.session?.user ?? "";
  }

  /** My user id (file owners are named by id). */
  get myId(): number | undefined {
    return this.client.session?.user_id;
  }

  /** The details of `conv`, loaded on first use. */
  of(conv: number): GroupDetails {
    let details = this.details.get(conv);
    if (details === undefined) {
      details = new GroupDetails(() => this.me);
      this.details.set(conv, details);
      void this.reload(conv);
    }
    return details;
  }

  /** Reload a group's info and members (after one of its events); one
   * load at a time per group, and one more after it when asked meanwhile
   * (the running one may have read the group before the event). Its
   * pending requests too, for the owner and admins of a group that takes
   * requests, so their count is known before the panel opens. */
  reload(conv: number): Promise<void> {
    const details = this.details.get(conv);
    if (details === undefined) return Promise.resolve();
    const running = this.loading.get(conv);
    if (running !== undefined) {
      this.reloadAgain.add(conv);
      return running;
    }
    const load = (async () => {
      const info = await this.client.request("group_info", { conv });
      const members: GroupMember[] = [];
      let after: number | undefined;
      do {
        const page = await this.client.request(
          "group_members",
          after === undefined ? { conv, limit: 500 } : { conv, after, limit: 500 },
        );
        members.push(...page.members);
        after = page.next;
      } while (after !== undefined && members.length < MOST_MEMBERS);
      details.info.value = info;
      details.members.value = members;
      details.clock.value = Date.now();
      details.armExpiry();
      if (info.role !== "member" && info.join_policy === "request") void this.loadRequests(conv).catch(() => undefined);
    })()
      .catch(() => undefined)
      .finally(() => {
        this.loading.delete(conv);
        if (this.reloadAgain.delete(conv)) void this.reload(conv);
      });
    this.loading.set(conv, load);
    return load;
  }

  /** How many requests to join `conv` wait for an answer (for its owner
   * and admins). */
  pendingRequests(conv: number): number {
    return this.details.get(conv)?.requests.value.length ?? 0;
  }

  /** Forget a group the user is no longer in. */
  forget(conv: number): void {
    this.details.delete(conv);
  }

  /** "Read by N" for the caller's own messages of a group. */
  async loadReadCounts(conv: number, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    const { counts } = await this.client.request("read_receipts", { conv, seqs: seqs.slice(-100) });
    const details = this.of(conv);
    const next = new Map(details.readCounts.value);
    for (const count of counts) next.set(count.seq, count.read);
    details.readCounts.value = next;
  }

  /** Who has read one of the caller's messages (first page). */
  async readBy(conv: number, seq: number): Promise<{ read: string[]; unread: string[] }> {
    const [read, unread] = await Promise.all([
      this.client.request("read_by", { conv, seq, limit: 200 }),
      this.client.request("read_by", { conv, seq, unread: true, limit: 200 }),
    ]);
    return { read: read.users.map((u) => u.user), unread: unread.users.map((u) => u.user) };
  }

  create(name: string, members: readonly string[]): Promise<GroupInfo> {
    return this.client.request("group_create", { name: name.trim(), members: [...members] });
  }

  invite(conv: number, users: readonly string[]): Promise<unknown> {
    return this.client.request("group_invite", { conv, users: [...users] });
  }

  remove(conv: number, user: string): Promise<unknown> {
    return this.client.request("group_remove", { conv, user });
  }

  leave(conv: number): Promise<unknown> {
    return this.client.request("group_leave", { conv });
  }

  dissolve(conv: number): Promise<unknown> {
    return this.client.request("group_dissolve", { conv });
  }

  setAnnouncement(conv: number, announcement: string): Promise<unknown> {
    return this.client.request("group_set", { conv, announcement });
  }

  setNickname(conv: number, nickname: string): Promise<unknown> {
    return this.client.request("group_nickname", { conv, nickname: nickname.trim() });
  }

  setRole(conv: number, user: string, role: Exclude<GroupRole, "owner">): Promise<unknown> {
    return this.client.request("group_role", { conv, user, role });
  }

  transfer(conv: number, user: string): Promise<unknown> {
    return this.client.request("group_transfer", { conv, user });
  }

  /** Mute a member for `seconds` (up to 30 days); 0 lifts it. */
  mute(conv: number, user: string, seconds: number): Promise<unknown> {
    return this.client.request("group_mute", { conv, user, seconds });
  }

  muteAll(conv: number, on: boolean): Promise<unknown> {
    return this.client.request("group_mute_all", { conv, on });
  }

  setJoinPolicy(conv: number, policy: JoinPolicy): Promise<unknown> {
    return this.client.request("group_set", { conv, join_policy: policy });
  }

  // ---- composer ----

  /** Why I may not send in `conv` now, if I may not; undefined for a
   * group not loaded yet or not a group. */
  sendBlock(conv: number): SendBlock | undefined {
    return this.details.get(conv)?.sendBlock.value;
  }

  /** Until when I am muted in `conv` (ms since the epoch), if I am. */
  mutedUntil(conv: number): number | undefined {
    const block = this.sendBlock(conv);
    return block?.kind === "muted" ? block.until : undefined;
  }

  /** Whether I may send in `conv` as far as this device knows. */
  canSend(conv: number): boolean {
    return this.sendBlock(conv) === undefined;
  }

  // ---- names ----

  /** How a member is shown in a group: their group nickname, else their
   * nickname, else their username. Reads the profile once for a member
   * with no group nickname. */
  memberName(conv: number, user: string): string {
    const member = this.details.get(conv)?.members.value.find((m) => m.user === user);
    if (member !== undefined && member.nickname !== "") return member.nickname;
    const nickname = this.nicknames.value.get(user);
    if (nickname === undefined) this.askProfile(user);
    return nickname || user;
  }

  private askProfile(user: string): void {
    if (this.profilesAsked.has(user) || this.profilesAsked.size >= MOST_PROFILES) return;
    this.profilesAsked.add(user);
    this.client.request("profile", { user }).then(
      (profile) => this.rememberNickname(user, profile.nickname),
      () => undefined,
    );
  }

  private rememberNickname(user: string, nickname: string): void {
    if (this.nicknames.value.get(user) === nickname) return;
    const next = new Map(this.nicknames.value);
    next.set(user, nickname);
    this.nicknames.value = next;
  }

  // ---- joining ----

  /** A group's profile, to decide whether to join it (members, and anyone
   * for a group that is open or takes requests). */
  lookUp(conv: number): Promise<GroupInfo> {
    return this.client.request("group_info", { conv });
  }

  /** Join an open group, or ask to join one that takes requests: true
   * when a request was filed. */
  async join(conv: number, note: string): Promise<boolean> {
    const trimmed = note.trim();
    const answer = await this.client.request("group_join", trimmed === "" ? { conv } : { conv, note: trimmed });
    if (answer.requested === true) this.setMyRequest(conv, "pending");
    return answer.requested === true;
  }

  /** The pending requests of a group I manage (every page); reloaded if a
   * request came or went meanwhile, so the list is never behind. */
  async loadRequests(conv: number): Promise<void> {
    const details = this.of(conv);
    for (;;) {
      const version = this.requestLoads.get(conv) ?? 0;
      const requests: GroupJoinRequest[] = [];
      let after: number | undefined;
      do {
        const page = await this.client.request(
          "group_requests",
          after === undefined ? { conv, limit: 500 } : { conv, after, limit: 500 },
        );
        requests.push(...page.requests);
        after = page.next;
      } while (after !== undefined);
      if ((this.requestLoads.get(conv) ?? 0) !== version) continue;
      details.requests.value = requests;
      return;
    }
  }

  approve(conv: number, user: string): Promise<unknown> {
    return this.client.request("group_approve", { conv, user });
  }

  reject(conv: number, user: string): Promise<unknown> {
    return this.client.request("group_reject", { conv, user });
  }

  // ---- files ----

  /** One page of a group's files, newest first. */
  files(conv: number, before?: number): Promise<GroupFilesOk> {
    return this.client.request("group_files", before === undefined ? { conv, limit: 20 } : { conv, before, limit: 20 });
  }

  deleteFile(conv: number, file: string): Promise<unknown> {
    return this.client.request("group_file_delete", { conv, file });
  }

  // ---- the change stream ----

  private apply(change: Change): void {
    if (isChange(change, "group_request")) {
      const request = change.data;
      if (request.user === this.me) this.setMyRequest(request.conv, "pending");
      else this.updateRequests(request.conv, (list) => [...list.filter((r) => r.user_id !== request.user_id), request]);
    } else if (isChange(change, "group_request_closed")) {
      const closed = change.data;
      if (closed.user === this.me) this.setMyRequest(closed.conv, closed.outcome);
      else this.updateRequests(closed.conv, (list) => list.filter((r) => r.user_id !== closed.user_id));
    } else if (isChange(change, "profile")) {
      this.rememberNickname(change.data.user, change.data.nickname);
    }
  }

  private updateRequests(
    conv: number,
    change: (list: readonly GroupJoinRequest[]) => readonly GroupJoinRequest[],
  ): void {
    this.requestLoads.set(conv, (this.requestLoads.get(conv) ?? 0) + 1);
    const details = this.details.get(conv);
    if (details !== undefined) details.requests.value = change(details.requests.value);
  }

  private setMyRequest(conv: number, status: MyRequest): void {
    const next = new Map(this.myRequests.value);
    next.set(conv, status);
    this.myRequests.value = next;
  }
}

/** Usernames typed as a list: separated by commas, spaces or 、. */
export function parseUsers(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,，、;；]+/u)
        .map((u) => u.trim().replace(/^@/u, "").toLowerCase())
        .filter((u) => u !== ""),
    ),
  ];
}
