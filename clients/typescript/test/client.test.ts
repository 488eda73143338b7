/**
 * The client package against a real `magpie serve`: delivery exactly once
 * and in order across disconnects, a server crash and restarts; the
 * outbox; the change stream; amends; refusals; goaways.
 */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  Connection,
  MagpieClient,
  MagpieError,
  applyAmend,
  type Change,
  type Message,
  type OutboxEntry,
} from "../src/index.js";
import { NodeWebSocket, TestServer, sleep, until } from "./server.js";

const PASSWORD = "correct horse battery staple";
let server: TestServer;

before(async () => {
  server = await TestServer.start();
});

after(async () => {
  await server.dispose();
});

/** A signed-in client that records everything it emits. */
interface Probe {
  client: MagpieClient;
  entries: Message[];
  changes: Change[];
  outbox: OutboxEntry[];
  states: string[];
}

let names = 0;
function uniqueName(prefix: string): string {
  names += 1;
  return `${prefix}${names}${Date.now() % 100000}`;
}

function newClient(url = server.wsUrl): MagpieClient {
  return new MagpieClient({
    url,
    WebSocket: NodeWebSocket,
    device: "test",
    platform: "desktop",
    backoffMs: { first: 100, max: 1000 },
  });
}

function probe(client: MagpieClient): Probe {
  const p: Probe = { client, entries: [], changes: [], outbox: [], states: [] };
  client.on("entries", ({ entries }) => p.entries.push(...entries));
  client.on("change", (c) => p.changes.push(c));
  client.on("outbox", (e) => p.outbox.push(e));
  client.on("state", (s) => p.states.push(s));
  return p;
}

async function signUp(prefix: string): Promise<{ name: string; probe: Probe }> {
  const name = uniqueName(prefix);
  await MagpieClient.register({ url: server.wsUrl, WebSocket: NodeWebSocket }, name, PASSWORD);
  const client = newClient();
  const p = probe(client);
  await client.login(name, PASSWORD);
  return { name, probe: p };
}

function bodiesIn(p: Probe, conv: number): string[] {
  return p.entries.filter((m) => m.conv === conv && m.kind === "text").map((m) => m.body);
}

function assertGapless(p: Probe): void {
  const byConv = new Map<number, number[]>();
  for (const m of p.entries) byConv.set(m.conv, [...(byConv.get(m.conv) ?? []), m.seq]);
  for (const [conv, seqs] of byConv) {
    for (let i = 1; i < seqs.length; i++) {
      assert.equal(seqs[i], (seqs[i - 1] ?? 0) + 1, `conv ${conv}: seqs ${seqs.join(",")} are not gapless and unique`);
    }
  }
}

test("a message reaches the peer once, and the sender sees its own from the ack", async () => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const { cmid, acked } = alice.probe.client.send({ to: bob.name, body: "hello 你好 👋" });
  const ack = await acked;
  assert.equal(ack.seq, 1);
  assert.equal(ack.duplicate, false);
  await until("bob's push", () => bob.probe.entries.length === 1);
  const got = bob.probe.entries[0];
  assert.equal(got?.body, "hello 你好 👋");
  assert.equal(got?.from, alice.name);
  assert.equal(got?.cmid, cmid);
  assert.deepEqual(
    alice.probe.entries.map((m) => [m.conv, m.seq, m.body]),
    [[ack.conv, 1, "hello 你好 👋"]],
  );
  assert.deepEqual(
    alice.probe.outbox.map((e) => e.status),
    ["queued", "sending", "sent"],
  );
  assert.equal(alice.probe.client.pendingSends().length, 0);
  alice.probe.client.close();
  bob.probe.client.close();
});

test("a refused send fails with the server's code, stays in the outbox and can be discarded", async () => {
  const alice = await signUp("alice");
  const { cmid, acked } = alice.probe.client.send({ to: "nobody_here_at_all", body: "hi" });
  await assert.rejects(
    acked,
    (error: unknown) => error instanceof MagpieError && error.code === "unknown_user" && !error.retryable,
  );
  const [entry] = alice.probe.client.pendingSends();
  assert.equal(entry?.cmid, cmid);
  assert.equal(entry?.status, "failed");
  assert.equal(entry?.error?.code, "unknown_user");
  alice.probe.client.discardSend(cmid);
  assert.equal(alice.probe.client.pendingSends().length, 0);
  assert.equal(alice.probe.entries.length, 0);
  alice.probe.client.close();
});

test("bad input gets a clear error and the connection lives on", async () => {
  const alice = await signUp("alice");
  const client = alice.probe.client;
  await assert.rejects(
    client.request("history", { limit: 5 }),
    (e: unknown) => e instanceof MagpieError && e.code === "invalid_args",
  );
  const huge = "x".repeat((client.limits?.max_frame_bytes ?? 0) + 1);
  await assert.rejects(
    client.request("send", { to: "bob", cmid: "c", body: huge }),
    (e: unknown) => e instanceof MagpieError && e.code === "frame_too_large",
  );
  const tooLong = "y".repeat((client.limits?.max_body_bytes ?? 0) + 1);
  await assert.rejects(
    client.request("send", { to: "bob", cmid: "c2", body: tooLong }),
    (e: unknown) => e instanceof MagpieError && e.code === "body_too_large",
  );
  assert.deepEqual(await client.request("ping"), {});
  assert.equal(client.state, "online");
  client.close();
});

test("an offline peer catches up exactly once, in order, and resumes with its token", async () => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const first = await alice.probe.client.send({ to: bob.name, body: "m0" }).acked;
  await until("bob has m0", () => bob.probe.entries.length === 1);
  const session = bob.probe.client.session;
  assert.ok(session !== undefined);
  bob.probe.client.close();
  for (let i = 1; i <= 30; i++) alice.probe.client.send({ to: bob.name, body: `m${i}` });
  await until("alice's sends acked", () => alice.probe.client.pendingSends().length === 0);

  // A new client for bob, as after a reload: cursors restored, token resumed.
  const again = newClient();
  const p = probe(again);
  const cursors = bob.probe.client.sync.cursors();
  const restored = new MagpieClient({ url: server.wsUrl, WebSocket: NodeWebSocket, cursors });
  const q = probe(restored);
  await restored.resume(session);
  await until("bob caught up", () => q.entries.length === 30);
  assert.deepEqual(
    bodiesIn(q, first.conv),
    Array.from({ length: 30 }, (_, i) => `m${i + 1}`),
  );
  assertGapless(q);
  // And a device with no cursors at all gets the whole conversation.
  await again.resume(session);
  await until("a fresh device caught up", () => p.entries.length === 31);
  assert.deepEqual(
    bodiesIn(p, first.conv),
    Array.from({ length: 31 }, (_, i) => `m${i}`),
  );
  for (const c of [alice.probe.client, again, restored]) c.close();
});

test("sends survive a server crash: resent with the same cmid, stored once, delivered once in order", async () => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const conv = (await alice.probe.client.send({ to: bob.name, body: "start" }).acked).conv;
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) {
    acks.push(alice.probe.client.send({ to: bob.name, body: `n${i}` }).acked);
    if (i === 20) await server.kill();
  }
  await until("alice notices", () => alice.probe.client.state === "reconnecting");
  await server.launch();
  await Promise.all(acks);
  const want = ["start", ...Array.from({ length: 40 }, (_, i) => `n${i}`)];
  await until("bob has everything", () => bodiesIn(bob.probe, conv).length >= want.length, 20_000);
  await sleep(300); // let any duplicate push arrive: there must be none
  // Order within the conversation is the server's seq order; alice sent in
  // order on one connection, so the bodies come in her order.
  assert.deepEqual(bodiesIn(bob.probe, conv), want);
  assert.deepEqual(bodiesIn(alice.probe, conv), want);
  assertGapless(bob.probe);
  assertGapless(alice.probe);
  // The history holds each message once.
  const history = await bob.probe.client.request("history", { conv, limit: 100 });
  assert.deepEqual(
    history.messages.map((m) => m.body),
    want,
  );
  alice.probe.client.close();
  bob.probe.client.close();
});

test("changes arrive in order and are caught up after a disconnect", async () => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  await alice.probe.client.request("friend_request", { user: bob.name, note: "hi" });
  await until("bob's friend_request change", () => bob.probe.changes.some((c) => c.kind === "friend_request"));
  const session = bob.probe.client.session;
  assert.ok(session !== undefined);
  const cursor = bob.probe.client.changeCursor.position;
  bob.probe.client.close();
  // Missed while offline: the cancel reaches both streams.
  await alice.probe.client.request("friend_cancel", { user: bob.name });
  const restored = new MagpieClient({ url: server.wsUrl, WebSocket: NodeWebSocket, changeCursor: cursor });
  const q = probe(restored);
  await restored.resume(session);
  await until("the missed change", () => q.changes.some((c) => c.kind === "friend_request_closed"));
  assert.equal(q.changes[0]?.seq, cursor + 1);
  // And live again afterwards.
  await alice.probe.client.request("friend_request", { user: bob.name, note: "again" });
  await until(
    "the new request reaches bob live",
    () => q.changes.filter((c) => c.kind === "friend_request").length === 1,
  );
  const seqs = q.changes.map((c) => c.seq);
  assert.deepEqual(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => cursor + 1 + i),
  );
  alice.probe.client.close();
  restored.close();
});

test("recall and reactions: the asker gets its entry from the answer, the peer from a push", async () => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const ack = await alice.probe.client.send({ to: bob.name, body: "oops" }).acked;
  await until("bob has it", () => bob.probe.entries.length === 1);
  const reaction = await bob.probe.client.amend("react", { conv: ack.conv, seq: ack.seq, emoji: "👍" });
  assert.equal(reaction?.kind, "reaction");
  const recall = await alice.probe.client.amend("recall", { conv: ack.conv, seq: ack.seq });
  assert.equal(recall?.target, ack.seq);
  await until("bob has the recall", () => bob.probe.entries.some((m) => m.kind === "recall"));
  assert.deepEqual(
    bob.probe.entries.map((m) => m.kind),
    ["text", "reaction", "recall"],
  );
  assert.deepEqual(
    alice.probe.entries.map((m) => m.kind),
    ["text", "reaction", "recall"],
  );
  let shown = bob.probe.entries[0] as Message;
  for (const entry of bob.probe.entries.slice(1)) shown = applyAmend(shown, entry, bob.name);
  assert.equal(shown.body, "");
  assert.equal(shown.recalled?.by, alice.name);
  alice.probe.client.close();
  bob.probe.client.close();
});

test("a device signed out from another gets signedOut and does not reconnect", async () => {
  const alice = await signUp("alice");
  const second = newClient();
  const signedOut = new Promise<string>((done) => second.on("signedOut", ({ reason }) => done(reason)));
  const secondSession = await second.login(alice.name, PASSWORD);
  const { devices } = await alice.probe.client.request("devices");
  const other = devices.find((d) => d.current !== true && d.id !== undefined);
  assert.ok(other !== undefined, "the second device is listed");
  await alice.probe.client.request("device_revoke", { id: other.id });
  assert.equal(await signedOut, "revoked");
  assert.equal(second.state, "signed_out");
  // Its token is gone: resuming it is refused.
  const third = newClient();
  await assert.rejects(
    third.resume(secondSession),
    (e: unknown) => e instanceof MagpieError && e.code === "invalid_token",
  );
  alice.probe.client.close();
});

test("a bare connection: typed requests, pushes and the hello limits", async () => {
  const pushes: string[] = [];
  const connection = await Connection.open(
    { url: server.wsUrl, WebSocket: NodeWebSocket },
    { onPush: (name) => pushes.push(name) },
  );
  assert.equal(connection.hello.version, 1);
  assert.ok(connection.hello.max_body_bytes > 0);
  await assert.rejects(
    connection.request("sync"),
    (e: unknown) => e instanceof MagpieError && e.code === "not_authenticated",
  );
  await assert.rejects(
    connection.request("login", { user: "nobody", password: "wrong password" }),
    (e: unknown) => e instanceof MagpieError && e.code === "invalid_credentials",
  );
  connection.close();
  assert.equal(connection.isOpen, false);
  await assert.rejects(connection.request("ping"), (e: unknown) => e instanceof MagpieError && e.code === "offline");
});
