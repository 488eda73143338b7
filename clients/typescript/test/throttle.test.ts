/** Retryable refusals: a send refused with `rate_limited` is retried by the
 * client with the same cmid after `retry_after_ms`, and stored once. */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MagpieClient, type Message } from "../src/index.js";
import { NodeWebSocket, TestServer, until } from "./server.js";

let server: TestServer;

before(async () => {
  server = await TestServer.start(["--send-rate-per-user", "20/s,burst=5"]);
});

after(async () => {
  await server.dispose();
});

test("sends past the rate limit are retried until acked, each stored once, in order", async () => {
  const url = server.wsUrl;
  const password = "correct horse battery staple";
  for (const user of ["ratea", "rateb"]) await MagpieClient.register({ url, WebSocket: NodeWebSocket }, user, password);
  const alice = new MagpieClient({ url, WebSocket: NodeWebSocket });
  const bob = new MagpieClient({ url, WebSocket: NodeWebSocket });
  const got: Message[] = [];
  bob.on("entries", ({ entries }) => got.push(...entries));
  let refusals = 0;
  alice.on("outbox", (entry) => {
    if (entry.status === "queued" && entry.created_at < Date.now() - 1) refusals += 1;
  });
  await alice.login("ratea", password);
  await bob.login("rateb", password);
  const acks = Array.from({ length: 30 }, (_, i) => alice.send({ to: "rateb", body: `r${i}` }).acked);
  const results = await Promise.all(acks);
  assert.deepEqual(
    results.map((a) => a.seq),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  assert.ok(refusals > 0, "the limit refused some sends, which were retried");
  await until("bob has all", () => got.length === 30);
  assert.deepEqual(
    got.map((m) => m.body),
    Array.from({ length: 30 }, (_, i) => `r${i}`),
  );
  alice.close();
  bob.close();
});
