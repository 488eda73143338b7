// The people screens end to end in Debian's Chromium: two people in two
// browser contexts (one in English and light, one in Chinese and dark).
// Alice finds Bob and asks him to be friends with a note; she edits her
// profile (a hostile nickname, a signature with an RTL override, an
// avatar upload) and Bob sees all of it as text, with the image loaded;
// Bob gives her a remark and moves her into a new category; statuses
// (busy, away) reach the other screen; the administrator builds two
// departments and the Directory tab shows them, live, with presence;
// a block refuses Bob's message as the server defines it, and unblocking
// lets the next one through.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EN, launch, PASSWORD, person, shooter, signUp, ZH } from './app.mjs';

const ADMIN = process.env.MAGPIE_BROWSER_ADMIN;
const ADMIN_PASSWORD = process.env.MAGPIE_BROWSER_ADMIN_PASSWORD;
if (!ADMIN || !ADMIN_PASSWORD) throw new Error('MAGPIE_BROWSER_ADMIN(_PASSWORD) is not set (run this through run.sh)');
const suffix = String(Date.now() % 1_000_000);
const ALICE = `palice${suffix}`;
const BOB = `pbob${suffix}`;
const HOSTILE = '<img src=x onerror=alert(1)>';
const RTL = '\u202Eevil\u202C signature';
const REMARK = '同事小A';
const CATEGORY = `同学 ${suffix}`;
const DEPT = `R&D <b>${suffix}</b>`;
const SUB = `\u202Esales\u202C ${suffix}`;

const shot = shooter('people');

let browser;
let a;
let b;
before(async () => {
  browser = await launch();
  a = await person(browser, { locale: 'en-US', colorScheme: 'light', viewport: { width: 1100, height: 800 } });
  b = await person(browser, { locale: 'zh-CN', colorScheme: 'dark', viewport: { width: 1100, height: 800 } });
  await signUp(a.page, ALICE, EN);
  await signUp(b.page, BOB, ZH);
});
after(async () => {
  await browser?.close();
});

/** Operations as another account, over a WebSocket of its own opened in
 * `page` (the administrator's, here): the results, in order. */
async function callAs(page, user, password, calls) {
  return page.evaluate(
    async ({ user, password, calls }) => {
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
          ws.send(JSON.stringify(args === undefined ? { id, op } : { id, op, args }));
        });
      await call('hello', { version: 1 });
      const login = await call('login', { user, password });
      if (login.error) throw new Error(`login: ${JSON.stringify(login.error)}`);
      const results = [];
      for (const [op, args] of calls) {
        // A later call may use an earlier result: "$0.id" is results[0].id.
        const filled = JSON.parse(JSON.stringify(args ?? {}), (_k, v) =>
          typeof v === 'string' && /^\$\d+\.\w+$/.test(v) ? results[Number(v.slice(1, v.indexOf('.')))][v.slice(v.indexOf('.') + 1)] : v,
        );
        const frame = await call(op, filled);
        if (frame.error) throw new Error(`${op}: ${JSON.stringify(frame.error)}`);
        results.push(frame.result);
      }
      ws.close();
      return results;
    },
    { user, password, calls },
  );
}

/** An 80×80 PNG drawn by the page's canvas. */
async function pngOf(page, colour) {
  const base64 = await page.evaluate((colour) => {
    const canvas = document.createElement('canvas');
    canvas.width = 80;
    canvas.height = 80;
    const g = canvas.getContext('2d');
    g.fillStyle = colour;
    g.fillRect(0, 0, 80, 80);
    g.fillStyle = '#fff';
    g.fillRect(20, 20, 40, 40);
    return canvas.toDataURL('image/png').split(',')[1];
  }, colour);
  return Buffer.from(base64, 'base64');
}

/** Whether an avatar <img> under `scope` loaded (not just that it exists). */
async function imageLoaded(scope) {
  const img = scope.locator('img.avatar-img').first();
  await img.waitFor();
  await img.evaluate((el) => (el.complete ? null : new Promise((ok) => (el.onload = el.onerror = ok))));
  return img.evaluate((el) => el.naturalWidth);
}

test('find a person and befriend them; a profile with an avatar and hostile names reaches the friend as text', async () => {
  // Alice finds Bob by the start of his username and asks from his card, with a note.
  await a.page.getByRole('tab', { name: 'Contacts' }).click();
  await a.page.getByLabel('Find people').fill(BOB.slice(0, -1));
  await a.page.getByRole('button', { name: 'Find', exact: true }).click();
  await a.page.locator('.people-search .person-row', { hasText: BOB }).click();
  const card = a.page.getByRole('dialog');
  await card.locator('.profile-name', { hasText: BOB }).waitFor();
  await card.getByLabel('Note (optional)').fill('met at the people test');
  await card.getByRole('button', { name: 'Add friend' }).click();
  await card.getByText('Friend request sent; waiting for an answer.').waitFor();
  await card.getByRole('button', { name: 'Close' }).click();
  await b.page.getByRole('tab', { name: /通讯录/ }).click();
  await b.page.locator('.requests .chat-excerpt', { hasText: 'met at the people test' }).waitFor();
  await b.page.getByRole('button', { name: '接受' }).click();
  await b.page.locator('.contacts .chat-list .chat-name', { hasText: ALICE }).waitFor();
  await a.page.locator('.contacts .chat-list .chat-name', { hasText: BOB }).waitFor();

  // Alice edits her profile: a hostile nickname, an RTL override in the
  // signature, an avatar, and the status busy.
  await a.page.locator('.sidebar-header .me').click();
  const dialog = a.page.getByRole('dialog', { name: 'My profile' });
  await dialog.getByLabel('Nickname').fill(HOSTILE);
  await dialog.getByLabel('Signature').fill(RTL);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.getByText('Saved.').waitFor();
  await dialog.getByLabel('Change avatar').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await pngOf(a.page, '#2271c9') });
  await dialog.getByText('Your avatar was changed.').waitFor();
  assert.ok((await imageLoaded(dialog)) > 0, 'my new avatar shows in the dialog');
  await dialog.getByRole('radio', { name: 'Busy' }).check();
  await dialog.getByText('Status changed.').waitFor();
  await a.page.locator('.sidebar-header .me', { hasText: HOSTILE }).waitFor();
  await shot(a.page, 'profile-dialog-en-light');
  await a.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  // Bob sees it: the nickname as text, the image loaded, the dot busy.
  const row = b.page.locator('.contacts .friend-item', { hasText: HOSTILE });
  await row.waitFor();
  assert.equal(await row.locator('.chat-name').textContent(), HOSTILE);
  assert.ok((await imageLoaded(row)) > 0, "Alice's avatar loads on Bob's screen");
  await row.locator('.presence-dot.status-busy').waitFor();
  assert.equal(await b.page.locator('img[src="x"]').count(), 0, 'no markup came from the nickname');
  // Her card shows the signature as text, RTL override and all.
  await row.getByRole('button', { name: /^资料/ }).click();
  const bCard = b.page.getByRole('dialog');
  await bCard.locator('.profile-fact dd', { hasText: 'signature' }).waitFor();
  assert.equal(await bCard.locator('.profile-fact dd').first().textContent(), RTL);
  assert.equal(await bCard.locator('.profile-name').textContent(), HOSTILE);
  assert.ok((await imageLoaded(bCard)) > 0);
  await bCard.getByText('忙碌').waitFor();
  assert.deepEqual(a.problems, [], a.problems.join('\n'));
  assert.deepEqual(b.problems, [], b.problems.join('\n'));
});

test('a remark replaces the nickname; a friend moves into a new category', async () => {
  // Bob's card of Alice is still open: he gives her a remark.
  const card = b.page.getByRole('dialog');
  await card.getByLabel('备注', { exact: true }).fill(REMARK);
  await card.getByRole('button', { name: '保存' }).click();
  await card.getByText('备注已保存。').waitFor();
  assert.equal(await card.locator('.profile-name').textContent(), REMARK, 'the card shows the remark');
  // The nickname is still there, as a fact below the remark.
  await card.locator('.profile-fact dd', { hasText: HOSTILE }).waitFor();
  await card.getByRole('button', { name: '关闭' }).click();
  const row = b.page.locator('.contacts .friend-item', { hasText: REMARK });
  await row.waitFor();
  assert.equal(await row.locator('.chat-name').textContent(), REMARK, 'the list shows the remark instead of the nickname');

  // A new category, and Alice moved into it from her card.
  await b.page.getByRole('button', { name: '新建分组' }).click();
  await b.page.getByLabel('分组名称').fill(CATEGORY);
  await b.page.getByRole('button', { name: '创建', exact: true }).click();
  const group = b.page.locator('.friend-group', { hasText: CATEGORY });
  await group.waitFor();
  await group.getByText('这里还没有人。').waitFor();
  await row.getByRole('button', { name: /^资料/ }).click();
  await card.getByLabel('分组', { exact: true }).selectOption({ label: CATEGORY });
  await card.getByText('已移动。').waitFor();
  await card.getByRole('button', { name: '关闭' }).click();
  await group.locator('.chat-name', { hasText: REMARK }).waitFor();
  assert.equal(await b.page.locator('.friend-group[data-category="0"]').count(), 0, 'no one is left without a category');
  // The heading collapses and opens again.
  const toggle = group.locator('.group-toggle');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await group.locator('.chat-name').count(), 0);
  await toggle.click();
  await group.locator('.chat-name', { hasText: REMARK }).waitFor();
  await shot(b.page, 'contacts-categories-zh-dark');
  // After a reload the remark and the category are still there (from the server).
  await b.page.reload();
  await b.page.waitForSelector('.layout');
  await b.page.getByRole('tab', { name: /通讯录/ }).click();
  await b.page.locator('.friend-group', { hasText: CATEGORY }).locator('.chat-name', { hasText: REMARK }).waitFor();
  assert.deepEqual(b.problems, [], b.problems.join('\n'));
});

test('the directory: departments made by the administrator show live, with members and presence', async () => {
  await a.page.getByRole('tab', { name: 'Directory' }).click();
  await a.page.locator('.directory .empty, .directory .dept-tree').first().waitFor();
  // The administrator makes a department and a sub-department, and puts
  // Alice in the first and Bob in the second.
  const [dept, sub] = await callAs(a.page, ADMIN, ADMIN_PASSWORD, [
    ['dept_create', { name: DEPT, order: -100 }],
    ['dept_create', { name: SUB, parent: '$0.id' }],
    ['admin_user_set', { user: ALICE, dept: '$0.id', title: 'Engineer <i>1</i>' }],
    ['admin_user_set', { user: BOB, dept: '$1.id', title: '经理' }],
  ]);
  // No reload: the directory push brings the tree.
  const top = a.page.locator(`.dept[data-dept="${dept.id}"]`);
  await top.waitFor();
  assert.equal(await top.locator('.dept-name').first().textContent(), DEPT, 'the name is text');
  await top.locator('.dept-toggle').first().click();
  const me = top.locator('.member-row', { hasText: ALICE });
  await me.waitFor();
  assert.equal(await me.locator('.chat-excerpt').textContent(), `Engineer <i>1</i> · ${ALICE}`);
  assert.equal(await a.page.locator('.directory i').count(), 0);
  const inner = a.page.locator(`.dept[data-dept="${sub.id}"]`);
  assert.equal(await inner.locator('.dept-name').textContent(), SUB);
  await inner.locator('.dept-toggle').click();
  const bob = inner.locator('.member-row', { hasText: BOB });
  await bob.waitFor();
  // Alice is in the directory, so she sees Bob's presence: online.
  await bob.locator('.presence-dot.status-online').waitFor();

  // Bob goes away: his friend's directory row and contact row follow.
  await b.page.locator('.sidebar-header .me').click();
  const dialog = b.page.getByRole('dialog', { name: '我的资料' });
  await dialog.getByRole('radio', { name: '离开' }).check();
  await dialog.getByText('状态已更改。').waitFor();
  await shot(b.page, 'profile-dialog-zh-dark');
  await b.page.keyboard.press('Escape');
  await bob.locator('.presence-dot.status-away').waitFor();
  await shot(a.page, 'directory-en-light');

  // A member opens their card, with department and title.
  await bob.click();
  const card = a.page.getByRole('dialog');
  await card.locator('.profile-fact dd', { hasText: '经理' }).waitFor();
  assert.equal(await card.locator('.profile-fact dd', { hasText: 'sales' }).textContent(), SUB);
  await card.getByText('Away').waitFor();
  // At phone width the card still fits.
  await a.page.setViewportSize({ width: 390, height: 760 });
  await shot(a.page, 'directory-card-phone');
  await a.page.setViewportSize({ width: 1100, height: 800 });
  await card.getByRole('button', { name: 'Close' }).click();

  // A rename is a new version: the tree follows without a reload.
  await callAs(a.page, ADMIN, ADMIN_PASSWORD, [['dept_update', { id: sub.id, name: `renamed ${suffix}` }]]);
  await inner.locator('.dept-name', { hasText: `renamed ${suffix}` }).waitFor();
  // Bob sees the tree too (dark, Chinese).
  await b.page.getByRole('tab', { name: '组织架构' }).click();
  await b.page.locator(`.dept[data-dept="${dept.id}"] .dept-toggle`).first().click();
  await b.page.locator(`.dept[data-dept="${dept.id}"] .member-row`, { hasText: ALICE }).waitFor();
  await shot(b.page, 'directory-zh-dark');
  assert.deepEqual(a.problems, [], a.problems.join('\n'));
  assert.deepEqual(b.problems, [], b.problems.join('\n'));
});

test('a block: the friendship ends, the blocked user is refused, unblocking lets messages through', async () => {
  // Alice blocks Bob from his card, confirming in the card.
  await a.page.getByRole('tab', { name: 'Contacts' }).click();
  const row = a.page.locator('.contacts .friend-item', { hasText: BOB });
  await row.getByRole('button', { name: /^Profile/ }).click();
  const card = a.page.getByRole('dialog');
  await card.getByRole('button', { name: 'Block', exact: true }).click();
  await card.getByText(`Block ${BOB}?`, { exact: false }).waitFor();
  await card.getByRole('button', { name: 'Block', exact: true }).click();
  await card.getByText('Blocked.').waitFor();
  await card.getByRole('button', { name: 'Unblock' }).waitFor();
  await card.getByRole('button', { name: 'Close' }).click();
  await row.waitFor({ state: 'detached' });
  // Bob is in Alice's blocklist; on Bob's side the friendship simply ended.
  await a.page.getByRole('button', { name: /^Blocked/ }).click();
  await a.page.locator('.blocklist .person-row', { hasText: BOB }).waitFor();
  await b.page.getByRole('tab', { name: /通讯录/ }).click();
  await b.page.locator('.contacts .friend-item', { hasText: REMARK }).waitFor({ state: 'detached' });

  // Bob writes to Alice: the server refuses (not_allowed), the message
  // shows as failed on his side, and Alice gets no conversation.
  await b.page.getByRole('tab', { name: /聊天/ }).click();
  await b.page.getByLabel('输入用户名发起聊天').fill(ALICE);
  await b.page.getByRole('button', { name: '发起', exact: true }).click();
  await b.page.getByLabel('消息', { exact: true }).fill('are you there?');
  await b.page.keyboard.press('Enter');
  const failed = b.page.locator('.message.failed');
  await failed.locator('.error', { hasText: '对方不接收你的消息。' }).waitFor();
  await a.page.getByRole('tab', { name: 'Chats' }).click();
  await a.page.waitForTimeout(1000);
  assert.equal(await a.page.locator('.chat-row', { hasText: BOB }).count(), 0, 'nothing was delivered to Alice');
  const [history] = await callAs(a.page, ALICE, PASSWORD, [['history', { peer: BOB }]]);
  assert.equal(history.conv, null, 'the refused message opened no conversation');

  // Alice unblocks from the blocklist; Bob's next message goes through.
  await a.page.getByRole('tab', { name: 'Contacts' }).click();
  await a.page.getByRole('button', { name: /^Blocked/ }).click();
  await a.page.getByRole('button', { name: `Unblock: ${BOB}` }).click();
  await a.page.locator('.blocklist').waitFor({ state: 'detached' });
  await b.page.getByLabel('消息', { exact: true }).fill('hello again');
  await b.page.keyboard.press('Enter');
  await b.page.locator('.message:not(.pending) .body', { hasText: 'hello again' }).waitFor();
  await a.page.getByRole('tab', { name: 'Chats' }).click();
  await a.page.locator('.chat-row', { hasText: BOB }).click();
  await a.page.locator('.message .body', { hasText: 'hello again' }).waitFor();
  assert.equal(await a.page.locator('.message .body', { hasText: 'are you there?' }).count(), 0);
  assert.deepEqual(a.problems, [], a.problems.join('\n'));
  assert.deepEqual(b.problems, [], b.problems.join('\n'));
  await a.context.close();
  await b.context.close();
});
