// A conversation of 10,000 messages in Debian's Chromium: the chat view
// opens on the newest, loads history page by page as the reader scrolls
// up, keeps only the rows near the viewport in the DOM (the list is
// virtualised), and shows every message once, in seq order, top to bottom.
//
// It runs its own server (MAGPIE_BIN) with the send rate limit off: at the
// default 50 messages per second the seeding alone would take minutes.
// Frame times while scrolling are printed for docs/BENCHMARKS.md, never
// asserted (this machine is shared and noisy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.MAGPIE_BIN;
if (!BIN) throw new Error('MAGPIE_BIN is not set (run this through run.sh)');
const CHROMIUM = process.env.MAGPIE_BROWSER_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.MAGPIE_BROWSER_SCREENSHOTS;
const COUNT = Number(process.env.SCROLL_COUNT ?? 10_000);
const PASSWORD = 'scroll-test-long-password';
const suffix = String(Date.now() % 1_000_000);
const READER = `reader${suffix}`;
const WRITER = `writer${suffix}`;
/** Rows in the DOM at most: a screenful plus the overscan, never the history. */
const MAX_ROWS = 150;

let browser;
let server;
let work;
let origin;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'magpie-scroll-'));
  const [tcp, http] = [await freePort(), await freePort()];
  server = spawn(
    BIN,
    [
      'serve',
      '--data-dir', join(work, 'data'),
      '--listen-tcp', `127.0.0.1:${tcp}`,
      '--listen-http', `127.0.0.1:${http}`,
      '--send-rate-per-user', 'off',
      '--log', 'warn',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('magpie serving')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`the server exited with ${code} before serving`)));
  });
  origin = `http://127.0.0.1:${http}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    timeout: 60_000,
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
  if (work) await rm(work, { recursive: true, force: true });
});

/** The writer's messages, straight over the page's own WebSocket (the
 * protocol, not the app): register, log in, then `send` pipelined in
 * windows of 500, each answered before the next window. */
function seed(page) {
  return page.evaluate(
    async ({ url, user, peer, password, count }) => {
      const ws = new WebSocket(url);
      const waiting = new Map();
      let next = 0;
      ws.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        const settle = waiting.get(frame.id);
        if (settle === undefined) return;
        waiting.delete(frame.id);
        settle(frame);
      };
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('the seeding WebSocket failed'));
      });
      const call = async (op, args) => {
        const id = next++;
        const frame = await new Promise((resolve) => {
          waiting.set(id, resolve);
          ws.send(JSON.stringify({ id, op, args }));
        });
        if (frame.error !== undefined) throw new Error(`${op}: ${frame.error.code} ${frame.error.message}`);
        return frame.result;
      };
      await call('hello', { version: 1, client: 'scroll-test-seed' });
      await call('register', { user, password });
      await call('login', { user, password, platform: 'web' });
      for (let start = 0; start < count; start += 500) {
        const window = [];
        for (let i = start; i < Math.min(count, start + 500); i++) {
          window.push(call('send', { to: peer, cmid: `scroll-${i}`, body: `message ${i + 1}` }));
        }
        await Promise.all(window);
      }
      ws.close();
    },
    { url: origin.replace('http', 'ws') + '/ws', user: WRITER, peer: READER, password: PASSWORD, count: COUNT },
  );
}

test('10,000 messages: history loads on scroll, the DOM stays small, every message once and in order', async () => {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 760 } });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(origin + '/');
  await page.getByRole('button', { name: 'No account? Create one' }).click();
  await page.getByLabel('Username').fill(READER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await page.waitForSelector('.layout');

  const seeding = Date.now();
  await seed(page);
  console.log(`# seeded ${COUNT} messages in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);

  const row = page.locator('.chat-row', { hasText: WRITER });
  // The badge says 99+; its label carries the count.
  await row.locator(`.badge[aria-label^="${COUNT} "]`).waitFor();
  await row.click();
  await page.locator('.messages .body', { hasText: `message ${COUNT}` }).waitFor();

  // Up to the first message: each scroll to the top loads an older page.
  const list = page.locator('.messages');
  const lowestSeq = () => list.evaluate((el) => Math.min(...[...el.querySelectorAll('[data-seq]')].map((m) => Number(m.dataset.seq))));
  let mostRows = 0;
  const climbing = Date.now();
  for (let lowest = await lowestSeq(); lowest > 1; ) {
    await list.evaluate((el) => (el.scrollTop = 0));
    await page.waitForFunction(
      (before) => Math.min(...[...document.querySelectorAll('.messages [data-seq]')].map((m) => Number(m.dataset.seq))) < before,
      lowest,
    );
    lowest = await lowestSeq();
    mostRows = Math.max(mostRows, await list.locator('.row').count());
  }
  const climbSeconds = (Date.now() - climbing) / 1000;
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'scroll-top.png') });

  // Down again, a screen at a time, reading every row and timing frames.
  const walk = await list.evaluate(async (el) => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const seen = new Map();
    const frames = [];
    let rows = 0;
    el.scrollTop = 0;
    await frame();
    for (;;) {
      for (const m of el.querySelectorAll('[data-seq]')) {
        seen.set(Number(m.dataset.seq), m.querySelector('.body')?.textContent ?? '');
      }
      rows = Math.max(rows, el.querySelectorAll('.row').length);
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) break;
      const start = performance.now();
      el.scrollTop += el.clientHeight * 0.9;
      await frame();
      await frame();
      frames.push(performance.now() - start);
    }
    return { seen: [...seen.entries()], rows, frames };
  });
  mostRows = Math.max(mostRows, walk.rows);

  const seqs = walk.seen.map(([seq]) => seq).sort((a, b) => a - b);
  assert.equal(seqs.length, COUNT, 'every message was on screen once on the way down');
  assert.equal(seqs[0], 1);
  assert.equal(seqs[COUNT - 1], COUNT, 'no gap: the seqs are 1..10000');
  const bySeq = new Map(walk.seen);
  for (let seq = 1; seq <= COUNT; seq++) {
    assert.equal(bySeq.get(seq), `message ${seq}`, `seq ${seq} holds the message sent ${seq}th`);
  }
  assert.ok(mostRows <= MAX_ROWS, `at most ${MAX_ROWS} rows in the DOM, saw ${mostRows}`);

  const frames = walk.frames.sort((a, b) => a - b);
  const at = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))].toFixed(1);
  console.log(
    `# scrolled ${COUNT} messages: history to the top in ${climbSeconds.toFixed(1)} s; ` +
      `${frames.length} screenfuls down, two frames each: median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms; ` +
      `at most ${mostRows} rows in the DOM`,
  );
  assert.deepEqual(problems, []);
  await context.close();
});
