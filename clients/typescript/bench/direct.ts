/**
 * The `direct` scenario of `magpie bench`, driven through this package:
 * pairs of users online over WebSocket exchange 1:1 messages at a constant
 * total rate (open loop), each sent with `MagpieClient.send` (the outbox)
 * and received as an `entries` event (the sync algorithm). Latency runs
 * from each message's scheduled send time to its arrival at the
 * recipient's client, so it holds everything a browser adds over the Rust
 * client: JSON in JavaScript, the outbox, the in-order delivery. Every
 * acked message must arrive exactly once.
 *
 *   node dist/bench/direct.js --server ws://127.0.0.1:17071/ws --pairs 100 --rate 5000 --duration 10
 *
 * Run the server with its limits off, as scripts/bench-ab.sh does. One
 * Node process plays every user here, so its event loop carries the work
 * of 2 x pairs browser tabs: the event loop's delay is reported beside the
 * latency so the two can be told apart.
 */

import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { MagpieClient, type Message, type WebSocketConstructor } from "../src/index.js";

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;
const PASSWORD = "bench-long-password-for-every-user";

interface Options {
  server: string;
  pairs: number;
  rate: number;
  duration: number;
  size: number;
  grace: number;
  json: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      server: { type: "string", default: "ws://127.0.0.1:7071/ws" },
      pairs: { type: "string", default: "100" },
      rate: { type: "string", default: "1000" },
      duration: { type: "string", default: "10" },
      size: { type: "string", default: "100" },
      grace: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
    },
  });
  const number = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number, not ${value}`);
    return n;
  };
  return {
    server: values.server ?? "ws://127.0.0.1:7071/ws",
    pairs: Math.floor(number("pairs", values.pairs)),
    rate: number("rate", values.rate),
    duration: number("duration", values.duration),
    size: Math.floor(number("size", values.size)),
    grace: number("grace", values.grace),
    json: values.json ?? false,
  };
}

/** Who sends message `k` to whom, as `magpie bench direct` routes it:
 * pairs take turns, and each pair alternates direction every round. */
function route(k: number, pairs: number): [number, number] {
  const pair = k % pairs;
  return Math.floor(k / pairs) % 2 === 0 ? [2 * pair, 2 * pair + 1] : [2 * pair + 1, 2 * pair];
}

/** The body: scheduled send time (µs since the run's epoch), the message
 * number, then padding up to `size` bytes (as the Rust generator writes it). */
function body(scheduledUs: number, k: number, size: number): string {
  const head = `${Math.round(scheduledUs)}:${k}:`;
  return head.length >= size ? head : head + "x".repeat(size - head.length);
}

function parseBody(text: string): { scheduledUs: number; k: number } | undefined {
  const [us, k] = text.split(":", 2);
  const scheduledUs = Number(us);
  const n = Number(k);
  return Number.isFinite(scheduledUs) && Number.isInteger(n) ? { scheduledUs, k: n } : undefined;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const o = options();
  const run = Date.now().toString(36);
  const names = Array.from({ length: 2 * o.pairs }, (_, i) => `tsb${run}x${i}`);
  const clients: MagpieClient[] = [];
  for (const name of names) {
    await MagpieClient.register({ url: o.server, WebSocket: NodeWebSocket }, name, PASSWORD);
    const client = new MagpieClient({ url: o.server, WebSocket: NodeWebSocket, clientName: "magpie-bench-ts/0.1" });
    await client.login(name, PASSWORD);
    clients.push(client);
  }

  const total = Math.floor(o.rate * o.duration);
  const latenciesMs = new Float64Array(total);
  const seen = new Uint8Array(total);
  let received = 0;
  let duplicates = 0;
  let acked = 0;
  let refused = 0;
  const epoch = performance.now();

  clients.forEach((client, i) => {
    client.on("entries", ({ entries }: { entries: Message[] }) => {
      const now = performance.now();
      for (const m of entries) {
        if (m.from === names[i]) continue;
        const parsed = parseBody(m.body);
        if (parsed === undefined || parsed.k >= total) continue;
        if (seen[parsed.k] === 1) {
          duplicates += 1;
          continue;
        }
        seen[parsed.k] = 1;
        latenciesMs[received] = now - epoch - parsed.scheduledUs / 1000;
        received += 1;
      }
    });
  });

  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // Open loop: every message has its time; a late tick sends all that are due.
  let k = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const elapsedMs = performance.now() - epoch;
      for (; k < total && (k * 1000) / o.rate <= elapsedMs; k += 1) {
        const [from, to] = route(k, o.pairs);
        const sender = clients[from];
        const peer = names[to];
        if (sender === undefined || peer === undefined) continue;
        const { acked: ack } = sender.send({ to: peer, body: body((k * 1e6) / o.rate, k, o.size) });
        ack.then(
          () => (acked += 1),
          () => (refused += 1),
        );
      }
      if (k < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  const sendSeconds = (performance.now() - epoch) / 1000;
  const deadline = performance.now() + o.grace * 1000;
  while ((received < acked || acked + refused < total) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  loop.disable();
  for (const client of clients) client.close();

  const sorted = latenciesMs.slice(0, received).sort();
  const report = {
    scenario: "direct (TypeScript client over WebSocket)",
    pairs: o.pairs,
    offered_rate: o.rate,
    achieved_rate: Math.round(total / sendSeconds),
    sent: total,
    acked,
    refused,
    received,
    lost: acked - received > 0 ? acked - received : 0,
    duplicates,
    latency_ms: {
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      p999: quantile(sorted, 0.999),
      max: sorted[sorted.length - 1] ?? NaN,
    },
    event_loop_delay_ms: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
  };
  if (o.json) {
    console.log(JSON.stringify(report));
  } else {
    const l = report.latency_ms;
    const f = (ms: number) => ms.toFixed(2);
    console.log(
      `direct over WebSocket (TypeScript client): ${report.achieved_rate}/s achieved, ${acked} acked, ` +
        `${received} received, ${report.lost} lost, ${duplicates} duplicated\n` +
        `latency p50 ${f(l.p50)} ms, p90 ${f(l.p90)}, p99 ${f(l.p99)}, p99.9 ${f(l.p999)}, max ${f(l.max)}\n` +
        `event loop delay p50 ${f(report.event_loop_delay_ms.p50)} ms, p99 ${f(report.event_loop_delay_ms.p99)}`,
    );
  }
  process.exitCode = report.lost === 0 && duplicates === 0 && refused === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
