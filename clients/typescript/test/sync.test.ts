/** The pure rules of 10.3–10.4 and 10.8, as tables. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { ChangeCursor, SyncState, type Accept, type Message } from "../src/index.js";

function msg(conv: number, seq: number): Message {
  return {
    msg_id: conv * 1000 + seq,
    conv,
    seq,
    kind: "text",
    from: "alice",
    body: `${conv}/${seq}`,
    ts: 0,
    cmid: `c${conv}-${seq}`,
  };
}

test("accept: the table of 10.3", () => {
  const cases: [string, Record<string, number>, [number, number, Accept][], Record<string, number>][] = [
    ["empty state, first message", {}, [[1, 1, "new"]], { "1": 1 }],
    [
      "in order",
      {},
      [
        [1, 1, "new"],
        [1, 2, "new"],
        [1, 3, "new"],
      ],
      { "1": 3 },
    ],
    ["repeat of the last", { "1": 2 }, [[1, 2, "duplicate"]], { "1": 2 }],
    [
      "older than the position",
      { "1": 5 },
      [
        [1, 1, "duplicate"],
        [1, 4, "duplicate"],
      ],
      { "1": 5 },
    ],
    ["gap on empty state", {}, [[1, 2, "gap"]], {}],
    [
      "a gap does not advance, the next one still fits",
      { "1": 3 },
      [
        [1, 5, "gap"],
        [1, 4, "new"],
        [1, 5, "new"],
      ],
      { "1": 5 },
    ],
    [
      "conversations are independent",
      { "1": 7 },
      [
        [2, 1, "new"],
        [1, 8, "new"],
        [2, 1, "duplicate"],
        [3, 4, "gap"],
      ],
      { "1": 8, "2": 1 },
    ],
    [
      "non-positive seqs are never new",
      {},
      [
        [1, 0, "duplicate"],
        [1, -3, "duplicate"],
      ],
      {},
    ],
  ];
  for (const [name, start, arrivals, end] of cases) {
    const state = SyncState.fromCursors(start);
    for (const [conv, seq, want] of arrivals) {
      assert.equal(state.accept(msg(conv, seq)), want, `${name}: conv ${conv} seq ${seq}`);
    }
    assert.deepEqual(state.cursors(), end, `${name}: final cursors`);
  }
});

test("fromCursors ignores malformed entries", () => {
  const state = SyncState.fromCursors({ "1": 4, x: 3, "2": -1, "3": 1.5 });
  assert.deepEqual(state.cursors(), { "1": 4 });
});

test("an own entry ahead of a gap waits, and is shown when the gap fills", () => {
  const state = SyncState.fromCursors({ "1": 10 });
  assert.deepEqual(state.receiveOwn(msg(1, 12)), { show: [], gap: true });
  assert.equal(state.position(1), 10);
  const filled = state.receive(msg(1, 11));
  assert.deepEqual(
    filled.show.map((m) => m.seq),
    [11, 12],
  );
  assert.equal(state.position(1), 12);
  // The same entry again, from its push, is a duplicate.
  assert.deepEqual(state.receive(msg(1, 12)), { show: [], gap: false });
});

test("a peer's entry pushed before the ack of my own below it waits for the ack", () => {
  const state = SyncState.fromCursors({ "1": 10 });
  // Mine is seq 11, still unacked; the peer's 12 is pushed first.
  assert.deepEqual(state.receive(msg(1, 12)), { show: [], gap: true });
  assert.equal(state.gapped, true);
  const acked = state.receiveOwn(msg(1, 11));
  assert.deepEqual(
    acked.show.map((m) => m.seq),
    [11, 12],
  );
  assert.equal(state.gapped, false);
  assert.equal(state.position(1), 12);
});

test("a sync page fills the gap and absorbs pending own entries", () => {
  const state = SyncState.fromCursors({ "1": 3 });
  state.receiveOwn(msg(1, 6));
  const shown = state.receiveSyncPage([msg(1, 4), msg(1, 5)]);
  assert.deepEqual(
    shown.map((m) => m.seq),
    [4, 5, 6],
  );
  assert.deepEqual(state.cursors(), { "1": 6 });
});

test("a sync page starts a conversation joined later above 1, then runs on", () => {
  const state = new SyncState();
  const shown = state.receiveSyncPage([msg(5, 40), msg(5, 41), msg(7, 1)]);
  assert.deepEqual(
    shown.map((m) => `${m.conv}/${m.seq}`),
    ["5/40", "5/41", "7/1"],
  );
  assert.deepEqual(state.cursors(), { "5": 41, "7": 1 });
  // A page repeating what is held shows nothing.
  assert.deepEqual(state.receiveSyncPage([msg(5, 41)]), []);
});

test("pending entries at or below the position are dropped", () => {
  const state = SyncState.fromCursors({ "1": 1 });
  state.receiveOwn(msg(1, 3));
  assert.deepEqual(
    state.receiveSyncPage([msg(1, 2), msg(1, 3), msg(1, 4)]).map((m) => m.seq),
    [2, 3, 4],
  );
  assert.deepEqual(
    state.receive(msg(1, 5)).show.map((m) => m.seq),
    [5],
  );
});

test("change cursor: the rule of 10.8", () => {
  const cursor = new ChangeCursor(2);
  const change = (seq: number) => ({ seq, ts: 0, kind: "x", data: {} });
  assert.equal(cursor.accept(change(2)), "duplicate");
  assert.equal(cursor.accept(change(4)), "gap");
  assert.equal(cursor.accept(change(3)), "apply");
  assert.equal(cursor.accept(change(4)), "apply");
  assert.equal(cursor.position, 4);
  assert.equal(new ChangeCursor(-5).position, 0);
});
