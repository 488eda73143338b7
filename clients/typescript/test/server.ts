/**
 * A real `magpie serve` for the tests: a fresh data directory, free
 * loopback ports, waited for on /healthz. `MAGPIE_BIN` names the binary
 * (default: the workspace's debug build, as `cargo test` leaves it).
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import type { WebSocketConstructor } from "../src/index.js";

/** `ws` implements the WebSocket API the package needs. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

const here = fileURLToPath(new URL(".", import.meta.url));
const defaultBin = resolve(here, "../../../../target/debug/magpie");

export class TestServer {
  readonly dataDir: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  private readonly args: string[];
  private child: ChildProcess | undefined;

  private constructor(dataDir: string, tcpPort: number, httpPort: number, args: string[]) {
    this.dataDir = dataDir;
    this.tcpPort = tcpPort;
    this.httpPort = httpPort;
    this.args = args;
  }

  static async start(args: string[] = []): Promise<TestServer> {
    const [tcpPort, httpPort] = await freePorts(2);
    const dataDir = mkdtempSync(join(tmpdir(), "magpie-ts-"));
    const server = new TestServer(dataDir, tcpPort ?? 0, httpPort ?? 0, args);
    await server.launch();
    return server;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.httpPort}/ws`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Start (again) on the same ports and data. */
  async launch(): Promise<void> {
    const bin = process.env.MAGPIE_BIN ?? defaultBin;
    if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: build it or set MAGPIE_BIN`);
    const log = openSync(join(this.dataDir, "server.log"), "a");
    this.child = spawn(
      bin,
      [
        "serve",
        "--data-dir",
        join(this.dataDir, "data"),
        "--listen-tcp",
        `127.0.0.1:${this.tcpPort}`,
        "--listen-http",
        `127.0.0.1:${this.httpPort}`,
        ...this.args,
      ],
      { stdio: ["ignore", log, log] },
    );
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`the server exited (${this.child.exitCode}); see ${this.dataDir}/server.log`);
      try {
        const response = await fetch(`${this.httpUrl}/healthz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error("the server did not answer /healthz within 20 s");
  }

  /** SIGKILL: a crash, nothing flushed beyond what was acked. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** SIGTERM: a graceful shutdown (goaway shutdown to every client). */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  async dispose(): Promise<void> {
    await this.signal("SIGKILL");
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    child.kill(signal);
    await exited;
  }
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((done) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => done(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
  return ports;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Wait until `check` holds, polling; fail with `what` after `ms`. */
export async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
