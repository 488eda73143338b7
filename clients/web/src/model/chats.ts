// The chats of the signed-in user, as signals the views render: the
// conversation list, the messages of each open conversation, messages
// still in the outbox, typing notices and read receipts.
//
// Everything flows from the client's events, which are exactly once and
// in order (PROTOCOL.md section 10): this file only turns them into state
// and keeps the local cache in step. It never decides what was delivered.

import { batch, computed, signal, type Signal } from "@preact/signals";
import {
  isChange,
  applyAmend,
  applyToQuote,
  QUIET_KINDS,
  type ConvCursor,
  type Conversation,
  type FileKind,
  type LastMessage,
  type MagpieClient,
  type Message,
  MagpieError,
  type ConvSet,
  type ConvSettings,
  type MessageSearchOk,
  newCmid,
  type OutboxEntry,
  type SendOk,
} from "magpie-client";
import type { Cache, Snapshot } from "./cache";
import { Groups } from "./groups";
import { People } from "./people";

/** Rows of the list loaded on a fresh device, at most (the list pages
 * further on demand later; the newest matter). */
const FIRST_LIST_ROWS = 1000;
const PAGE = 50;
/** A search hit at most this far above the loaded messages is reached by
 * loading every page between; farther, its stretch is shown alone. */
const JUMP_FILL = 2000;
/** Save a draft this long after the last keystroke (PROTOCOL.md: save on a
 * pause, not per keystroke). */
const DRAFT_PAUSE_MS = 1500;
/** Send a typing notice at most this often while the user types. */
const TYPING_EVERY_MS = 3000;
/** A forward takes at most this many messages and destinations (PROTOCOL.md forward). */
export const FORWARD_MAX_MESSAGES = 100;
export const FORWARD_MAX_DESTINATIONS = 10;

/** Messages about to be forwarded: one copy each, or one chat record
 * (`merge`). The `cmid` is made once, so sending again after a lost answer
 * stores nothing twice. */
export interface ForwardRequest {
  conv: number;
  seqs: readonly number[];
  merge: boolean;
  cmid: string;
}

/** Whether a message can be forwarded: a message that is still there,
 * not a group event or an amending entry. */
export function isForwardable(message: Message): boolean {
  return message.recalled === undefined && message.kind !== "event" && !QUIET_KINDS.has(message.kind);
}

/** One conversation's loaded messages, ascending by seq. */
export class Thread {
  readonly messages = signal<Message[]>([]);
  /** Whether older messages exist on the server than the first loaded. */
  readonly olderExists = signal<boolean>(true);
  readonly loading = signal<boolean>(false);
  /** Whether the newest messages are loaded (from history or the cache). */
  loaded = false;
  /** Showing an older stretch only (a search hit far back): live messages
   * are not added until the reader returns to the latest. */
  readonly detached = signal<boolean>(false);
}

export class Chats {
  readonly me: string;
  /** The list, by conversation id. */
  readonly rows = signal<ReadonlyMap<number, Conversation>>(new Map());
  /** The list in display order: pinned first, then most recent. */
  readonly list = computed(() => sortRows([...this.rows.value.values()]));
  /** The open conversation, or a user to start one with. */
  readonly open = signal<{ conv: number } | { peer: string } | undefined>(undefined);
  /** Messages sent from this device not yet acked, or refused. */
  readonly outgoing = signal<readonly OutboxEntry[]>([]);
  /** conv → username → when the notice expires (ms). */
  readonly typing = signal<ReadonlyMap<number, ReadonlyMap<string, number>>>(new Map());
  /** 1:1 conv → how far the peer has read. */
  readonly peerRead = signal<ReadonlyMap<number, number>>(new Map());
  /** Friends, requests and presence. */
  readonly people: People;
  /** Details and members of the groups on show. */
  readonly groups: Groups;
  /** The message the composer answers, or edits, if any. */
  readonly composing = signal<{ mode: "reply" | "edit"; message: Message } | undefined>(undefined);
  /** The message to bring into view and mark (a search hit opened). */
  readonly focus = signal<{ conv: number; seq: number } | undefined>(undefined);
  /** A refusal to show briefly (an error code). */
  readonly problem = signal<string | undefined>(undefined);
  /** Whether the first catch-up after sign-in has finished. */
  readonly ready = signal<boolean>(false);
  /** Selection mode: the messages ticked in one conversation. */
  readonly selection = signal<{ conv: number; seqs: ReadonlySet<number> } | undefined>(undefined);
  /** What the forward dialog is forwarding, while it is open. */
  readonly forwarding = signal<ForwardRequest | undefined>(undefined);

  readonly client: MagpieClient;
  private readonly cache: Cache;
  private readonly threads = new Map<number, Thread>();
  private readonly stops: (() => void)[] = [];
  private listRefresh: Promise<void> | undefined;
  private typingSentAt = new Map<number, number>();
  private draftTimer: ReturnType<typeof setTimeout> | undefined;
  private typingTimer: ReturnType<typeof setInterval>;

  constructor(client: MagpieClient, me: string, cache: Cache, snapshot: Snapshot) {
    this.client = client;
    this.me = me;
    this.cache = cache;
    this.rows.value = new Map(snapshot.convs.map((row) => [row.conv, row]));
    this.outgoing.value = [];
    this.people = new People(client, () => this.me);
    this.groups = new Groups(client);
    this.stops.push(
      client.on("session", (session) => {
        // The username as stored (lower-case), should the cache key differ.
        (this as { me: string }).me = session.user;
      }),
      client.on("entries", ({ entries }) => this.onEntries(entries)),
      client.on("outbox", (entry) => this.onOutbox(entry)),
      client.on("caughtUp", () => {
        this.ready.value = true;
        void this.cache.putChangeCursor(client.changeCursor.position);
      }),
      client.on("change", (change) => {
        void this.cache.putChangeCursor(change.seq);
        if (isChange(change, "group_left")) this.dropConversation(change.data.conv);
        else if (isChange(change, "conv_settings")) this.applySettings(change.data);
        else if (change.kind === "group_joined") void this.refreshList();
      }),
      client.on("read", (mark) => this.onRead(mark.conv, mark.read_seq)),
      client.on("receipt", (receipt) => this.onReceipt(receipt.conv, receipt.read_seq)),
      client.on("typing", (notice) => this.onTyping(notice.conv, notice.user, notice.active, notice.ttl_ms)),
    );
    this.typingTimer = setInterval(() => this.pruneTyping(), 1000);
  }

  dispose(): void {
    this.people.dispose();
    for (const stop of this.stops) stop();
    clearInterval(this.typingTimer);
  }

  /** Rows from the cache, shown before the network answers. */
  openFromCache(rows: readonly Conversation[]): void {
    if (this.rows.value.size === 0) this.rows.value = new Map(rows.map((row) => [row.conv, row]));
  }

  /**
   * After every sign-in or resume, before the catch-up: reload the list
   * (its unread counts are authoritative), and on a fresh device start
   * each conversation at its newest seq and the change stream at its head,
   * so nothing old is replayed (recent history is loaded when a
   * conversation opens).
   */
  async prepare(client: MagpieClient): Promise<void> {
    // The head first, then the snapshots it may lag (10.8): changes made
    // meanwhile are applied again, which is harmless.
    const { head } = await client.request("changes", { after: 0, limit: 1 });
    const fresh = client.sync.isEmpty;
    const [rows] = await Promise.all([
      this.loadList(client, fresh ? FIRST_LIST_ROWS : 200),
      this.people.load(),
      this.groups.reloadAll(),
      ...[...this.snapshots].map((load) => load().catch(() => undefined)),
    ]);
    if (head > client.changeCursor.position) client.changeCursor.position = head;
    if (fresh) {
      for (const row of rows) client.sync.seed(row.conv, row.max_seq);
      await this.cache.putMessages([], client.sync.cursors());
    }
  }

  /** Snapshot loaders of areas made on first use (the drive): run with
   * the others at every sign-in and reconnect, since the change stream
   * then continues from its head. */
  private readonly snapshots = new Set<() => Promise<void>>();

  /** Have `load` run at every sign-in and reconnect, before the change
   * stream continues. */
  onSnapshot(load: () => Promise<void>): void {
    this.snapshots.add(load);
  }

  /** The thread of `conv`, created empty on first use. */
  thread(conv: number): Thread {
    let thread = this.threads.get(conv);
    if (thread === undefined) {
      thread = new Thread();
      this.threads.set(conv, thread);
    }
    return thread;
  }

  /** Open a conversation: show the cached messages, then the newest page. */
  async select(conv: number): Promise<void> {
    this.open.value = { conv };
    if (this.selection.value?.conv !== conv) this.selection.value = undefined;
    const thread = this.thread(conv);
    if (!thread.loaded) {
      thread.loaded = true;
      const cached = await this.cache.messages(conv);
      if (cached.length > 0) this.merge(thread, cached);
      await this.loadPage(conv, undefined);
    }
    this.markRead(conv);
    void this.loadReceipts(conv);
  }

  /** Change my settings of a conversation (pin, mute, mark unread, hide,
   * draft); every device applies the same change from the stream. */
  setting(conv: number, change: Omit<ConvSet, "conv">): void {
    this.client.request("conv_set", { conv, ...change }).then(
      (settings) => this.applySettings(settings),
      (error: unknown) => {
        this.problem.value = error instanceof MagpieError ? error.code : "internal";
        setTimeout(() => (this.problem.value = undefined), 5000);
      },
    );
  }

  /** Keep the composer's text as the draft after a pause in typing. */
  saveDraft(conv: number, text: string): void {
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => {
      const row = this.rows.value.get(conv);
      if (row !== undefined && (row.draft ?? "") !== text) this.setting(conv, { draft: text });
    }, DRAFT_PAUSE_MS);
  }

  private applySettings(settings: ConvSettings): void {
    const row = this.rows.value.get(settings.conv);
    if (row === undefined) return;
    if (settings.hidden_seq > 0 && (row.last?.seq ?? 0) <= settings.hidden_seq) {
      const rows = new Map(this.rows.value);
      rows.delete(settings.conv);
      this.rows.value = rows;
      const open = this.open.value;
      if (open !== undefined && "conv" in open && open.conv === settings.conv) this.open.value = undefined;
      return;
    }
    this.updateRow(settings.conv, (r) => {
      const next: Conversation = { ...r, pinned: settings.pinned, marked_unread: settings.marked_unread };
      if (settings.muted_until !== 0) next.muted_until = settings.muted_until;
      else delete next.muted_until;
      if (settings.draft !== "") next.draft = settings.draft;
      else delete next.draft;
      return next;
    });
  }

  /** One page of message search results, newest first. */
  search(query: string, before?: number): Promise<MessageSearchOk> {
    return this.client.request(
      "message_search",
      before === undefined ? { query, limit: 20 } : { query, before, limit: 20 },
    );
  }

  /** Open a conversation at one message, with the messages around it.
   * The loaded messages stay one contiguous run: the pages between are
   * loaded too when the hit is near, else the thread shows the hit's
   * stretch alone until the reader returns to the latest. */
  async jumpTo(conv: number, seq: number): Promise<void> {
    await this.select(conv);
    const thread = this.thread(conv);
    const oldest = thread.messages.value[0]?.seq;
    try {
      if (oldest !== undefined && seq < oldest && oldest - seq <= JUMP_FILL) {
        let before = oldest;
        while (before > seq - 25) {
          const page = await this.client.request("history", { conv, before, limit: 500 });
          this.merge(
            thread,
            page.messages.filter((m) => !QUIET_KINDS.has(m.kind)),
          );
          thread.olderExists.value = page.more;
          const first = page.messages[0];
          if (!page.more || first === undefined) break;
          before = first.seq;
        }
      } else if (oldest === undefined || seq < oldest) {
        const page = await this.client.request("history", { conv, before: seq + 25, limit: 50 });
        thread.messages.value = page.messages.filter((m) => !QUIET_KINDS.has(m.kind));
        thread.olderExists.value = page.more;
        thread.detached.value = true;
      }
    } catch {
      // Offline: open the conversation where it is.
    }
    this.focus.value = { conv, seq };
  }

  /** Back from an older stretch to the newest messages. */
  async toLatest(conv: number): Promise<void> {
    const thread = this.thread(conv);
    thread.detached.value = false;
    thread.messages.value = [];
    thread.loaded = false;
    this.focus.value = undefined;
    await this.select(conv);
  }

  /** Open a group just made or joined (its row may not be listed yet). */
  async openGroup(conv: number): Promise<void> {
    if (!this.rows.value.has(conv)) await this.refreshList();
    await this.select(conv);
  }

  /** Open a chat with a user by name: their conversation if there is one. */
  startWith(peer: string): void {
    const name = peer.trim().toLowerCase();
    const row = [...this.rows.value.values()].find((r) => r.kind === "direct" && r.peer === name);
    if (row !== undefined) void this.select(row.conv);
    else this.open.value = { peer: name };
  }

  /** Load the page before the oldest loaded message. */
  async loadOlder(conv: number): Promise<void> {
    const thread = this.thread(conv);
    if (thread.loading.value || !thread.olderExists.value) return;
    const first = thread.messages.value[0];
    await this.loadPage(conv, first?.seq);
  }

  /** Send text to the open conversation (or start one with a user), or
   * finish the reply or edit the composer is in. */
  send(target: { conv: number } | { peer: string }, body: string, file?: { kind: FileKind; file: string }): void {
    const composing = this.composing.value;
    this.composing.value = undefined;
    if (composing?.mode === "edit" && "conv" in target && file === undefined) {
      this.amend(this.client.amend("edit", { conv: target.conv, seq: composing.message.seq, body }));
      return;
    }
    const mentions = "conv" in target ? this.mentionsIn(target.conv, body) : { names: [], all: false };
    const args =
      "conv" in target
        ? {
            conv: target.conv,
            body,
            ...(composing?.mode === "reply" ? { reply: composing.message.seq } : {}),
            ...(mentions.names.length > 0 ? { mentions: mentions.names } : {}),
            ...(mentions.all ? { mention_all: true } : {}),
          }
        : { to: target.peer, body };
    const { acked } = this.client.send(file !== undefined ? { ...args, ...file } : args);
    if ("conv" in target) {
      this.stopTyping(target.conv);
      if (file === undefined) {
        clearTimeout(this.draftTimer);
        if ((this.rows.value.get(target.conv)?.draft ?? "") !== "") this.setting(target.conv, { draft: "" });
      }
    }
    if ("peer" in target) {
      // A refusal shows on the pending message (failed, with retry).
      acked.then(
        (ack: SendOk) => {
          const open = this.open.value;
          if (open !== undefined && "peer" in open && open.peer === target.peer) void this.select(ack.conv);
        },
        () => undefined,
      );
    }
  }

  /** The members a group message mentions: `@username` of a member (at
   * most 50), and `@all` from an owner or admin. */
  private mentionsIn(conv: number, body: string): { names: string[]; all: boolean } {
    if (this.rows.value.get(conv)?.kind !== "group") return { names: [], all: false };
    const details = this.groups.of(conv);
    const members = new Set(details.members.value.map((m) => m.user));
    const names = new Set<string>();
    let all = false;
    for (const match of body.matchAll(/(?:^|\s)@([a-z0-9_.-]{1,32})/giu)) {
      const name = (match[1] ?? "").toLowerCase();
      if (name === "all" && details.info.value?.role !== "member") all = true;
      else if (members.has(name) && name !== this.me) names.add(name);
    }
    return { names: [...names].slice(0, 50), all };
  }

  recall(message: Message): void {
    this.amend(this.client.amend("recall", { conv: message.conv, seq: message.seq }));
  }

  react(message: Message, emoji: string): void {
    const mine = message.reactions?.some((r) => r.emoji === emoji && r.mine === true) === true;
    this.amend(
      this.client.amend("react", { conv: message.conv, seq: message.seq, emoji, ...(mine ? { remove: true } : {}) }),
    );
  }

  private amend(done: Promise<unknown>): void {
    done.catch((error: unknown) => {
      this.problem.value = error instanceof Error && "code" in error ? String(error.code) : "internal";
      setTimeout(() => (this.problem.value = undefined), 5000);
    });
  }

  /** Enter selection mode with one message ticked. */
  startSelection(message: Message): void {
    this.selection.value = { conv: message.conv, seqs: new Set([message.seq]) };
  }

  /** Tick or untick a message (at most as many as one forward takes). */
  toggleSelected(seq: number): void {
    const selection = this.selection.value;
    if (selection === undefined) return;
    const seqs = new Set(selection.seqs);
    if (seqs.has(seq)) seqs.delete(seq);
    else if (seqs.size < FORWARD_MAX_MESSAGES) seqs.add(seq);
    this.selection.value = { conv: selection.conv, seqs };
  }

  endSelection(): void {
    this.selection.value = undefined;
  }

  /** Open the forward dialog for messages of one conversation. */
  openForward(conv: number, seqs: Iterable<number>, merge: boolean): void {
    const sorted = [...seqs].sort((a, b) => a - b).slice(0, FORWARD_MAX_MESSAGES);
    if (sorted.length === 0) return;
    this.forwarding.value = { conv, seqs: sorted, merge, cmid: newCmid() };
  }

  /**
   * Forward to the conversations picked; the optional comment follows as
   * an ordinary message in each (the protocol's forward carries none).
   * Rejects with the server's refusal, leaving the dialog open to retry.
   */
  async forward(request: ForwardRequest, to: readonly number[], comment: string): Promise<void> {
    await this.client.forward({
      conv: request.conv,
      seqs: [...request.seqs],
      to_convs: [...to],
      merge: request.merge,
      cmid: request.cmid,
    });
    if (comment.trim() !== "") for (const conv of to) this.client.send({ conv, body: comment });
    batch(() => {
      this.forwarding.value = undefined;
      this.selection.value = undefined;
    });
  }

  retry(cmid: string): void {
    this.client.retrySend(cmid);
  }

  discard(cmid: string): void {
    this.client.discardSend(cmid);
    this.outgoing.value = this.outgoing.value.filter((e) => e.cmid !== cmid);
  }

  /** Mark everything in `conv` read (when it is on screen). */
  markRead(conv: number): void {
    const row = this.rows.value.get(conv);
    if (row === undefined || (row.read_seq >= row.max_seq && row.marked_unread !== true)) return;
    this.updateRow(conv, (r) => ({ ...r, read_seq: r.max_seq, unread: 0, mentioned: false, marked_unread: false }));
    this.client.request("read", { conv, seq: row.max_seq }).catch(() => {
      // Offline: the next open marks it read again.
    });
  }

  /** The user typed in `conv`: tell the others, at most every few seconds. */
  typed(conv: number, text: string): void {
    const last = this.typingSentAt.get(conv) ?? 0;
    if (text === "") {
      this.stopTyping(conv);
      return;
    }
    if (Date.now() - last < TYPING_EVERY_MS) return;
    this.typingSentAt.set(conv, Date.now());
    this.client.request("typing", { conv, active: true }).catch(() => undefined);
  }

  private stopTyping(conv: number): void {
    if (!this.typingSentAt.has(conv)) return;
    this.typingSentAt.delete(conv);
    this.client.request("typing", { conv, active: false }).catch(() => undefined);
  }

  // ---- loading ----

  private async loadList(client: MagpieClient, most: number): Promise<Conversation[]> {
    const rows: Conversation[] = [];
    let next: ConvCursor | undefined;
    do {
      const page = await client.request(
        "conversations",
        next === undefined ? { limit: 200 } : { after: next, limit: 200 },
      );
      rows.push(...page.conversations);
      next = page.next;
    } while (next !== undefined && rows.length < most);
    this.rows.value = mergeRows(this.rows.value, rows);
    void this.cache.putConvs(rows);
    return rows;
  }

  /** Reload the first page of the list (a new conversation appeared, or a
   * setting changed on another device); one at a time. */
  private refreshList(): Promise<void> {
    this.listRefresh ??= this.loadList(this.client, 200)
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => {
        this.listRefresh = undefined;
      });
    return this.listRefresh;
  }

  private async loadPage(conv: number, before: number | undefined): Promise<void> {
    const thread = this.thread(conv);
    thread.loading.value = true;
    try {
      const page = await this.client.request(
        "history",
        before === undefined ? { conv, limit: PAGE } : { conv, before, limit: PAGE },
      );
      batch(() => {
        this.merge(
          thread,
          page.messages.filter((m) => !QUIET_KINDS.has(m.kind)),
        );
        if (before !== undefined || thread.messages.value.length <= page.messages.length) {
          thread.olderExists.value = page.more;
        }
      });
    } catch {
      // Offline: what the cache holds stays on screen.
    } finally {
      thread.loading.value = false;
    }
  }

  private async loadReceipts(conv: number): Promise<void> {
    const row = this.rows.value.get(conv);
    const mine = this.thread(conv)
      .messages.value.filter((m) => m.from === this.me && m.kind !== "event")
      .slice(-100)
      .map((m) => m.seq);
    if (mine.length === 0) return;
    if (row?.kind === "group") {
      await this.groups.loadReadCounts(conv, mine).catch(() => undefined);
      return;
    }
    if (row?.kind !== "direct") return;
    try {
      const { counts } = await this.client.request("read_receipts", { conv, seqs: mine });
      const read = counts.filter((c) => c.read > 0).map((c) => c.seq);
      if (read.length > 0) this.onReceipt(conv, Math.max(...read));
    } catch {
      // Receipts are a nicety: the next receipt push sets them.
    }
  }

  /** Put messages into a thread by seq, replacing ones already there. */
  private merge(thread: Thread, incoming: readonly Message[]): void {
    const bySeq = new Map(thread.messages.value.map((m) => [m.seq, m]));
    for (const message of incoming) bySeq.set(message.seq, message);
    thread.messages.value = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  // ---- events ----

  private onEntries(entries: readonly Message[]): void {
    batch(() => {
      for (const entry of entries) {
        if (QUIET_KINDS.has(entry.kind)) this.applyQuiet(entry);
        else this.applyMessage(entry);
      }
    });
    void this.cache.putMessages(
      entries.filter((m) => !QUIET_KINDS.has(m.kind)),
      this.client.sync.cursors(),
    );
  }

  /** A group the user left, was removed from, or that was dissolved. */
  private dropConversation(conv: number): void {
    const rows = new Map(this.rows.value);
    if (!rows.delete(conv)) return;
    this.rows.value = rows;
    this.threads.delete(conv);
    this.groups.forget(conv);
    const open = this.open.value;
    if (open !== undefined && "conv" in open && open.conv === conv) this.open.value = undefined;
    void this.cache.dropConv(conv);
  }

  private applyMessage(message: Message): void {
    if (message.kind === "event") void this.groups.reload(message.conv);
    const thread = this.threads.get(message.conv);
    if (thread !== undefined && thread.loaded && !thread.detached.value) this.merge(thread, [message]);
    this.clearTyping(message.conv, message.from);
    const row = this.rows.value.get(message.conv);
    if (row === undefined) {
      void this.refreshList();
      return;
    }
    const mine = message.from === this.me;
    const open = this.open.value;
    const onScreen =
      open !== undefined && "conv" in open && open.conv === message.conv && document.visibilityState === "visible";
    const mentionsMe = message.mention_all === true || (message.mentions ?? []).includes(this.me);
    this.updateRow(message.conv, (r) => {
      const next: Conversation = {
        ...r,
        last: lastOf(message),
        active_ts: Math.max(r.active_ts, message.ts),
        max_seq: Math.max(r.max_seq, message.seq),
      };
      if (mine) {
        next.read_seq = Math.max(r.read_seq, message.seq);
        next.unread = 0;
      } else if (message.seq > r.read_seq) {
        next.unread = r.unread + 1;
        if (mentionsMe) next.mentioned = true;
      }
      return next;
    });
    if (onScreen && !mine) this.markRead(message.conv);
    else if (!mine && document.visibilityState === "hidden") this.notify(message);
  }

  /** A browser notification for a message that arrives while the tab is
   * hidden, unless the conversation is muted or permission was not given. */
  private notify(message: Message): void {
    const row = this.rows.value.get(message.conv);
    if (row === undefined || typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const until = row.muted_until ?? 0;
    if (until === -1 || until > Date.now()) return;
    const title = row.kind === "group" ? (row.name ?? "") : message.from;
    const text = message.kind === "text" ? message.body : `[${message.kind}]`;
    const body = row.kind === "group" ? `${message.from}: ${text}` : text;
    try {
      const notification = new Notification(title, { body: [...body].slice(0, 120).join(""), tag: `conv-${row.conv}` });
      notification.onclick = () => {
        window.focus();
        void this.select(row.conv);
      };
    } catch {
      // Some browsers allow notifications only from a service worker.
    }
  }

  private applyQuiet(entry: Message): void {
    const thread = this.threads.get(entry.conv);
    if (thread !== undefined) {
      const before = thread.messages.value;
      const after = before.map((m) => applyToQuote(applyAmend(m, entry, this.me), entry));
      if (after.some((m, i) => m !== before[i])) {
        thread.messages.value = after;
        const target = after.find((m) => m.seq === entry.target);
        if (target !== undefined) void this.cache.putMessage(target);
      }
    }
    const row = this.rows.value.get(entry.conv);
    if (row?.last != null && row.last.seq === entry.target) {
      if (entry.kind === "recall") {
        this.updateRow(entry.conv, (r) => ({
          ...r,
          last: r.last && { ...r.last, excerpt: "", truncated: false, recalled: true },
        }));
      } else if (entry.kind === "edit") {
        this.updateRow(entry.conv, (r) => ({ ...r, last: r.last && { ...r.last, ...excerptOf(entry.body) } }));
      }
    }
  }

  private onOutbox(entry: OutboxEntry): void {
    const others = this.outgoing.value.filter((e) => e.cmid !== entry.cmid);
    this.outgoing.value = entry.status === "sent" ? others : [...others, entry];
  }

  private onRead(conv: number, readSeq: number): void {
    this.updateRow(conv, (r) => {
      if (readSeq <= r.read_seq) return r;
      const unread = readSeq >= r.max_seq ? 0 : Math.min(r.unread, r.max_seq - readSeq);
      return { ...r, read_seq: readSeq, unread, mentioned: unread > 0 ? r.mentioned : false };
    });
  }

  private onReceipt(conv: number, readSeq: number): void {
    const current = this.peerRead.value.get(conv) ?? 0;
    if (readSeq <= current) return;
    const next = new Map(this.peerRead.value);
    next.set(conv, readSeq);
    this.peerRead.value = next;
  }

  private onTyping(conv: number, user: string, active: boolean, ttlMs: number): void {
    const next = new Map(this.typing.value);
    const users = new Map(next.get(conv) ?? []);
    if (active) users.set(user, Date.now() + ttlMs);
    else users.delete(user);
    if (users.size === 0) next.delete(conv);
    else next.set(conv, users);
    this.typing.value = next;
  }

  private clearTyping(conv: number, user: string): void {
    if (this.typing.value.get(conv)?.has(user) === true) this.onTyping(conv, user, false, 0);
  }

  private pruneTyping(): void {
    const now = Date.now();
    let changed = false;
    const next = new Map<number, ReadonlyMap<string, number>>();
    for (const [conv, users] of this.typing.value) {
      const live = new Map([...users].filter(([, until]) => until > now));
      if (live.size !== users.size) changed = true;
      if (live.size > 0) next.set(conv, live);
    }
    if (changed) this.typing.value = next;
  }

  private updateRow(conv: number, change: (row: Conversation) => Conversation): void {
    const row = this.rows.value.get(conv);
    if (row === undefined) return;
    const next = change(row);
    if (next === row) return;
    const rows = new Map(this.rows.value);
    rows.set(conv, next);
    this.rows.value = rows;
    void this.cache.putConvs([next]);
  }
}

/** A conversation's messages and outgoing entries, for its view. */
export function outgoingFor(chats: Chats, conv: number | undefined, peer: string | undefined): OutboxEntry[] {
  return chats.outgoing.value.filter(
    (e) => (conv !== undefined && e.args.conv === conv) || (peer !== undefined && e.args.to === peer),
  );
}

function sortRows(rows: Conversation[]): Conversation[] {
  return rows.sort(
    (a, b) => Number(b.pinned === true) - Number(a.pinned === true) || b.active_ts - a.active_ts || b.conv - a.conv,
  );
}

function mergeRows(
  current: ReadonlyMap<number, Conversation>,
  rows: readonly Conversation[],
): Map<number, Conversation> {
  const next = new Map(current);
  for (const row of rows) next.set(row.conv, row);
  return next;
}

/** The list's excerpt of a message: the first 128 characters. */
function excerptOf(body: string): { excerpt: string; truncated: boolean } {
  const chars = [...body];
  return { excerpt: chars.slice(0, 128).join(""), truncated: chars.length > 128 };
}

function lastOf(message: Message): LastMessage {
  return {
    msg_id: message.msg_id,
    seq: message.seq,
    kind: message.kind,
    from: message.from,
    ts: message.ts,
    ...excerptOf(message.body),
  };
}

export type { Signal };
