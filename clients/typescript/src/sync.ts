/**
 * Exactly-once, in-order delivery on top of best-effort pushes
 * (PROTOCOL.md 10.2–10.4).
 *
 * {@link SyncState} is pure bookkeeping, with no I/O, so the rules are
 * tested as a table and the same object serves a live session, a cache
 * restored from IndexedDB and a test: `held[conv]` (the highest seq held
 * with no gap below it), and per conversation a small `pending` map of
 * entries that arrived ahead of a gap (pushed, or built from an ack), shown
 * as soon as the gap below them fills.
 */

import type { Message } from "./proto/messages.js";

/** What {@link SyncState.accept} made of an entry. */
export type Accept =
  /** The next entry of its conversation: show it, it is now held. */
  | "new"
  /** Already held: drop it. */
  | "duplicate"
  /** Something before it is missing: do not show it, catch up. */
  | "gap";

/** Entries kept ahead of a gap, per conversation, at most: beyond, the
 * catch-up brings them again. */
const MAX_PENDING = 1000;

export class SyncState {
  private readonly held = new Map<number, number>();
  private readonly pending = new Map<number, Map<number, Message>>();

  /** Restore from {@link cursors}' output (e.g. from a local cache). */
  static fromCursors(cursors: Record<string, number>): SyncState {
    const state = new SyncState();
    for (const [conv, seq] of Object.entries(cursors)) {
      const id = Number(conv);
      if (Number.isSafeInteger(id) && Number.isSafeInteger(seq) && seq > 0) state.held.set(id, seq);
    }
    return state;
  }

  /** The highest seq held without a gap (0: nothing). */
  position(conv: number): number {
    return this.held.get(conv) ?? 0;
  }

  /** The `cursors` argument of `sync`, also what to persist. */
  cursors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [conv, seq] of this.held) out[String(conv)] = seq;
    return out;
  }

  /**
   * Start a conversation at `seq` without holding what is before it: for
   * a fresh device that shows recent history (loaded with `history`)
   * rather than replaying every conversation from seq 1. Never moves a
   * cursor backwards.
   */
  seed(conv: number, seq: number): void {
    if (Number.isSafeInteger(seq) && seq > this.position(conv)) this.held.set(conv, seq);
  }

  /** Whether some conversation has entries waiting above a gap. */
  get gapped(): boolean {
    return this.pending.size > 0;
  }

  /** Whether nothing is held at all (a fresh device). */
  get isEmpty(): boolean {
    return this.held.size === 0;
  }

  /** The rule of 10.3 for a pushed entry. */
  accept(message: Message): Accept {
    const held = this.position(message.conv);
    if (message.seq <= held) return "duplicate";
    if (message.seq !== held + 1) return "gap";
    this.held.set(message.conv, message.seq);
    return "new";
  }

  /**
   * A pushed entry: returns the entries to show, in order (it, then any
   * pending ones it unblocked), and whether something before it is
   * missing. One ahead of a gap is kept as pending, not shown: the gap is
   * most often this device's own message whose ack is still on its way,
   * and fills a moment later without asking the server.
   */
  receive(message: Message): { show: Message[]; gap: boolean } {
    const verdict = this.accept(message);
    if (verdict === "duplicate") return { show: [], gap: false };
    if (verdict === "gap") {
      this.hold(message);
      return { show: [], gap: true };
    }
    return { show: [message, ...this.absorb(message.conv)], gap: false };
  }

  /**
   * An entry built from a send ack (or an amend answer): the same rule as
   * {@link receive}; no push will bring it to this connection (10.3), so
   * one ahead of a gap must wait here.
   */
  receiveOwn(message: Message): { show: Message[]; gap: boolean } {
    return this.receive(message);
  }

  private hold(message: Message): void {
    let waiting = this.pending.get(message.conv);
    if (waiting === undefined) {
      waiting = new Map();
      this.pending.set(message.conv, waiting);
    }
    if (waiting.size < MAX_PENDING || waiting.has(message.seq)) waiting.set(message.seq, message);
  }

  /**
   * One page of a `sync` answer (10.4): returns the entries to show, in
   * order. The first entry of a conversation in the page is the next one
   * even above `held + 1` (a group joined later), and runs are contiguous
   * after it.
   */
  receiveSyncPage(messages: readonly Message[]): Message[] {
    const show: Message[] = [];
    const started = new Set<number>();
    for (const message of messages) {
      if (!started.has(message.conv)) {
        started.add(message.conv);
        if (message.seq > this.position(message.conv)) this.held.set(message.conv, message.seq - 1);
      }
      const { show: fresh } = this.receive(message);
      show.push(...fresh);
    }
    return show;
  }

  /** Pending entries that now follow `held`, and drop the stale ones. */
  private absorb(conv: number): Message[] {
    const waiting = this.pending.get(conv);
    if (waiting === undefined) return [];
    const out: Message[] = [];
    for (;;) {
      const next = waiting.get(this.position(conv) + 1);
      if (next === undefined) break;
      waiting.delete(next.seq);
      this.held.set(conv, next.seq);
      out.push(next);
    }
    const held = this.position(conv);
    for (const seq of waiting.keys()) if (seq <= held) waiting.delete(seq);
    if (waiting.size === 0) this.pending.delete(conv);
    return out;
  }
}
