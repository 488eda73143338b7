/**
 * Uploads against a real `magpie serve`: tus with the session's token,
 * a file sent as a message and downloaded by the peer through a signed
 * URL, an interrupted upload continued from the server's offset by a new
 * Upload (as after a reload), and cancelling.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { MagpieClient, MagpieError, MemoryUrlStorage, type FileInfo, type Message } from "../src/index.js";
import { NodeWebSocket, TestServer, until } from "./server.js";

const PASSWORD = "correct horse battery staple";
let server: TestServer;

before(async () => {
  server = await TestServer.start();
});

after(async () => {
  await server.dispose();
});

let names = 0;
async function signUp(prefix: string): Promise<{ name: string; client: MagpieClient; entries: Message[] }> {
  names += 1;
  const name = `${prefix}${names}${Date.now() % 100000}`;
  await MagpieClient.register({ url: server.wsUrl, WebSocket: NodeWebSocket }, name, PASSWORD);
  const client = new MagpieClient({ url: server.wsUrl, WebSocket: NodeWebSocket, device: "test", platform: "desktop" });
  const entries: Message[] = [];
  client.on("entries", (e) => entries.push(...e.entries));
  await client.login(name, PASSWORD);
  return { name, client, entries };
}

async function head(client: MagpieClient, url: string): Promise<Response> {
  return fetch(new URL(url, client.httpUrl), {
    method: "HEAD",
    headers: { "Tus-Resumable": "1.0.0", Authorization: `Bearer ${client.session?.token ?? ""}` },
  });
}

test("an uploaded file is sent as a message; the peer downloads the same bytes by a signed URL", async () => {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const bytes = randomBytes(300_000);
  const seen: number[] = [];
  const upload = alice.client.upload(new Blob([bytes]), {
    name: "report 会议.bin",
    chunkSize: 100_000,
    onProgress: (sent) => seen.push(sent),
  });
  const info: FileInfo = await upload.done;
  assert.equal(info.size, bytes.length);
  assert.equal(info.name, "report 会议.bin");
  assert.equal(info.media.kind, "file");
  assert.equal(upload.status, "done");
  assert.equal(seen[seen.length - 1], bytes.length);
  assert.ok(upload.url?.includes("/api/uploads/"), "the token is never in the upload's URL");
  assert.ok(!upload.url?.includes(alice.client.session?.token ?? "-"));

  const { acked } = alice.client.send({ to: bob.name, kind: "file", file: info.id, body: "" });
  await acked;
  await until("bob's file message", () => bob.entries.some((m) => m.kind === "file"));
  const message = bob.entries.find((m) => m.kind === "file");
  assert.equal(message?.file?.size, bytes.length);
  assert.equal(message?.file?.name, "report 会议.bin");
  const { url } = await bob.client.request("file_url", { file: message?.file?.id ?? "" });
  const response = await fetch(new URL(url, bob.client.httpUrl));
  assert.equal(response.status, 200);
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes), "the download is byte for byte the upload");
  alice.client.close();
  bob.client.close();
});

test("an interrupted upload continues from the server's offset", async () => {
  const alice = await signUp("alice");
  const storage = new MemoryUrlStorage();
  const bytes = randomBytes(5 * 1024 * 1024);
  const blob = new Blob([bytes]);
  const first = alice.client.upload(blob, { name: "big.bin", chunkSize: 1024 * 1024, urlStorage: storage });
  await until("two chunks", () => first.progressBytes >= 2 * 1024 * 1024, 20_000);
  first.pause();
  assert.equal(first.status, "paused");
  await until("the upload's URL", () => first.url !== null);
  // As after a reload: the server kept what it had; a new Upload of the
  // same file finds the URL in the storage and continues from there.
  const offsetAfterPause = Number((await head(alice.client, first.url ?? "")).headers.get("Upload-Offset"));
  assert.ok(offsetAfterPause >= 1024 * 1024 && offsetAfterPause < bytes.length, `offset ${offsetAfterPause}`);
  assert.equal((await storage.findAllUploads()).length, 1);
  const progress: number[] = [];
  const second = alice.client.upload(blob, {
    name: "big.bin",
    chunkSize: 1024 * 1024,
    urlStorage: storage,
    onProgress: (sent) => progress.push(sent),
  });
  const info = await second.done;
  assert.equal(second.url, first.url, "the same upload was continued");
  assert.ok((progress[0] ?? 0) >= offsetAfterPause, `resumed at ${progress[0]}, the server had ${offsetAfterPause}`);
  assert.equal(info.size, bytes.length);
  assert.equal((await storage.findAllUploads()).length, 0, "a finished upload is forgotten");
  const response = await fetch(new URL(`/api/files/${info.id}`, alice.client.httpUrl), {
    headers: { Authorization: `Bearer ${alice.client.session?.token ?? ""}` },
  });
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes));
  alice.client.close();
});

test("a paused upload resumes in place, and an aborted one is gone from the server", async () => {
  const alice = await signUp("alice");
  const bytes = randomBytes(3 * 1024 * 1024);
  const upload = alice.client.upload(new Uint8Array(bytes), { name: "p.bin", chunkSize: 1024 * 1024 });
  await until("a chunk", () => upload.progressBytes >= 1024 * 1024, 20_000);
  upload.pause();
  upload.resume();
  const info = await upload.done;
  assert.equal(info.size, bytes.length);

  const doomed = alice.client.upload(new Uint8Array(randomBytes(3 * 1024 * 1024)), {
    name: "gone.bin",
    chunkSize: 1024 * 1024,
  });
  await until("a chunk", () => doomed.progressBytes >= 1024 * 1024 && doomed.url !== null, 20_000);
  await doomed.abort();
  await assert.rejects(doomed.done, (e: unknown) => e instanceof MagpieError && e.code === "aborted");
  assert.equal((await head(alice.client, doomed.url ?? "")).status, 404);
  alice.client.close();
});
