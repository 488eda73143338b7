// The admin console end to end in Debian's Chromium: an administrator
// (made by `magpie admin bootstrap` in run.sh) signs in at /admin, sees
// the live figures, creates a user, imports two from a CSV file, disables
// one, works with departments; then, in fresh contexts, the created user
// signs in to the chat app and the disabled one is turned away; a plain
// user is refused at /admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const LINK = process.env.MAGPIE_BROWSER_LINK;
if (!LINK) throw new Error('MAGPIE_BROWSER_LINK is not set (run this through run.sh)');
const ORIGIN = new URL(LINK).origin;
const CHROMIUM = process.env.MAGPIE_BROWSER_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.MAGPIE_BROWSER_SCREENSHOTS;
const ADMIN = process.env.MAGPIE_BROWSER_ADMIN;
const ADMIN_PASSWORD = process.env.MAGPIE_BROWSER_ADMIN_PASSWORD;
if (!ADMIN || !ADMIN_PASSWORD) throw new Error('MAGPIE_BROWSER_ADMIN(_PASSWORD) is not set (run this through run.sh)');
const PLAIN = process.env.MAGPIE_BROWSER_PLAIN_USER || 'alice';
const PLAIN_PASSWORD = process.env.MAGPIE_PASSWORD;
const suffix = String(Date.now() % 1_000_000);
const CREATED = `carol${suffix}`;
const CREATED_PASSWORD = 'carol-long-password';
const IMPORTED_OK = `dave${suffix}`;
const IMPORTED_OFF = `erin${suffix}`;
const DEPT = `Dept <i>${suffix}</i>`;

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    timeout: 60_000,
  });
});
after(async () => {
  await browser?.close();
});

async function open(path, options = {}) {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1200, height: 800 }, ...options });
  context.setDefaultTimeout(15_000);
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
  await page.goto(ORIGIN + path);
  return { context, page, problems };
}

async function signIn(page, user, password) {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function shot(page, name) {
  if (!SHOTS) return;
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `admin-${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

const nav = (page, name) => page.locator('.nav').getByRole('button', { name, exact: true }).click();

test('an administrator manages users, imports a CSV and the departments; the users see the effect', async () => {
  const { context, page, problems } = await open('/admin');
  await signIn(page, ADMIN, ADMIN_PASSWORD);
  await page.waitForSelector('.layout');
  assert.equal(await page.locator('.main h2').textContent(), 'Overview');
  // The figures arrive, then refresh with rates from two samples.
  const connections = page.locator('[data-stat="connections"] .admin-stat-value');
  await connections.waitFor();
  assert.ok(Number(await connections.textContent()) >= 1);
  await page.waitForFunction(
    () => document.querySelector('[data-stat="messages"] .admin-stat-value')?.textContent !== '—',
    null,
    { timeout: 10_000 },
  );
  await shot(page, 'overview');

  // A department, to place users in.
  await nav(page, 'Departments');
  await page.getByLabel('Name', { exact: true }).fill(DEPT);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const deptRow = page.locator('.admin-tree-item', { hasText: DEPT });
  await deptRow.waitFor();
  assert.equal(await deptRow.locator('.admin-tree-name').textContent(), DEPT, 'the name is text, not markup');
  assert.equal(await page.locator('.admin-tree i').count(), 0);

  // Create a user in the Users page.
  await nav(page, 'Users');
  await page.getByRole('button', { name: 'New user' }).click();
  const form = page.getByRole('region', { name: 'New user' });
  await form.getByLabel('Username').fill(CREATED);
  await form.getByLabel('Nickname').fill('Carol <b>C</b>');
  await form.getByLabel('Password (empty: generate one)').fill(CREATED_PASSWORD);
  await form.getByLabel('Department').selectOption({ label: DEPT });
  await form.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByText(`Created ${CREATED}.`).waitFor();
  const carolRow = page.locator(`tr[data-user="${CREATED}"]`);
  await carolRow.waitFor();
  assert.equal(await carolRow.locator('td').nth(1).textContent(), 'Carol <b>C</b>');
  assert.equal(await carolRow.locator('td').nth(2).textContent(), DEPT);

  // Import two users from a CSV file (quotes, a comma in a field, one
  // generated password), and see a row per user.
  await page.getByRole('button', { name: 'Import CSV' }).click();
  const csv = [
    'Username,Nickname,Dept,Title,Password',
    `${IMPORTED_OK},"Dave, ""the"" first",${DEPT.includes(',') ? `"${DEPT}"` : DEPT},Engineer,dave-long-password`,
    `${IMPORTED_OFF},Erin,,,`,
    '',
  ].join('\r\n');
  await page.getByLabel('CSV file').setInputFiles({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByText('2 created, 0 failed.').waitFor();
  const imported = page.locator('table[aria-label="Import results"] tbody tr');
  assert.equal(await imported.count(), 2);
  assert.equal(await imported.nth(0).getAttribute('data-ok'), 'true');
  assert.equal(await imported.nth(1).getAttribute('data-ok'), 'true');
  assert.match(await imported.nth(1).textContent(), /Password, shown only now:/, 'a generated password is shown');
  await page.getByLabel('Search usernames').fill(IMPORTED_OK);
  await page.locator(`tr[data-user="${IMPORTED_OK}"]`).waitFor();
  assert.equal(await page.locator(`tr[data-user="${IMPORTED_OK}"] td`).nth(1).textContent(), 'Dave, "the" first');
  assert.equal(await page.locator('.admin-table tbody tr[data-user]').count(), 1, 'the search narrows the list');

  // Disable one of them.
  await page.getByLabel('Search usernames').fill(IMPORTED_OFF);
  const erinRow = page.locator(`tr[data-user="${IMPORTED_OFF}"]`);
  await erinRow.waitFor();
  await erinRow.getByRole('button', { name: `Disable ${IMPORTED_OFF}` }).click();
  await erinRow.getByText('Disabled', { exact: true }).waitFor();
  // And give it a password, so that it could sign in but for being disabled.
  await erinRow.getByRole('button', { name: `Edit ${IMPORTED_OFF}` }).click();
  await page.getByLabel('New password (empty: generate one)').fill('erin-long-password');
  await page.getByRole('button', { name: 'Reset password' }).click();
  await page.getByText('The password was changed').waitFor();
  await page.getByLabel('Search usernames').fill('');
  await page.locator(`tr[data-user="${CREATED}"]`).waitFor();
  await shot(page, 'users');

  // Departments: a sub-department, renamed, moved to the top, deleted; a
  // department with members cannot be deleted.
  await nav(page, 'Departments');
  await page.getByLabel('Name', { exact: true }).fill(`sub${suffix}`);
  await page.getByLabel('Parent department').selectOption({ label: DEPT });
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const sub = page.locator('.admin-tree-item', { hasText: `sub${suffix}` });
  await sub.waitFor();
  await sub.getByRole('button', { name: `Rename sub${suffix}` }).click();
  await sub.getByLabel('Name', { exact: true }).fill(`renamed${suffix}`);
  await sub.getByRole('button', { name: 'Save' }).click();
  const renamed = page.locator('.admin-tree-item', { hasText: `renamed${suffix}` });
  await renamed.waitFor();
  await shot(page, 'departments');
  await renamed.getByRole('button', { name: `Move renamed${suffix}` }).click();
  await renamed.getByLabel('Parent department').selectOption({ label: '(top level)' });
  await renamed.getByRole('button', { name: 'Move', exact: true }).last().click();
  await page.waitForFunction(
    (name) =>
      [...document.querySelectorAll('.admin-tree-item')].some(
        (li) => li.textContent.includes(name) && li.style.paddingInlineStart === '8px',
      ),
    `renamed${suffix}`,
  );
  const full = page.locator('.admin-tree-item', { hasText: DEPT });
  await full.getByRole('button', { name: `Delete ${DEPT}` }).click();
  await full.getByRole('button', { name: 'Confirm' }).click();
  await full.getByText('This department still has accounts or sub-departments').waitFor();
  const gone = page.locator('.admin-tree-item', { hasText: `renamed${suffix}` });
  await gone.getByRole('button', { name: `Delete renamed${suffix}` }).click();
  await gone.getByRole('button', { name: 'Confirm' }).click();
  await gone.waitFor({ state: 'detached' });

  // Groups: the list shows every group (none yet, or any the other tests
  // made); the page loads without errors.
  await nav(page, 'Groups');
  await page.locator('table[aria-label="Groups"]').waitFor();
  assert.deepEqual(problems, [], problems.join('\n'));

  // The created user reaches the chats; the disabled one is turned away.
  const carol = await open('/');
  await signIn(carol.page, CREATED, CREATED_PASSWORD);
  await carol.page.waitForSelector('.layout');
  assert.deepEqual(carol.problems, [], carol.problems.join('\n'));
  await carol.context.close();
  const erin = await open('/');
  await signIn(erin.page, IMPORTED_OFF, 'erin-long-password');
  const refusal = erin.page.locator('.sign-in [role="alert"]');
  await refusal.waitFor();
  assert.equal(await refusal.textContent(), 'This account is disabled. Ask your administrator.');
  assert.equal(await erin.page.locator('.layout').count(), 0);
  await erin.context.close();

  // Zh and a phone-sized screen: the console still works.
  await page.getByLabel('Language').selectOption('zh');
  await page.setViewportSize({ width: 390, height: 760 });
  await page.getByRole('button', { name: '返回' }).click();
  await nav(page, '概览');
  await page.locator('[data-stat="connections"]').waitFor();
  assert.equal(await page.locator('.main h2').textContent(), '概览');
  assert.equal(await page.locator('.sidebar').isVisible(), false, 'one pane at a time');
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'admin-overview-phone-zh.png') });
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('an administrator dissolves a group from the Groups page', async () => {
  const { context, page, problems } = await open('/admin');
  await signIn(page, ADMIN, ADMIN_PASSWORD);
  await page.waitForSelector('.layout');
  // A group owned by the plain user, made through the admin's own client
  // connection would not do: create it with a fresh WebSocket as the owner.
  const name = `group <b>${suffix}</b>`;
  const conv = await page.evaluate(
    async ({ user, password, name }) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      let id = 0;
      const waiting = new Map();
      ws.onmessage = (e) => {
        const frame = JSON.parse(e.data);
        if (frame.id !== undefined) waiting.get(frame.id)?.(frame);
      };
      await new Promise((ok) => (ws.onopen = ok));
      const call = (op, args) =>
        new Promise((ok) => {
          id += 1;
          waiting.set(id, ok);
          ws.send(JSON.stringify({ id, op, args }));
        });
      await call('hello', { version: 1 });
      await call('login', { user, password });
      const created = await call('group_create', { name, members: [] });
      ws.close();
      return created.result.conv;
    },
    { user: PLAIN, password: PLAIN_PASSWORD, name },
  );
  assert.ok(conv > 0);
  await nav(page, 'Groups');
  const row = page.locator(`tr[data-group="${name}"]`);
  await row.waitFor();
  assert.equal(await row.locator('td').nth(0).textContent(), name, 'the name is text');
  assert.equal(await row.locator('td').nth(1).textContent(), PLAIN);
  assert.equal(await row.locator('td').nth(2).textContent(), '1');
  await row.getByRole('button', { name: `Dissolve ${name}` }).click();
  await row.getByRole('button', { name: `Confirm dissolving ${name}` }).click();
  await page.getByText(`Dissolved ${name}.`).waitFor();
  await row.waitFor({ state: 'detached' });
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('a user who is not an administrator is refused at /admin', async () => {
  const { context, page, problems } = await open('/admin');
  await signIn(page, PLAIN, PLAIN_PASSWORD);
  await page.getByText('This account is not an administrator.').waitFor();
  assert.equal(await page.locator('.layout').count(), 0);
  // Nothing kept: a reload shows the sign-in again.
  await page.reload();
  await page.getByLabel('Username').waitFor();
  assert.equal(await page.locator('.layout').count(), 0);
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});
