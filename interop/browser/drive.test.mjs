// The drive in the web client, end to end in Debian's Chromium: Alice (in
// English and light, on two devices) makes folders, one named in Chinese
// and one like markup, uploads two files into a folder through the page's
// file input and sees them on her second device without a reload; renames
// and moves them, deletes to the bin and restores, empties the bin and
// sees the quota go down, downloads byte for byte, shares a folder with a
// code, opens the link in a fresh context without an account to download
// from it, then revokes it and sees the link refused. Bob (in Chinese and
// dark) sends her a file in a chat, and she saves it to her drive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EN, launch, ORIGIN, PASSWORD, person, shooter, signUp, ZH } from './app.mjs';

const suffix = String(Date.now() % 1_000_000);
const ALICE = `dalice${suffix}`;
const BOB = `dbob${suffix}`;

const CHINESE = '季度报告 2026';
const HOSTILE = '<img src=x onerror=alert(1)>';
const NOTES = 'notes.txt';
const DATA = 'data.bin';
const notes = Buffer.concat([Buffer.from('会议纪要\n<b>not markup</b>\n'), randomBytes(20_000)]);
const data = randomBytes(300_000);

const shot = shooter('drive');

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function signIn(page, user) {
  await page.getByLabel(EN.username).fill(user);
  await page.getByLabel(EN.password).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForSelector('.layout');
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

/** Wait until the drive's list shows exactly `want`, in order. */
async function listed(page, want, what = 'the drive list') {
  const names = () => page.locator('.drive-table .drive-name').allTextContents();
  await page
    .waitForFunction(
      (w) => JSON.stringify([...document.querySelectorAll('.drive-table .drive-name')].map((e) => e.textContent)) === w,
      JSON.stringify(want),
      { timeout: 15_000 },
    )
    .catch(() => undefined);
  assert.deepEqual(await names(), want, what);
}

/** Open an entry's menu and pick one of its actions. */
async function act(page, name, action, words = { actions: (n) => `Actions for ${n}` }) {
  await page.getByRole('button', { name: words.actions(name), exact: true }).click();
  await page.getByRole('menuitem', { name: action, exact: true }).click();
}

/** The bytes the storage bar says are used. */
async function used(page) {
  return Number(await page.locator('.drive-quota').getAttribute('data-used'));
}

async function waitUsed(page, want) {
  await page
    .waitForFunction((w) => Number(document.querySelector('.drive-quota')?.getAttribute('data-used')) === w, want, {
      timeout: 15_000,
    })
    .catch(() => undefined);
  assert.equal(await used(page), want, 'the storage used');
}

test('the drive: folders, uploads seen on a second device, rename, move, bin, quota, download, share links, save from a chat', async () => {
  const a = await person(browser, { acceptDownloads: true, locale: 'en-US', colorScheme: 'light' }, 20_000);
  const b = await person(browser, { acceptDownloads: true, locale: 'zh-CN', colorScheme: 'dark' }, 20_000);
  await signUp(a.page, ALICE, EN);
  await signUp(b.page, BOB, ZH);
  await a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ORIGIN });
  // Alice's second device: another browser, signed in to the same account.
  const a2 = await person(browser, { acceptDownloads: true, locale: 'en-US', colorScheme: 'light' }, 20_000);
  await signIn(a2.page, ALICE);
  for (const p of [a.page, a2.page]) {
    await p.getByRole('tab', { name: 'Drive' }).click();
    await p.locator('.drive .empty', { hasText: 'This folder is empty' }).waitFor();
    await p.locator('.drive-quota').waitFor();
  }
  const empty = await used(a.page);

  // Two folders: a Chinese name, and one named like markup (text, never HTML).
  for (const name of [CHINESE, HOSTILE]) {
    await a.page.getByRole('button', { name: 'New folder' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'New folder' });
    await dialog.getByLabel('Folder name').fill(name);
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'detached' });
  }
  await listed(a.page, [HOSTILE, CHINESE], 'folders by name, code point order');
  await listed(a2.page, [HOSTILE, CHINESE], 'the second device follows without a reload');
  for (const p of [a.page, a2.page]) {
    assert.equal(await p.locator('.drive img, .drive b').count(), 0, 'no markup from a folder name');
  }
  // A name already taken is refused in the dialog, which stays open.
  await a.page.getByRole('button', { name: 'New folder' }).click();
  const again = a.page.getByRole('dialog', { name: 'New folder' });
  await again.getByLabel('Folder name').fill(CHINESE);
  await again.getByRole('button', { name: 'Create' }).click();
  await again.getByRole('alert').filter({ hasText: 'already taken' }).waitFor();
  await a.page.keyboard.press('Escape');
  await again.waitFor({ state: 'detached' });

  // Both devices open the Chinese folder; Alice uploads two files at once.
  for (const p of [a.page, a2.page]) {
    await p.getByRole('button', { name: CHINESE, exact: true }).click();
    await p.locator('.drive-crumbs [aria-current="page"]', { hasText: CHINESE }).waitFor();
  }
  await a.page.locator('[data-testid=drive-upload-input]').setInputFiles([
    { name: NOTES, mimeType: 'text/plain', buffer: notes },
    { name: DATA, mimeType: 'application/octet-stream', buffer: data },
  ]);
  await listed(a.page, [DATA, NOTES]);
  await listed(a2.page, [DATA, NOTES], 'the uploads show on the second device without a reload');
  await a.page.locator('.drive-uploads').waitFor({ state: 'detached' });
  await waitUsed(a.page, empty + notes.length + data.length);
  await shot(a.page, 'list-en-light');

  // A big upload, slowed down: pause, resume, cancel; nothing is placed.
  await a.page.route('**/api/uploads/*', async (route) => {
    if (route.request().method() === 'PATCH') await new Promise((done) => setTimeout(done, 700));
    await route.continue().catch(() => undefined);
  });
  await a.page
    .locator('[data-testid=drive-upload-input]')
    .setInputFiles([{ name: 'big.bin', mimeType: 'application/octet-stream', buffer: randomBytes(8 * 1024 * 1024) }]);
  const going = a.page.locator('.drive-upload', { hasText: 'big.bin' });
  await going.getByRole('button', { name: 'Pause' }).click();
  await going.getByRole('button', { name: 'Resume' }).click();
  await a.page.waitForFunction(() => Number(document.querySelector('.drive-upload progress')?.value) >= 25);
  await shot(a.page, 'uploading');
  await going.getByRole('button', { name: 'Cancel upload big.bin' }).click();
  await going.waitFor({ state: 'detached' });
  await a.page.unrouteAll({ behavior: 'ignoreErrors' });
  await a.page.waitForTimeout(1000);
  await listed(a.page, [DATA, NOTES], 'a cancelled upload places nothing');

  // Rename; the other device follows.
  await act(a.page, NOTES, 'Rename');
  const rename = a.page.getByRole('dialog', { name: `Rename ${NOTES}` });
  await rename.getByLabel('New name').fill('纪要.txt');
  await rename.getByRole('button', { name: 'Rename' }).click();
  await listed(a.page, [DATA, '纪要.txt']);
  await listed(a2.page, [DATA, '纪要.txt'], 'a rename shows on the second device');

  // Move the data into the other folder with the folder picker.
  await act(a.page, DATA, 'Move');
  const move = a.page.getByRole('dialog', { name: `Move ${DATA}` });
  await move.getByRole('button', { name: `Open folder ${HOSTILE}` }).click();
  await move.getByRole('navigation').getByRole('button', { name: HOSTILE }).waitFor();
  await move.getByRole('button', { name: 'Move here' }).click();
  await move.waitFor({ state: 'detached' });
  await listed(a.page, ['纪要.txt']);
  await listed(a2.page, ['纪要.txt'], 'a move shows on the second device');
  await a.page.getByRole('navigation', { name: 'My drive' }).getByRole('button', { name: 'My drive' }).click();
  await a.page.getByRole('button', { name: HOSTILE, exact: true }).click();
  await listed(a.page, [DATA]);

  // Download it byte for byte from its signed link.
  await a.page.getByRole('button', { name: `Actions for ${DATA}`, exact: true }).click();
  const [dl] = await Promise.all([
    a.page.waitForEvent('download'),
    a.page.getByRole('menuitem', { name: 'Download' }).click(),
  ]);
  assert.equal(sha(await readFile(await dl.path())), sha(data), 'the download is the upload');
  assert.match(dl.url(), /\/api\/files\/[0-9a-f]{32}\?exp=\d+&sig=/);

  // Search (any case, any script) and recent files find them wherever they are.
  await a.page.getByLabel('Search the drive').fill('要.T');
  await a.page.getByRole('button', { name: 'Search', exact: true }).click();
  await a.page.getByRole('heading', { name: 'Results for “要.T”' }).waitFor();
  await listed(a.page, ['纪要.txt'], 'search results');
  await a.page.getByRole('button', { name: 'Recent', exact: true }).click();
  await a.page.locator('.drive-table .drive-name').nth(1).waitFor();
  const recent = await a.page.locator('.drive-table .drive-name').allTextContents();
  assert.deepEqual(recent.sort(), [DATA, '纪要.txt'].sort(), 'recent files');
  await act(a.page, '纪要.txt', 'Show in folder');
  await a.page.locator('.drive-crumbs [aria-current="page"]', { hasText: CHINESE }).waitFor();

  // Delete to the bin; restore; delete again and empty the bin: the quota goes down.
  await act(a.page, '纪要.txt', 'Delete');
  await listed(a.page, []);
  await listed(a2.page, [], 'a deletion shows on the second device');
  await a.page.getByRole('button', { name: 'Bin', exact: true }).click();
  await listed(a.page, ['纪要.txt'], 'the bin');
  await a.page.locator('.drive-purge-at').waitFor();
  await shot(a.page, 'bin');
  await a.page.getByRole('button', { name: 'Restore 纪要.txt' }).click();
  await listed(a.page, [], 'restored: the bin is empty');
  await a.page.getByRole('button', { name: 'My drive', exact: true }).first().click();
  await a.page.getByRole('button', { name: CHINESE, exact: true }).click();
  await listed(a.page, ['纪要.txt'], 'back where it was');
  await listed(a2.page, ['纪要.txt'], 'restored on the second device too');
  await act(a.page, '纪要.txt', 'Delete');
  await listed(a.page, []);
  const before = await used(a.page);
  assert.equal(before, empty + notes.length + data.length, 'the bin still counts against the quota');
  await a.page.getByRole('button', { name: 'Bin', exact: true }).click();
  await listed(a.page, ['纪要.txt']);
  await a.page.getByRole('button', { name: 'Empty the bin' }).click();
  const confirm = a.page.getByRole('dialog', { name: 'Empty the bin' });
  await confirm.getByRole('button', { name: 'Delete for good' }).click();
  await confirm.waitFor({ state: 'detached' });
  await a.page.locator('.drive .empty', { hasText: 'The bin is empty.' }).waitFor();
  await waitUsed(a.page, before - notes.length);
  await waitUsed(a2.page, before - notes.length);
  await a2.page.getByRole('button', { name: 'My drive', exact: true }).first().click();
  await listed(a2.page, [HOSTILE, CHINESE]);

  // Share the folder named like markup, with a code chosen here.
  await a.page.getByRole('button', { name: 'My drive', exact: true }).first().click();
  await listed(a.page, [HOSTILE, CHINESE]);
  await act(a.page, HOSTILE, 'Share');
  const share = a.page.getByRole('dialog', { name: `Share ${HOSTILE}` });
  await share.getByLabel(/Extraction code/).fill('Drive7');
  await share.getByLabel('Link expires').selectOption({ label: 'In 1 day' });
  await share.getByLabel(/Download limit/).fill('5');
  await share.getByRole('button', { name: 'Create link' }).click();
  const link = await share.getByLabel('Link', { exact: true }).inputValue();
  const code = await share.getByLabel('Extraction code', { exact: true }).inputValue();
  assert.match(link, new RegExp(`^${ORIGIN}/s/[0-9a-f]{32}$`));
  assert.equal(code, 'drive7', 'codes are kept in lower case');
  await share.getByRole('button', { name: 'Copy Link', exact: true }).click();
  await share.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
  assert.equal(await a.page.evaluate(() => navigator.clipboard.readText()), link, 'the link is on the clipboard');
  await shot(a.page, 'share-dialog');
  await share.getByRole('button', { name: 'Close' }).click();

  // Someone without an account opens the link, types the code, downloads.
  const stranger = await person(browser, { acceptDownloads: true, locale: 'en-US' }, 20_000);
  await stranger.page.goto(link);
  await stranger.page.locator('#code').fill(code.toUpperCase());
  await Promise.all([stranger.page.waitForEvent('load'), stranger.page.getByRole('button', { name: 'Open' }).click()]);
  assert.equal(await stranger.page.locator('h1').textContent(), HOSTILE);
  const [shared] = await Promise.all([
    stranger.page.waitForEvent('download'),
    stranger.page.getByRole('link', { name: DATA, exact: true }).click(),
  ]);
  assert.equal(sha(await readFile(await shared.path())), sha(data), 'the shared download is the file');

  // Bob, signed in, saves the shared folder into his drive from the link and its code.
  await b.page.getByRole('tab', { name: '网盘' }).click();
  await b.page.getByRole('button', { name: '从链接转存' }).click();
  const saveLink = b.page.getByRole('dialog', { name: '从链接转存' });
  await saveLink.getByLabel('分享链接').fill(`${link}?pwd=${code}`);
  assert.equal(await saveLink.getByLabel('提取码').inputValue(), code, 'the code comes with the link');
  await saveLink.getByRole('button', { name: '转存到这里' }).click();
  await saveLink.waitFor({ state: 'detached' });
  await listed(b.page, [HOSTILE], 'saved from the link');
  await b.page.getByRole('button', { name: HOSTILE, exact: true }).click();
  await listed(b.page, [DATA], 'with what is inside');

  // My shares: the link with its counts; revoking it refuses the link at once.
  await a.page.getByRole('button', { name: 'My shares', exact: true }).click();
  const row = a.page.locator('.drive-share', { hasText: HOSTILE });
  await row.waitFor();
  assert.equal(await row.getByLabel('Extraction code', { exact: true }).inputValue(), code);
  await row.locator('.drive-share-meta', { hasText: '1 of 5 downloads' }).waitFor();
  await row.locator('.drive-share-meta', { hasText: '1 saves' }).waitFor();
  await row.getByRole('button', { name: `Revoke ${HOSTILE}` }).click();
  await row.waitFor({ state: 'detached' });
  await a.page.locator('.drive .empty', { hasText: 'No share links yet.' }).waitFor();
  const refused = await stranger.page.reload();
  assert.equal(refused.status(), 404);
  assert.equal(await stranger.page.locator('h1').textContent(), 'Link unavailable');
  await stranger.context.close();

  // Bob, in Chinese: friends with Alice, he sends her a file in a chat.
  await a.page.getByRole('tab', { name: 'Contacts' }).click();
  await a.page.getByLabel('Add a friend by username').fill(BOB);
  await a.page.getByRole('button', { name: 'Add', exact: true }).click();
  await b.page.getByRole('tab', { name: /通讯录/ }).click();
  await b.page.getByRole('button', { name: '接受' }).click();
  await b.page.locator('.contacts .chat-row', { hasText: ALICE }).click();
  const gift = Buffer.concat([Buffer.from('来自 Bob 的文件\n'), randomBytes(40_000)]);
  await b.page
    .locator('[data-testid=attach-input]')
    .setInputFiles([{ name: '礼物.bin', mimeType: 'application/octet-stream', buffer: gift }]);
  await a.page.getByRole('tab', { name: 'Chats' }).click();
  await a.page.locator('.chat-row', { hasText: BOB }).click();
  const card = a.page.locator('.messages .file-message', { hasText: '礼物.bin' });
  await card.waitFor();
  await card.getByRole('button', { name: 'Save to my drive: 礼物.bin' }).click();
  await card.getByRole('status').filter({ hasText: 'Saved to your drive.' }).waitFor();
  await shot(a.page, 'saved-from-chat');
  await a.page.getByRole('tab', { name: 'Drive' }).click();
  await a.page.getByRole('button', { name: 'My drive', exact: true }).first().click();
  await listed(a.page, [HOSTILE, CHINESE, '礼物.bin'], 'the saved file is in the drive');
  await listed(a2.page, [HOSTILE, CHINESE, '礼物.bin'], 'and on the second device');
  await waitUsed(a.page, before - notes.length + gift.length);

  // Bob's drive, in Chinese and dark, and at a phone's width.
  await b.page.getByRole('tab', { name: '网盘' }).click();
  await b.page.getByRole('button', { name: '我的网盘' }).first().click();
  await b.page.getByRole('button', { name: '新建文件夹' }).click();
  await b.page.getByRole('dialog').getByLabel('文件夹名称').fill('照片');
  await b.page.getByRole('dialog').getByRole('button', { name: '创建' }).click();
  await listed(b.page, [HOSTILE, '照片']);
  await shot(b.page, 'list-zh-dark');
  await b.page.setViewportSize({ width: 390, height: 760 });
  await b.page.getByRole('button', { name: '返回' }).last().click();
  await b.page.locator('.drive-quota').waitFor();
  await shot(b.page, 'phone-nav');
  await b.page.getByRole('button', { name: '我的网盘' }).first().click();
  await listed(b.page, [HOSTILE, '照片']);
  await shot(b.page, 'phone-list');

  assert.deepEqual(a.problems, []);
  assert.deepEqual(a2.problems, []);
  assert.deepEqual(b.problems, []);
  // The revoked link's page is itself a 404, which Chromium logs.
  const own404 = /Failed to load resource: the server responded with a status of 404/;
  assert.deepEqual(
    stranger.problems.filter((p) => !own404.test(p)),
    [],
  );
});
