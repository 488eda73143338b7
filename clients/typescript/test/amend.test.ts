/** Applying recall, edit and reaction entries (10.11). */

import assert from "node:assert/strict";
import { test } from "node:test";
import { applyAmend, applyToQuote, type Message } from "../src/index.js";

const base: Message = {
  msg_id: 1,
  conv: 9,
  seq: 3,
  kind: "text",
  from: "bob",
  body: "hello",
  ts: 100,
  cmid: "c1",
  mentions: ["carol"],
  reply: { seq: 1, from: "carol", kind: "text", excerpt: "hi" },
};

function entry(kind: string, extra: Partial<Message> = {}): Message {
  return { msg_id: 50, conv: 9, seq: 10, kind, from: "bob", body: "", ts: 200, cmid: "~9.10", target: 3, ...extra };
}

test("recall clears the content and records who", () => {
  const out = applyAmend(base, entry("recall", { from: "alice" }), "alice");
  assert.equal(out.body, "");
  assert.deepEqual(out.recalled, { by: "alice", ts: 200 });
  assert.equal(out.mentions, undefined);
  assert.equal(out.reply, undefined);
  // Final: a second recall or a later edit changes nothing.
  assert.equal(applyAmend(out, entry("recall"), "alice"), out);
  assert.equal(applyAmend(out, entry("edit", { body: "x", ts: 300 }), "alice"), out);
});

test("edit replaces the text unless a newer edit is held", () => {
  const edited = applyAmend(base, entry("edit", { body: "hello!", ts: 200 }), "bob");
  assert.equal(edited.body, "hello!");
  assert.equal(edited.edited_ts, 200);
  assert.equal(applyAmend(edited, entry("edit", { body: "older", ts: 150 }), "bob"), edited);
});

test("reactions carry absolute counts and the caller's own mark", () => {
  const react = (from: string, emoji: string, add: boolean, count: number) =>
    entry("reaction", { from, reaction: { emoji, add, count } });
  let m = applyAmend(base, react("alice", "👍", true, 1), "alice");
  assert.deepEqual(m.reactions, [{ emoji: "👍", count: 1, mine: true }]);
  m = applyAmend(m, react("bob", "👍", true, 2), "alice");
  m = applyAmend(m, react("bob", "🎉", true, 1), "alice");
  assert.deepEqual(m.reactions, [
    { emoji: "👍", count: 2, mine: true },
    { emoji: "🎉", count: 1 },
  ]);
  // Applying the same entry twice is harmless.
  assert.deepEqual(applyAmend(m, react("bob", "🎉", true, 1), "alice").reactions, m.reactions);
  m = applyAmend(m, react("alice", "👍", false, 1), "alice");
  m = applyAmend(m, react("bob", "🎉", false, 0), "alice");
  assert.deepEqual(m.reactions, [{ emoji: "👍", count: 1 }]);
});

test("an entry for another message or conversation changes nothing", () => {
  assert.equal(applyAmend(base, entry("recall", { target: 4 }), "bob"), base);
  assert.equal(applyAmend(base, entry("recall", { conv: 8 }), "bob"), base);
  assert.equal(applyAmend(base, entry("event"), "bob"), base);
});

test("a recall empties the quotes of its replies", () => {
  const reply: Message = { ...base, seq: 5, reply: { seq: 3, from: "bob", kind: "text", excerpt: "hello" } };
  const out = applyToQuote(reply, entry("recall"));
  assert.deepEqual(out.reply, { seq: 3, from: "bob", kind: "text", excerpt: "", recalled: true });
  assert.equal(applyToQuote(base, entry("recall")), base);
});
