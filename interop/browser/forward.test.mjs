// Forwarding in Debian's Chromium: three people (English and light,
// Chinese and dark, English and dark). A message and an image are
// forwarded from a 1:1 chat to a group and to another person, who see them
// marked as forwarded from their first sender; three messages are ticked
// and forwarded as one chat record, which shows as a card with its first
// lines and opens as a dialog listing all three with senders, in order,
// hostile text as text. The composer's icons are SVG with accessible names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EN, launch, person, png, shooter, signUp, ZH } from './app.mjs';

const suffix = String(Date.now() % 1_000_000);
const ALICE = `wdalice${suffix}`;
const BOB = `wdbob${suffix}`;
const CAROL = `wdcarol${suffix}`;
const GROUP = 'Forwarding 转发群';
const HOSTILE = '<img src=x onerror=alert(1)>';

const shot = shooter('forward');

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function say(page, label, text) {
  await page.getByLabel(label, { exact: true }).fill(text);
  await page.keyboard.press('Enter');
  await page.locator('.message:not(.pending) .body', { hasText: text }).first().waitFor();
}

/** The list row of the chat named exactly `name`. */
function chatRow(page, name) {
  return page.locator('.chat-row').filter({ has: page.locator('.chat-name').getByText(name, { exact: true }) });
}

/** Open a message's menu and pick an item. */
async function menu(page, message, actions, item) {
  await message.hover();
  await message.getByRole('button', { name: actions }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

/** In the open forward dialog, tick the chats named, then send. */
async function forwardTo(page, names, filterLabel, shotName) {
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  for (const name of names) {
    await dialog.getByLabel(filterLabel).fill(name);
    const target = dialog.locator('.forward-target', { hasText: name });
    assert.equal(await target.count(), 1, `the filter finds ${name} alone`);
    await target.getByRole('checkbox').check();
  }
  await dialog.getByLabel(filterLabel).fill('');
  assert.equal(await dialog.getByRole('checkbox', { checked: true }).count(), names.length);
  if (shotName) await shot(page, shotName);
  await dialog.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'detached' });
}

/** The buttons named are SVG icons (hidden from assistive technology),
 * with no emoji or other text inside. */
async function assertIcons(page, names) {
  for (const name of names) {
    const button = page.getByRole('button', { name, exact: true });
    assert.equal(await button.locator('svg').count(), 1, `${name} is an SVG icon`);
    assert.equal(await button.locator('svg').getAttribute('aria-hidden'), 'true');
    assert.equal((await button.textContent()).trim(), '', `${name} shows no emoji`);
  }
}

test('forward a message and an image to a group and a person, three messages as a chat record; SVG icons', async () => {
  const a = await person(browser, { locale: 'en-US', colorScheme: 'light' }, 20_000);
  const b = await person(browser, { locale: 'zh-CN', colorScheme: 'dark' }, 20_000);
  const c = await person(browser, { locale: 'en-US', colorScheme: 'dark' }, 20_000);
  await signUp(a.page, ALICE, EN);
  await signUp(b.page, BOB, ZH);
  await signUp(c.page, CAROL, EN);

  // The composer's attach and voice buttons are drawn icons with names.
  await a.page.getByLabel('Start a chat with a username').fill(CAROL);
  await a.page.getByRole('button', { name: 'Chat', exact: true }).click();
  await assertIcons(a.page, ['Attach files', 'Record a voice message']);

  // Alice has a 1:1 chat with Carol, a group with Bob and Carol, and a 1:1 with Bob.
  await say(a.page, 'Message', 'hello carol');
  await a.page.getByRole('button', { name: 'New group' }).click();
  await a.page.getByLabel('Group name').fill(GROUP);
  await a.page.getByLabel('Members', { exact: true }).fill(`${BOB}, ${CAROL}`);
  await a.page.getByRole('button', { name: 'Create', exact: true }).click();
  await a.page.locator('.chat-header h2', { hasText: GROUP }).waitFor();
  await a.page.getByLabel('Start a chat with a username').fill(BOB);
  await a.page.getByRole('button', { name: 'Chat', exact: true }).click();
  await say(a.page, 'Message', 'forward me please 转发');
  await chatRow(b.page, ALICE).click();
  await assertIcons(b.page, ['添加文件', '录制语音消息']);
  await say(b.page, '消息', 'bob says hi');
  await a.page.locator('.message:not(.mine) .body', { hasText: 'bob says hi' }).waitFor();
  await a.page.evaluate((text) => {
    const box = document.querySelector('#composer-input');
    box.value = text;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }, HOSTILE);
  await a.page.keyboard.press('Enter');
  await a.page.locator('.message:not(.pending) .body', { hasText: HOSTILE }).waitFor();
  await a.page
    .locator('[data-testid=attach-input]')
    .setInputFiles([{ name: 'gradient.png', mimeType: 'image/png', buffer: png(320, 200) }]);
  await a.page.locator('.message:not(.pending) .image-thumb img').waitFor();
  assert.equal(await a.page.locator('.forwarded-mark').count(), 0, 'nothing is forwarded yet');

  // Alice forwards Bob's message to the group and to Carol.
  await menu(a.page, a.page.locator('.message', { hasText: 'bob says hi' }), 'Message actions', 'Forward');
  await a.page.getByRole('dialog').getByRole('heading', { name: 'Forward a message' }).waitFor();
  await forwardTo(a.page, [GROUP, CAROL], 'Find a chat', 'dialog-en-light');
  const carolRow = chatRow(c.page, ALICE);
  await carolRow.click();
  const atCarol = c.page.locator('.message:not(.mine)', { hasText: 'bob says hi' });
  await atCarol.waitFor();
  assert.equal(await atCarol.locator('.forwarded-mark').textContent(), `Forwarded from ${BOB}`);
  await chatRow(b.page, GROUP).click();
  const inGroup = b.page.locator('.message:not(.mine)', { hasText: 'bob says hi' });
  await inGroup.waitFor();
  assert.equal(await inGroup.locator('.sender').textContent(), ALICE, 'Alice forwarded it');
  assert.equal(await inGroup.locator('.forwarded-mark').textContent(), `转发自 ${BOB}`);

  // The image, forwarded to Carol, arrives as an image of her own to open.
  await menu(a.page, a.page.locator('.message:has(.image-thumb)'), 'Message actions', 'Forward');
  await forwardTo(a.page, [CAROL], 'Find a chat');
  const image = c.page.locator('.message:not(.mine):has(.image-thumb)');
  await image.locator('.forwarded-mark', { hasText: `Forwarded from ${ALICE}` }).waitFor();
  await c.page.waitForFunction(() =>
    [...document.querySelectorAll('.message:not(.mine) .image-thumb img')].some((i) => i.naturalWidth > 0),
  );

  // Three messages, ticked in selection mode, go as one chat record to Carol and the group.
  await menu(
    a.page,
    a.page.locator('.message', { hasText: 'forward me please' }),
    'Message actions',
    'Select messages',
  );
  assert.equal(await a.page.getByLabel('Message', { exact: true }).isVisible(), false, 'the bar replaces the composer');
  await a.page.locator('.message', { hasText: 'bob says hi' }).getByRole('checkbox').check();
  await a.page.locator('.message', { hasText: HOSTILE }).getByRole('checkbox').check();
  await a.page.locator('.selection-count', { hasText: '3 selected' }).waitFor();
  await a.page.getByRole('button', { name: 'Forward as chat history' }).click();
  await a.page.getByRole('heading', { name: 'Forward 3 messages as chat history' }).waitFor();
  await forwardTo(a.page, [CAROL, GROUP], 'Find a chat');
  await a.page.getByLabel('Message', { exact: true }).waitFor();
  assert.equal(await a.page.locator('.select-box').count(), 0, 'selection mode ends');

  const card = c.page.locator('.message:not(.mine) .record-card');
  await card.waitFor();
  assert.equal(await card.locator('.record-card-title').textContent(), `Chat history of ${ALICE} and ${BOB}`);
  assert.deepEqual(await card.locator('.record-line').allTextContents(), [
    `${ALICE}: forward me please 转发`,
    `${BOB}: bob says hi`,
    `${ALICE}: ${HOSTILE}`,
  ]);
  await shot(c.page, 'card-en-dark');
  await card.click();
  const record = c.page.getByRole('dialog');
  await record.getByRole('heading', { name: `Chat history of ${ALICE} and ${BOB}` }).waitFor();
  assert.deepEqual(await record.locator('.record-from').allTextContents(), [ALICE, BOB, ALICE], 'senders, in order');
  assert.deepEqual(await record.locator('.record-text').allTextContents(), [
    'forward me please 转发',
    'bob says hi',
    HOSTILE,
  ]);
  assert.equal(await record.locator('time').count(), 3, 'each with its time');
  assert.equal(await record.locator('img').count(), 0, 'no markup from a record');
  await shot(c.page, 'record-en-dark');
  await c.page.keyboard.press('Escape');
  await record.waitFor({ state: 'detached' });

  // Bob, in Chinese, sees the same record in the group.
  const bobCard = b.page.locator('.message:not(.mine) .record-card');
  await bobCard.waitFor();
  assert.equal(await bobCard.locator('.record-card-title').textContent(), `${ALICE}和${BOB}的聊天记录`);
  await shot(b.page, 'card-zh-dark');
  await bobCard.click();
  await b.page.getByRole('dialog').locator('.record-item').nth(2).waitFor();
  assert.equal(await b.page.getByRole('dialog').locator('.record-item').count(), 3);
  await shot(b.page, 'record-zh-dark');
  await b.page.getByRole('button', { name: '关闭' }).click();

  // Bob ticks the forwarded message and the record and forwards them one
  // by one to Alice with a comment: the copy keeps its first sender, the
  // record stays a record, and the comment follows them.
  const plain = b.page.locator('.message:not(.mine):not(:has(.record-card))', { hasText: 'bob says hi' });
  await menu(b.page, plain, '消息操作', '多选');
  await b.page.locator('.message:has(.record-card)').getByRole('checkbox').check();
  await b.page.locator('.selection-count', { hasText: '已选 2 条' }).waitFor();
  await shot(b.page, 'selecting-zh-dark');
  await b.page.getByRole('button', { name: '逐条转发' }).click();
  await b.page.getByRole('heading', { name: '逐条转发 2 条消息' }).waitFor();
  await b.page.getByRole('dialog').getByLabel('留言（可选）').fill('看看这个');
  await forwardTo(b.page, [ALICE], '查找聊天', 'dialog-zh-dark');
  await a.page.locator('.message:not(.mine) .body', { hasText: '看看这个' }).waitFor();
  const lastThree = await a.page.evaluate(() =>
    [...document.querySelectorAll('.messages .message:not(.mine)')].slice(-3).map((m) => ({
      mark: m.querySelector('.forwarded-mark')?.textContent ?? null,
      record: m.querySelector('.record-card-title')?.textContent ?? null,
      body: m.querySelector('.body')?.textContent ?? null,
    })),
  );
  assert.deepEqual(lastThree, [
    { mark: `Forwarded from ${BOB}`, record: null, body: 'bob says hi' },
    { mark: null, record: `Chat history of ${ALICE} and ${BOB}`, body: null },
    { mark: null, record: null, body: '看看这个' },
  ]);
  await shot(a.page, 'received-en-light');

  // On a phone-sized screen the record still fits.
  await c.page.setViewportSize({ width: 390, height: 760 });
  await card.click();
  const fits = await c.page.evaluate(() => {
    const dialog = document.querySelector('.record-dialog').getBoundingClientRect();
    return dialog.left >= 0 && dialog.right <= window.innerWidth;
  });
  assert.ok(fits, 'the record dialog fits a phone screen');
  await shot(c.page, 'record-phone');
  await c.page.keyboard.press('Escape');

  for (const p of [a, b, c]) {
    assert.equal(await p.page.evaluate(() => window.__pwned ?? null), null, 'no hostile script ran');
    assert.deepEqual(p.problems, [], p.problems.join('\n'));
    await p.context.close();
  }
});
