/**
 * The administration operations through the typed client: `admin_stats`
 * (counters that only grow, so rates come from two samples),
 * `admin_groups` and `admin_group_dissolve`, and `forbidden` for a plain
 * user. The administrator is made with `magpie admin bootstrap`.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MagpieClient, MagpieError } from "../src/index.js";
import { NodeWebSocket, TestServer, until } from "./server.js";

const PASSWORD = "correct horse battery staple";
const suffix = String(Date.now() % 100000);
let server: TestServer;

before(async () => {
  server = await TestServer.start();
});

after(async () => {
  await server.dispose();
});

function newClient(): MagpieClient {
  return new MagpieClient({ url: server.wsUrl, WebSocket: NodeWebSocket, device: "test", platform: "desktop" });
}

async function signUp(name: string): Promise<MagpieClient> {
  await MagpieClient.register({ url: server.wsUrl, WebSocket: NodeWebSocket }, name, PASSWORD);
  const client = newClient();
  await client.login(name, PASSWORD);
  return client;
}

function bootstrap(name: string): void {
  const bin = process.env.MAGPIE_BIN ?? join(process.cwd(), "../../target/debug/magpie");
  const run = spawnSync(bin, ["admin", "bootstrap", "--user", name, "--data-dir", join(server.dataDir, "data")], {
    env: { ...process.env, MAGPIE_PASSWORD: PASSWORD },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
}

test("admin_stats, admin_groups and admin_group_dissolve through the typed client", async () => {
  const owner = await signUp(`owner${suffix}`);
  const member = await signUp(`member${suffix}`);
  const plain = owner;
  await assert.rejects(
    plain.request("admin_stats"),
    (e: unknown) => e instanceof MagpieError && e.code === "forbidden",
  );
  await assert.rejects(
    plain.request("admin_groups", { limit: 1 }),
    (e: unknown) => e instanceof MagpieError && e.code === "forbidden",
  );

  const rootName = `root${suffix}`;
  bootstrap(rootName);
  const root = newClient();
  await root.login(rootName, PASSWORD);

  const first = await root.request("admin_stats");
  assert.ok(first.connections >= 3, `connections ${first.connections}`);
  assert.equal(first.connections, first.connections_tcp + first.connections_ws);
  assert.ok(first.started_at <= first.at);

  const group = await owner.request("group_create", { name: "typed <b>", members: [`member${suffix}`] });
  const { acked } = member.send({ conv: group.conv, body: "hi" });
  await acked;
  const second = await root.request("admin_stats");
  assert.ok(second.messages_in > first.messages_in, "a message was stored");
  assert.ok(second.store_batch_seconds.count > first.store_batch_seconds.count);
  assert.ok(second.at >= first.at);

  const listed = await root.request("admin_groups", { limit: 500 });
  const found = listed.groups.find((g) => g.conv === group.conv);
  assert.deepEqual(found && { name: found.name, owner: found.owner, members: found.members }, {
    name: "typed <b>",
    owner: `owner${suffix}`,
    members: 2,
  });
  await assert.rejects(
    root.request("admin_groups", { limit: 0 }),
    (e: unknown) => e instanceof MagpieError && e.code === "invalid_args",
  );

  const left: string[] = [];
  member.on("change", (c) => {
    if (c.kind === "group_left") left.push(c.kind);
  });
  const dissolved = await root.request("admin_group_dissolve", { conv: group.conv });
  assert.equal(dissolved.conv, group.conv);
  assert.ok((dissolved.seq ?? 0) > 0);
  await until("the member's group_left", () => left.length === 1);
  const after = await root.request("admin_groups");
  assert.ok(!after.groups.some((g) => g.conv === group.conv));
  await assert.rejects(
    root.request("admin_group_dissolve", { conv: group.conv }),
    (e: unknown) => e instanceof MagpieError && e.code === "unknown_conversation",
  );
  for (const c of [owner, member, root]) c.close();
});
