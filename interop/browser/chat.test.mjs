// The chat app end to end in Debian's Chromium: two people in two browser
// contexts (one in English and light, one in Chinese and dark) sign up,
// chat both ways with receipts and typing, one goes offline while
// messages arrive and converges after with nothing missing or doubled,
// hostile bodies render as text, and a reload opens from the local cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EN, launch, PASSWORD, person, shooter, signUp, ZH } from './app.mjs';

const suffix = String(Date.now() % 1_000_000);
const ALICE = `alice${suffix}`;
const BOB = `bob${suffix}`;

const shot = shooter('chat');

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const bodies = (page) => page.locator('.messages .message:not(.pending) .body').allTextContents();

test('two people chat in two browsers: receipts, typing, offline and back, hostile text, reload', async () => {
  const a = await person(browser, { locale: 'en-US', colorScheme: 'light', viewport: { width: 1100, height: 760 } });
  const b = await person(browser, { locale: 'zh-CN', colorScheme: 'dark', viewport: { width: 1100, height: 760 } });
  await signUp(a.page, ALICE, EN);
  await signUp(b.page, BOB, ZH);

  // They become friends: Alice asks with a note, Bob accepts.
  await a.page.getByRole('tab', { name: 'Contacts' }).click();
  await a.page.getByLabel('Add a friend by username').fill(BOB);
  await a.page.getByLabel('Note (optional)').fill('from the browser test');
  await a.page.getByRole('button', { name: 'Add', exact: true }).click();
  await a.page.locator('.requests .chat-name', { hasText: BOB }).waitFor();
  await b.page.getByRole('tab', { name: /通讯录/ }).click();
  await b.page.locator('.requests .chat-excerpt', { hasText: 'from the browser test' }).waitFor();
  await b.page.getByRole('button', { name: '接受' }).click();
  await b.page.locator('.contacts .chat-list .chat-name', { hasText: ALICE }).waitFor();
  await a.page.locator('.contacts .chat-list .chat-name', { hasText: BOB }).waitFor();
  await a.page.locator('.contacts .presence-dot.online').waitFor();
  assert.equal(await a.page.locator('.requests').count(), 0, 'the request is gone on both sides');
  await b.page.getByRole('tab', { name: /聊天/ }).click();

  // Alice opens the chat from her friend list and says hello.
  await a.page.locator('.contacts .chat-row', { hasText: BOB }).click();
  await a.page.getByLabel('Message', { exact: true }).fill('hello bob 你好');
  await a.page.keyboard.press('Enter');
  await a.page.waitForSelector('.messages .message:not(.pending) .body');
  assert.deepEqual(await bodies(a.page), ['hello bob 你好']);

  // Bob sees the new conversation with an unread badge and the count in the title.
  const row = b.page.locator('.chat-row', { hasText: ALICE });
  await row.locator('.badge').waitFor();
  assert.equal(await row.locator('.badge').textContent(), '1');
  await b.page.waitForFunction(() => document.title.startsWith('(1)'));
  await row.click();
  await b.page.waitForSelector('.messages .message .body');
  assert.deepEqual(await bodies(b.page), ['hello bob 你好']);
  await b.page.waitForFunction(() => !document.title.startsWith('('));

  // Alice's message shows as read once Bob opened it.
  await a.page.locator('.message.mine .tick', { hasText: '✓✓' }).waitFor();

  // Bob types: Alice sees it; Bob answers with Shift+Enter for a new line.
  await b.page.getByLabel('消息', { exact: true }).pressSequentially('hi');
  await a.page.locator('.typing', { hasText: `${BOB} is typing` }).waitFor();
  await b.page.keyboard.press('Shift+Enter');
  await b.page.keyboard.type('alice');
  await b.page.keyboard.press('Enter');
  await a.page.locator('.messages .message:not(.mine) .body', { hasText: 'alice' }).waitFor();
  assert.deepEqual(await bodies(a.page), ['hello bob 你好', 'hi\nalice']);
  await a.page.locator('.typing', { hasText: 'is typing' }).waitFor({ state: 'detached' }).catch(() => undefined);
  assert.equal((await a.page.locator('.typing').textContent()).trim(), '', 'the typing notice ends with the message');
  // Bob reacts to Alice's message; Alice edits it, replies to Bob, and
  // recalls a message sent by mistake.
  await b.page.locator('.message:not(.mine)').first().hover();
  await b.page.getByRole('button', { name: '消息操作' }).first().click();
  await b.page.getByRole('menuitem', { name: '回应 👍' }).click();
  await a.page.locator('.message.mine .reaction', { hasText: '👍 1' }).waitFor();
  await a.page.locator('.message.mine').first().hover();
  await a.page.getByRole('button', { name: 'Message actions' }).first().click();
  await a.page.getByRole('menuitem', { name: 'Edit' }).click();
  await a.page.getByLabel('Message', { exact: true }).fill('hello bob 你好 (edited)');
  await a.page.keyboard.press('Enter');
  await b.page.locator('.message .body', { hasText: 'hello bob 你好 (edited)' }).waitFor();
  await b.page.locator('.message .edited').waitFor();
  await a.page.locator('.message:not(.mine)').first().hover();
  await a.page.getByRole('button', { name: 'Message actions' }).nth(1).click();
  await a.page.getByRole('menuitem', { name: 'Reply' }).click();
  await a.page.getByLabel('Message', { exact: true }).fill('replying to you');
  await a.page.keyboard.press('Enter');
  await b.page.locator('.message .quote', { hasText: 'alice' }).waitFor();
  await a.page.getByLabel('Message', { exact: true }).fill('oops, wrong chat');
  await a.page.keyboard.press('Enter');
  await b.page.locator('.message .body', { hasText: 'oops, wrong chat' }).waitFor();
  await a.page.locator('.message.mine', { hasText: 'oops, wrong chat' }).hover();
  await a.page.locator('.message.mine', { hasText: 'oops, wrong chat' }).getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('menuitem', { name: 'Recall' }).click();
  await b.page.locator('.event', { hasText: `${ALICE} 撤回了一条消息` }).waitFor();
  await a.page.locator('.event', { hasText: 'You recalled a message' }).waitFor();
  assert.deepEqual(await bodies(b.page), ['hello bob 你好 (edited)', 'hi\nalice', 'replying to you']);
  await shot(a.page, 'en-light');
  await shot(b.page, 'zh-dark');

  // Bob goes offline; Alice sends five messages; Bob comes back and converges.
  await b.context.setOffline(true);
  await b.page.locator('.banner').waitFor();
  const burst = Array.from({ length: 5 }, (_, i) => `while you were away ${i + 1}`);
  for (const body of burst) {
    await a.page.getByLabel('Message', { exact: true }).fill(body);
    await a.page.keyboard.press('Enter');
  }
  await a.page.locator('.message.pending').first().waitFor({ state: 'detached' }).catch(() => undefined);
  await a.page.waitForFunction(() => document.querySelectorAll('.message.pending').length === 0);
  assert.equal((await bodies(b.page)).length, 3, 'nothing arrives while offline');
  await b.context.setOffline(false);
  await b.page.locator('.messages .body', { hasText: 'while you were away 5' }).waitFor({ timeout: 30_000 });
  await b.page.locator('.banner').waitFor({ state: 'detached' });
  const want = ['hello bob 你好 (edited)', 'hi\nalice', 'replying to you', ...burst];
  assert.deepEqual(await bodies(b.page), want, 'nothing missing, nothing doubled, in order');

  // Bob sends while offline: it waits in the outbox and goes out once back.
  await b.context.setOffline(true);
  await b.page.locator('.banner').waitFor();
  await b.page.getByLabel('消息', { exact: true }).fill('sent from a train');
  await b.page.keyboard.press('Enter');
  await b.page.locator('.message.pending', { hasText: 'sent from a train' }).waitFor();
  await b.context.setOffline(false);
  await b.page.locator('.message.pending').waitFor({ state: 'detached', timeout: 30_000 });
  await a.page.locator('.messages .body', { hasText: 'sent from a train' }).waitFor();
  assert.deepEqual(await bodies(a.page), [...want, 'sent from a train']);

  // Hostile bodies are text: nothing runs, no markup appears, the layout holds.
  const hostile = [
    '<img src=x onerror="window.__pwned=1">',
    'javascript:window.__pwned=2',
    '<a href="javascript:window.__pwned=3">click</a>',
    '\u202Eevil.exe\u202C then normal',
    'x'.repeat(65_536),
  ];
  for (const body of hostile) {
    await a.page.evaluate((text) => {
      const box = document.querySelector('#composer-input');
      box.value = text;
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }, body);
    await a.page.keyboard.press('Enter');
  }
  await b.page.locator('.messages .body', { hasText: 'xxxxxxxxxx' }).waitFor();
  for (const page of [a.page, b.page]) {
    const verdict = await page.evaluate(() => {
      const list = document.querySelector('.messages');
      return {
        pwned: window.__pwned ?? null,
        images: list.querySelectorAll('img').length,
        scriptLinks: [...list.querySelectorAll('a')].filter((l) => !/^https?:/.test(l.getAttribute('href') ?? '')).length,
        overflow: list.scrollWidth - list.clientWidth,
        widest: Math.max(...[...list.querySelectorAll('.bubble')].map((e) => e.getBoundingClientRect().width)),
        width: list.clientWidth,
      };
    });
    assert.equal(verdict.pwned, null, 'no hostile script ran');
    assert.equal(verdict.images, 0, 'no markup from a body');
    assert.equal(verdict.scriptLinks, 0, 'no javascript: link');
    assert.ok(verdict.overflow <= 1, `no sideways scrolling (${verdict.overflow}px)`);
    assert.ok(verdict.widest <= verdict.width, `bubbles fit (${verdict.widest} > ${verdict.width})`);
  }
  // Each is shown exactly as sent. The list is virtualised: the long one
  // is rendered at the bottom, the others once scrolled up to.
  assert.ok((await bodies(b.page)).includes(hostile[4]), 'the 64 KiB line, whole');
  await b.page.evaluate(() => {
    const list = document.querySelector('.messages');
    list.scrollTop = Math.max(0, list.scrollHeight - list.clientHeight - 30_000);
  });
  await b.page.locator('.messages .body', { hasText: 'then normal' }).waitFor();
  const texts = await bodies(b.page);
  for (const body of hostile.slice(0, 4)) assert.ok(texts.includes(body), `shown as text: ${body}`);

  // A reload opens from the local cache, signed in, and stays in step.
  await b.page.reload();
  await b.page.locator('.chat-row', { hasText: ALICE }).waitFor();
  await b.page.locator('.chat-row', { hasText: ALICE }).click();
  await b.page.locator('.messages .body', { hasText: 'xxxxxxxxxx' }).waitFor();
  await a.page.getByLabel('Message', { exact: true }).fill('after your reload');
  await a.page.keyboard.press('Enter');
  await b.page.locator('.messages .body', { hasText: 'after your reload' }).waitFor();
  const after = await bodies(b.page);
  assert.equal(new Set(after).size, after.length, 'no message twice');

  // A phone-sized screen shows one pane at a time.
  await b.page.setViewportSize({ width: 390, height: 760 });
  assert.equal(await b.page.locator('.sidebar').isVisible(), false);
  await shot(b.page, 'zh-dark-phone');
  await b.page.getByRole('button', { name: '返回' }).click();
  assert.equal(await b.page.locator('.sidebar').isVisible(), true);

  assert.deepEqual(a.problems, [], a.problems.join('\n'));
  assert.deepEqual(b.problems, [], b.problems.join('\n'));
  await a.context.close();
  await b.context.close();
});

test('a group of three: created from the sidebar, @mention completion and flag, read by N, events, a hostile name', async () => {
  const tag = String(Date.now() % 1_000_000);
  const [owner, second, third] = [`gowner${tag}`, `gsecond${tag}`, `gthird${tag}`];
  const a = await person(browser, { locale: 'en-US', colorScheme: 'light', viewport: { width: 1100, height: 760 } });
  const b = await person(browser, { locale: 'zh-CN', colorScheme: 'light', viewport: { width: 1100, height: 760 } });
  const c = await person(browser, { locale: 'en-US', colorScheme: 'dark', viewport: { width: 1100, height: 760 } });
  await signUp(a.page, owner, EN);
  await signUp(b.page, second, ZH);
  await signUp(c.page, third, EN);

  const hostileName = '<img src=x onerror="window.__pwned=9"> 项目组';
  await a.page.getByRole('button', { name: 'New group' }).click();
  await a.page.getByLabel('Group name').fill(hostileName);
  await a.page.getByLabel('Members', { exact: true }).fill(`${second}, ${third}`);
  await a.page.getByRole('button', { name: 'Create', exact: true }).click();
  await a.page.locator('.chat-header h2', { hasText: '项目组' }).waitFor();
  assert.equal(await a.page.locator('.chat-header h2').textContent(), hostileName, 'the name is text');
  await a.page.locator('.event', { hasText: `${owner} created the group` }).waitFor();

  // @ completes a member's name; the mentioned member's list row is flagged.
  await a.page.getByLabel('Message', { exact: true }).pressSequentially(`@${second.slice(0, 4)}`);
  await a.page.locator('.mentions button').first().waitFor();
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.type('please review');
  assert.equal(await a.page.getByLabel('Message', { exact: true }).inputValue(), `@${second} please review`);
  await a.page.keyboard.press('Enter');
  const bRow = b.page.locator('.chat-row', { hasText: '项目组' });
  await bRow.locator('.mention-flag').waitFor();
  await c.page.locator('.chat-row', { hasText: '项目组' }).locator('.badge').waitFor();
  assert.equal(await c.page.locator('.chat-row', { hasText: '项目组' }).locator('.mention-flag').count(), 0);

  // Both read it; the owner sees "2 read" and who.
  await bRow.click();
  await b.page.locator('.messages .body', { hasText: 'please review' }).waitFor();
  await c.page.locator('.chat-row', { hasText: '项目组' }).click();
  await c.page.locator('.messages .body', { hasText: 'please review' }).waitFor();
  await c.page.locator('.sender', { hasText: owner }).first().waitFor();
  await a.page.locator('.chat-row', { hasText: '项目组' }).click();
  await a.page.locator('.read-count', { hasText: '2 read' }).waitFor();
  await a.page.locator('.read-count').click();
  const readers = await a.page.locator('.readers').textContent();
  assert.ok(readers.includes(second) && readers.includes(third), readers);

  // Search in Chinese: the hit is marked, and opens the chat at the message.
  await a.page.getByLabel('Message', { exact: true }).fill('季度报告已经完成，请查收');
  await a.page.keyboard.press('Enter');
  await b.page.locator('.messages .body', { hasText: '季度报告' }).waitFor();
  await b.page.getByLabel('搜索聊天').fill('报告');
  await b.page.locator('.search-results .hit mark', { hasText: '报告' }).waitFor();
  await b.page.locator('.search-results .hit').first().click();
  await b.page.locator('.message.focused .body', { hasText: '季度报告已经完成' }).waitFor();
  await b.page.getByLabel('搜索聊天').fill('');
  await shot(b.page, 'search-zh-light');

  // The members panel; the owner removes one; the removed member loses the group.
  await a.page.getByRole('button', { name: 'Group info' }).click();
  await a.page.locator('.member', { hasText: third }).waitFor();
  await a.page.locator('.member', { hasText: third }).getByRole('button', { name: 'Remove' }).click();
  await a.page.locator('.event', { hasText: `${owner} removed ${third}` }).waitFor();
  await c.page.locator('.chat-row', { hasText: '项目组' }).waitFor({ state: 'detached' });
  await b.page.locator('.event', { hasText: `${owner} 将 ${third} 移出了群聊` }).waitFor();
  await shot(a.page, 'group-en-light');

  for (const p of [a, b, c]) {
    assert.equal(await p.page.evaluate(() => window.__pwned ?? null), null, 'no hostile script ran');
    assert.deepEqual(p.problems, [], p.problems.join('\n'));
    await p.context.close();
  }
});

test('my settings of a chat and my devices: pin, mute, draft across devices, signing another device out', async () => {
  const tag = String(Date.now() % 1_000_000);
  const [me, peer] = [`sme${tag}`, `speer${tag}`];
  const laptop = await person(browser, { locale: 'en-US', colorScheme: 'light', viewport: { width: 1100, height: 760 } });
  const other = await person(browser, { locale: 'en-US', colorScheme: 'light', viewport: { width: 1100, height: 760 } });
  await signUp(laptop.page, me, EN);
  await signUp(other.page, peer, EN);
  await other.page.getByLabel('Start a chat with a username').fill(me);
  await other.page.getByRole('button', { name: 'Chat', exact: true }).click();
  await other.page.getByLabel('Message', { exact: true }).fill('ping');
  await other.page.keyboard.press('Enter');
  const row = laptop.page.locator('.chat-item', { hasText: peer });
  await row.waitFor();

  // A second device of mine, signed in at the same time.
  const phone = await person(browser, { locale: 'en-US', viewport: { width: 390, height: 760 } });
  await phone.page.getByLabel('Username').fill(me);
  await phone.page.getByLabel('Password').fill(PASSWORD);
  await phone.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const phoneRow = phone.page.locator('.chat-item', { hasText: peer });
  await phoneRow.waitFor();

  // Pin and mute on the laptop: the phone's list follows.
  await row.hover();
  await row.getByRole('button', { name: `Chat actions: ${peer}` }).click();
  await laptop.page.getByRole('menuitem', { name: 'Pin' }).click();
  await row.locator('.pin').waitFor();
  await phoneRow.locator('.pin').waitFor();
  await row.hover();
  await row.getByRole('button', { name: `Chat actions: ${peer}` }).click();
  await laptop.page.getByRole('menuitem', { name: 'Mute' }).click();
  await laptop.page.locator('.chat-row.muted', { hasText: peer }).waitFor();
  await phone.page.locator('.chat-row.muted', { hasText: peer }).waitFor();

  // A draft written on the laptop shows on the phone, and resumes there.
  await row.locator('.chat-row').click();
  await laptop.page.getByLabel('Message', { exact: true }).pressSequentially('half a thought');
  await phoneRow.locator('.draft-flag').waitFor();
  await phoneRow.locator('.chat-row').click();
  assert.equal(await phone.page.getByLabel('Message', { exact: true }).inputValue(), 'half a thought');

  // The laptop signs the phone out.
  await laptop.page.getByRole('button', { name: 'Devices' }).click();
  await laptop.page.locator('.device', { hasText: 'This device' }).waitFor();
  await laptop.page.locator('.device:not(:has-text("This device"))').getByRole('button', { name: 'Sign out' }).click();
  await phone.page.locator('.sign-in .notice', { hasText: 'signed out from another device' }).waitFor();
  await laptop.page.waitForFunction(() => document.querySelectorAll('.device').length === 1);
  await laptop.page.keyboard.press('Escape');

  for (const p of [laptop, other, phone]) {
    assert.deepEqual(p.problems, [], p.problems.join('\n'));
    await p.context.close();
  }
});
