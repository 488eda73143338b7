// Groups as the web client shows them: each group's details and members,
// loaded when its chat opens and reloaded when one of its events arrives
// (every change to a group is an event in its own sequence, so the
// members shown converge like the messages do), and the operations on
// groups.

import { signal } from "@preact/signals";
import type { GroupInfo, GroupMember, MagpieClient } from "magpie-client";

/** Members loaded per group, at most (the default member limit). */
const MOST_MEMBERS = 2000;

/** What a group's chat shows about it. */
export class GroupDetails {
  readonly info = signal<GroupInfo | undefined>(undefined);
  readonly members = signal<readonly GroupMember[]>([]);
  /** conv-local: own seq → how many have read it (from read_receipts). */
  readonly readCounts = signal<ReadonlyMap<number, number>>(new Map());
}

export class Groups {
  private readonly client: MagpieClient;
  private readonly details = new Map<number, GroupDetails>();
  private readonly loading = new Map<number, Promise<void>>();

  constructor(client: MagpieClient) {
    this.client = client;
  }

  /** The details of `conv`, loaded on first use. */
  of(conv: number): GroupDetails {
    let details = this.details.get(conv);
    if (details === undefined) {
      details = new GroupDetails();
      this.details.set(conv, details);
      void this.reload(conv);
    }
    return details;
  }

  /** Reload a group's info and members (after one of its events); one
   * load at a time per group. */
  reload(conv: number): Promise<void> {
    const details = this.details.get(conv);
    if (details === undefined) return Promise.resolve();
    const running = this.loading.get(conv);
    if (running !== undefined) return running;
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
    })()
      .catch(() => undefined)
      .finally(() => this.loading.delete(conv));
    this.loading.set(conv, load);
    return load;
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
    return this.client.request("group_nickname", { conv, nickname });
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
