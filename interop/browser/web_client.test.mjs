// The web client (/) and the admin console (/admin) in a real browser:
// Debian's Chromium, driven by playwright-core, against the server run.sh
// started. What plain HTTP (crates/magpie-server/tests/web.rs) cannot
// check: that under the pages' Content-Security-Policy their own script and
// styles run and nothing is blocked, that the language and theme follow
// the browser, switch and persist, that a narrow screen shows one pane, and
// that the page may open a WebSocket to its own server but connect nowhere
// else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const LINK = process.env.MAGPIE_BROWSER_LINK;
if (!LINK) throw new Error('MAGPIE_BROWSER_LINK is not set (run this through run.sh)');
const ORIGIN = new URL(LINK).origin; // http://127.0.0.1:PORT
const CHROMIUM = process.env.MAGPIE_BROWSER_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.MAGPIE_BROWSER_SCREENSHOTS;

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
});

after(async () => {
  await browser?.close();
});

/** A page in a fresh context, recording everything that went wrong on it. */
async function open(path, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
  });
  const response = await page.goto(ORIGIN + path);
  await page.waitForSelector('.layout, .sign-in');
  return { context, page, response, problems };
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `web-${name}.png`) });
}

const rootState = (page) =>
  page.evaluate(() => ({
    lang: document.documentElement.lang,
    theme: document.documentElement.dataset.theme ?? null,
    title: document.title,
    background: getComputedStyle(document.body).backgroundColor,
  }));

test('the chat app and the admin console run under their CSP with nothing blocked', async () => {
  for (const [path, title] of [
    ['/', 'Magpie'],
    ['/admin', 'Magpie admin console'],
  ]) {
    const { context, page, response, problems } = await open(path, { locale: 'en-US', colorScheme: 'light' });
    const csp = response.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-/);
    const state = await rootState(page);
    assert.equal(state.title, title, path);
    assert.equal(state.lang, 'en', path);
    // The stylesheet applied (the light theme's main background).
    assert.equal(state.background, 'rgb(241, 242, 244)', path);
    await shot(page, path === '/' ? 'app' : 'admin');
    assert.deepEqual(problems, [], `${path}: ${problems.join('\n')}`);
    await context.close();
  }
});

test('language and theme follow the browser, switch, and persist', async () => {
  const { context, page, problems } = await open('/', { locale: 'zh-CN', colorScheme: 'dark' });
  let state = await rootState(page);
  assert.equal(state.lang, 'zh-CN');
  assert.equal(state.title, '喜鹊');
  assert.equal(state.theme, null, 'following the system');
  assert.equal(state.background, 'rgb(18, 18, 20)', 'the dark theme');

  await page.getByLabel('主题').selectOption('light');
  await page.getByLabel('语言').selectOption('en');
  state = await rootState(page);
  assert.equal(state.lang, 'en');
  assert.equal(state.title, 'Magpie');
  assert.equal(state.theme, 'light');
  assert.equal(state.background, 'rgb(241, 242, 244)');

  await page.reload();
  await page.waitForSelector('.layout, .sign-in');
  assert.deepEqual(await rootState(page), state, 'the choices survive a reload');
  // And they hold on the admin console, on the same origin.
  await page.goto(`${ORIGIN}/admin`);
  await page.waitForSelector('.layout, .sign-in');
  const admin = await rootState(page);
  assert.equal(admin.lang, 'en');
  assert.equal(admin.theme, 'light');
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('a narrow screen shows one pane at a time', async () => {
  const { context, page, problems } = await open('/admin', {
    locale: 'en-US',
    viewport: { width: 390, height: 760 },
  });
  // The console's sections show once an administrator signed in.
  await page.getByLabel('Username').fill(process.env.MAGPIE_BROWSER_ADMIN);
  await page.getByLabel('Password').fill(process.env.MAGPIE_BROWSER_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForSelector('.layout');
  const visible = (selector) => page.locator(selector).isVisible();
  assert.equal(await visible('.sidebar'), true);
  assert.equal(await visible('.main'), false);
  await page.getByRole('button', { name: 'Users' }).click();
  assert.equal(await visible('.sidebar'), false);
  assert.equal(await visible('.main'), true);
  assert.equal(await page.locator('.main h2').textContent(), 'Users');
  await shot(page, 'admin-narrow');
  await page.getByRole('button', { name: 'Back' }).click();
  assert.equal(await visible('.sidebar'), true);
  await page.setViewportSize({ width: 1000, height: 700 });
  assert.equal(await visible('.main'), true, 'both panes when wide');
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('the page reaches its own server over WebSocket, and nothing elsewhere', async () => {
  const { context, page, problems } = await open('/', { locale: 'en-US' });
  const ws = await page.evaluate(
    () =>
      new Promise((done) => {
        const socket = new WebSocket(`ws://${location.host}/ws`);
        socket.onopen = () => {
          socket.close();
          done('open');
        };
        socket.onerror = () => done('error');
      }),
  );
  assert.equal(ws, 'open');
  assert.deepEqual(problems, [], problems.join('\n'));
  // The same server under another name is another origin: blocked.
  const elsewhere = ORIGIN.replace('127.0.0.1', 'localhost');
  assert.notEqual(elsewhere, ORIGIN);
  const fetched = await page.evaluate(
    (url) => fetch(url).then(() => 'fetched', () => 'blocked'),
    `${elsewhere}/healthz`,
  );
  assert.equal(fetched, 'blocked');
  assert.ok(
    problems.some((p) => p.includes('Content Security Policy')),
    `the CSP said why: ${problems.join('\n')}`,
  );
  await context.close();
});
