// The company directory as the web client shows it: the department tree,
// which departments are open, and the members of each open one (paged).
// It follows PROTOCOL.md 10.10: keep the version of the last tree loaded,
// reload (the tree, then the members on show) when a `directory` push or
// a catch-up's `directory_version` is newer, one reload at a time; and on
// `resync` reload too, since the members' presence is a snapshot (10.9).
// Members' presence goes into People's map, where pushes keep it.

import { signal } from "@preact/signals";
import type { Department, DeptMember, MagpieClient } from "magpie-client";
import type { Chats } from "./chats";
import type { People } from "./people";

/** The members of one open department. */
export interface DeptPage {
  members: readonly DeptMember[];
  /** Present when more follow. */
  next?: number;
  loading: boolean;
  error?: string;
}

const PAGE = 100;

export class Directory {
  readonly departments = signal<readonly Department[] | undefined>(undefined);
  readonly open = signal<ReadonlySet<number>>(new Set());
  readonly pages = signal<ReadonlyMap<number, DeptPage>>(new Map());
  readonly error = signal<string | undefined>(undefined);
  private version = -1;
  private reloading = false;
  private again = false;
  private readonly client: MagpieClient;
  private readonly people: People;

  constructor(client: MagpieClient, people: People) {
    this.client = client;
    this.people = people;
    client.on("directory", ({ version }) => {
      if (version > this.version) void this.reload();
    });
    client.on("caughtUp", ({ directory_version }) => {
      if (directory_version > this.version) void this.reload();
    });
    client.on("resync", () => void this.reload());
  }

  /** The tree and the open departments' members, again; one run at a
   * time, run once more if asked meanwhile. */
  async reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.reloading = true;
    try {
      do {
        this.again = false;
        const tree = await this.client.request("directory");
        this.version = tree.version;
        this.departments.value = tree.departments;
        const known = new Set(tree.departments.map((d) => d.id));
        this.open.value = new Set([...this.open.value].filter((id) => known.has(id)));
        this.pages.value = new Map([...this.pages.value].filter(([id]) => known.has(id)));
        await Promise.all([...this.open.value].map((id) => this.loadMembers(id, true)));
      } while (this.again);
      this.error.value = undefined;
    } catch (caught) {
      this.error.value = (caught as { code?: string }).code ?? "internal";
    } finally {
      this.reloading = false;
    }
  }

  /** Open or close a department; opening loads its members afresh (the
   * presence of another department is a snapshot, 10.9). */
  toggle(id: number): void {
    const next = new Set(this.open.value);
    if (next.delete(id)) {
      this.open.value = next;
      return;
    }
    next.add(id);
    this.open.value = next;
    void this.loadMembers(id, true);
  }

  /** The first page again (`fresh`), or the page after those loaded. */
  async loadMembers(dept: number, fresh: boolean): Promise<void> {
    const held = this.pages.value.get(dept);
    const after = fresh ? undefined : held?.next;
    if (!fresh && after === undefined) return;
    this.setPage(dept, { members: fresh ? [] : (held?.members ?? []), loading: true });
    try {
      const page = await this.client.request(
        "dept_members",
        after === undefined ? { dept, limit: PAGE } : { dept, after, limit: PAGE },
      );
      const members = [...(fresh ? [] : (held?.members ?? [])), ...page.members];
      this.people.setOthersPresence(page.members.map((m) => m.presence));
      this.setPage(
        dept,
        page.next === undefined ? { members, loading: false } : { members, next: page.next, loading: false },
      );
    } catch (caught) {
      this.setPage(dept, {
        members: held?.members ?? [],
        loading: false,
        error: (caught as { code?: string }).code ?? "internal",
      });
    }
  }

  private setPage(dept: number, page: DeptPage): void {
    this.pages.value = new Map([...this.pages.value, [dept, page]]);
  }
}

const all = new WeakMap<Chats, Directory>();

/** The directory of a signed-in user's session, made (and first loaded)
 * when first shown. */
export function directoryOf(chats: Chats): Directory {
  let directory = all.get(chats);
  if (directory === undefined) {
    directory = new Directory(chats.client, chats.people);
    all.set(chats, directory);
    void directory.reload();
  }
  return directory;
}
