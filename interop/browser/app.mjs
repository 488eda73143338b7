// What the web client's browser tests share: the server run.sh started,
// Debian's Chromium, a person (a browser context with one page on the app,
// and every page error, console error and dialog seen on it), signing up,
// and screenshots when MAGPIE_BROWSER_SCREENSHOTS names a directory.
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const LINK = process.env.MAGPIE_BROWSER_LINK;
if (!LINK) throw new Error('MAGPIE_BROWSER_LINK is not set (run this through run.sh)');
/** The server under test, as the browser reaches it. */
export const ORIGIN = new URL(LINK).origin;
/** Every account the tests make has this password. */
export const PASSWORD = 'browser-test-long-password';
const CHROMIUM = process.env.MAGPIE_BROWSER_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.MAGPIE_BROWSER_SCREENSHOTS;

/** The sign-up form's words in each language. */
export const EN = { toRegister: 'No account? Create one', username: 'Username', password: 'Password', register: 'Create account' };
export const ZH = { toRegister: '没有账号？注册一个', username: '用户名', password: '密码', register: '注册' };

/** Headless Chromium, with `extraArgs` (e.g. a fake microphone). */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync', ...extraArgs],
    timeout: 60_000,
  });
}

/**
 * A person: a new context (`options` as playwright's newContext takes
 * them) with one page on the app, and `problems`, every page error,
 * console error and dialog on it, for the test to assert empty.
 */
export async function person(browser, options = {}, timeout = 15_000) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...options });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(ORIGIN + '/');
  return { context, page, problems };
}

/** Create the account on the sign-in page and wait for the app. */
export async function signUp(page, user, words = EN) {
  await page.getByRole('button', { name: words.toRegister }).click();
  await page.getByLabel(words.username).fill(user);
  await page.getByLabel(words.password).fill(PASSWORD);
  await page.getByRole('button', { name: words.register, exact: true }).click();
  await page.waitForSelector('.layout');
}

/** A screenshot function for one test file: `shot(page, name)` writes
 * `<area>-<name>.png` when screenshots are asked for. */
export function shooter(area) {
  return async (page, name) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${area}-${name}.png`) });
  };
}

/** A w×h RGB PNG, a gradient. */
export function png(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) row.set([(x * 255) / w, (y * 255) / h, 160], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
