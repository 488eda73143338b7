// Group management end to end in Debian's Chromium, four people in four
// browser contexts (English and light, Chinese and dark, two more in
// English): the owner makes an admin, who mutes a member (whose sends the
// server refuses and nobody receives) and lifts it; mute-all on and off;
// a stranger asks to join by the group's ID with a note and the admin
// approves, after which the newcomer reads the group; a hostile group
// nickname shows as text on another screen; ownership moves with a
// confirm step and every screen shows the new owner; a file sent in the
// group is listed in its files, downloads byte for byte, and its deletion
// by the owner reaches the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EN as SIGN_UP_EN, launch, ORIGIN, person, shooter, signUp as signUpAs, ZH as SIGN_UP_ZH } from './app.mjs';

const shot = shooter('groups');

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const EN = {
  ...SIGN_UP_EN,
  groupInfo: 'Group info', message: 'Message', owner: 'Owner', admin: 'Admin',
};
const ZH = {
  ...SIGN_UP_ZH,
  groupInfo: '群信息', message: '消息', owner: '群主', admin: '管理员',
};

const signUp = (p, user) => signUpAs(p.page, user, p.words);

const row = (p, user) => p.page.locator(`.group-panel .member[data-user="${user}"]`);
const bodies = (p) => p.page.locator('.messages .message:not(.pending) .body').allTextContents();
const sha = (b) => createHash('sha256').update(b).digest('hex');

async function say(p, text) {
  await p.page.getByLabel(p.words.message, { exact: true }).fill(text);
  await p.page.keyboard.press('Enter');
}

async function openPanel(p) {
  await p.page.getByRole('button', { name: p.words.groupInfo }).click();
  await p.page.locator('.group-panel .group-id').waitFor();
}

/** A send the server refuses because the sender is muted: shown as refused
 * on the sender's screen, then discarded. */
async function refusedSend(p, text) {
  await say(p, text);
  const bubble = p.page.locator('.message.pending.failed', { hasText: text });
  await bubble.locator('.error', { hasText: 'You are muted in this group.' }).waitFor();
  // The panel covers the bubble's buttons: by keyboard, as a keyboard user would.
  await bubble.getByRole('button', { name: 'Delete' }).focus();
  await p.page.keyboard.press('Enter');
  await bubble.waitFor({ state: 'detached' });
}

test('group management: roles, mutes, mute-all, join requests, nicknames, transfer, group files', async () => {
  const tag = String(Date.now() % 1_000_000);
  const [owner, second, third, fourth] = [`mowner${tag}`, `madmin${tag}`, `mthird${tag}`, `mfourth${tag}`];
  const a = { ...(await person(browser, { acceptDownloads: true, locale: 'en-US', colorScheme: 'light' })), words: EN };
  const b = { ...(await person(browser, { acceptDownloads: true, locale: 'zh-CN', colorScheme: 'dark' })), words: ZH };
  const c = { ...(await person(browser, { acceptDownloads: true, locale: 'en-US', colorScheme: 'light' })), words: EN };
  const d = { ...(await person(browser, { acceptDownloads: true, locale: 'en-US', colorScheme: 'light' })), words: EN };
  await signUp(a, owner);
  await signUp(b, second);
  await signUp(c, third);
  await signUp(d, fourth);

  // The owner makes the group; the members open it.
  const groupName = `管理组 ${tag}`;
  await a.page.getByRole('button', { name: 'New group' }).click();
  await a.page.getByLabel('Group name').fill(groupName);
  await a.page.getByLabel('Members', { exact: true }).fill(`${second}, ${third}`);
  await a.page.getByRole('button', { name: 'Create', exact: true }).click();
  await a.page.locator('.chat-header h2', { hasText: groupName }).waitFor();
  for (const p of [b, c]) {
    await p.page.locator('.chat-row', { hasText: groupName }).click();
    await p.page.locator('.chat-header h2', { hasText: groupName }).waitFor();
  }
  for (const p of [a, b, c]) await openPanel(p);
  const groupId = (await a.page.locator('.group-panel .group-id').textContent()).trim();
  assert.match(groupId, /^\d+$/);
  // A plain member is offered no action on anyone.
  await row(c, owner).waitFor();
  assert.equal(await c.page.locator('.group-panel .member-actions').count(), 0, 'no actions for a plain member');
  await row(a, owner).locator('.role-badge', { hasText: 'Owner' }).waitFor();

  // The owner makes the second an admin: the badge shows on their screen,
  // with the admin's actions on plain members only.
  await row(a, second).getByRole('button', { name: 'Make admin' }).click();
  await row(a, second).locator('.role-badge', { hasText: 'Admin' }).waitFor();
  await row(b, second).locator('.role-badge', { hasText: ZH.admin }).waitFor();
  await b.page.locator('.group-facts', { hasText: `我的身份: ${ZH.admin}` }).waitFor();
  await row(b, third).getByRole('button', { name: '禁言' }).waitFor();
  assert.equal(await row(b, third).getByRole('button', { name: '移出' }).count(), 1);
  assert.equal(await row(b, third).getByRole('button', { name: '转让群主' }).count(), 0, 'only the owner transfers');
  assert.equal(await row(b, owner).locator('button').count(), 0, 'an admin cannot act on the owner');
  await row(c, second).locator('.role-badge', { hasText: 'Admin' }).waitFor();
  await shot(a.page, 'members-roles-en-light');
  await shot(b.page, 'members-roles-zh-dark');

  // The admin mutes the third for an hour: they see it, and the server
  // refuses their message, which nobody receives.
  await row(b, third).getByRole('button', { name: '禁言' }).click();
  await b.page.locator('.mute-step select').selectOption({ label: '1 小时' });
  await b.page.locator('.mute-step').getByRole('button', { name: '确认' }).click();
  await row(b, third).locator('.muted-badge').waitFor();
  await row(a, third).locator('.muted-badge', { hasText: 'Muted until' }).waitFor();
  await c.page.locator('.group-panel .group-send-notice', { hasText: 'You are muted in this group until' }).waitFor();
  await refusedSend(c, 'muted words');
  await row(b, third).getByRole('button', { name: '解除禁言' }).click();
  await row(b, third).locator('.muted-badge').waitFor({ state: 'detached' });
  await c.page.locator('.group-panel .group-send-notice').waitFor({ state: 'detached' });
  await say(c, 'free again');
  for (const p of [a, b]) await p.page.locator('.messages .body', { hasText: 'free again' }).waitFor();

  // Mute-all: members are refused, the admin still speaks; then off.
  const muteAll = a.page.getByRole('switch', { name: 'Mute everyone' });
  await muteAll.click();
  await a.page.locator('.mute-all[aria-checked="true"]').waitFor();
  await c.page.locator('.group-panel .group-send-notice', { hasText: 'Everyone is muted' }).waitFor();
  await b.page.locator('.group-panel .group-send-notice', { hasText: '全员禁言中' }).waitFor();
  await refusedSend(c, 'during mute all');
  await say(b, '管理员仍可发言');
  await a.page.locator('.messages .body', { hasText: '管理员仍可发言' }).waitFor();
  await muteAll.click();
  await a.page.locator('.mute-all[aria-checked="false"]').waitFor();
  await c.page.locator('.group-panel .group-send-notice').waitFor({ state: 'detached' });
  await say(c, 'after mute all');
  await a.page.locator('.messages .body', { hasText: 'after mute all' }).waitFor();
  for (const p of [a, b]) {
    const seen = await bodies(p);
    assert.ok(!seen.includes('muted words') && !seen.includes('during mute all'), seen.join(' | '));
  }

  // Requests to join: the owner sets the policy; a stranger finds the group
  // by its ID and asks with a note; the admin sees the count and approves;
  // the newcomer reads what is said from then on.
  await a.page.getByLabel('Who may join').selectOption('request');
  await a.page.locator('.join-policy').getByRole('button', { name: 'Save' }).click();
  await b.page.locator('.group-requests .empty', { hasText: '没有待处理的申请' }).waitFor();
  await d.page.getByRole('button', { name: 'New group' }).click();
  await d.page.getByRole('tab', { name: 'Join a group' }).click();
  await d.page.getByLabel('Group ID').fill(groupId);
  await d.page.getByRole('button', { name: 'Look up' }).click();
  await d.page.locator('.found-group-name', { hasText: groupName }).waitFor();
  const note = 'new colleague <b>here</b>';
  await d.page.getByLabel('Note to the admins (optional)').fill(note);
  await d.page.getByRole('button', { name: 'Ask to join' }).click();
  await d.page.locator('.found-group .notice', { hasText: 'Request sent' }).waitFor();
  await shot(d.page, 'join-request-en-light');
  await b.page.locator('.group-requests .requests-count', { hasText: '1' }).waitFor();
  const request = b.page.locator(`.join-request[data-user="${fourth}"]`);
  assert.equal(await request.locator('.join-note').textContent(), note, 'the note is text');
  await a.page.locator(`.join-request[data-user="${fourth}"]`).waitFor();
  await shot(b.page, 'requests-zh-dark');
  await request.getByRole('button', { name: '同意' }).click();
  await b.page.locator('.group-requests .empty').waitFor();
  await a.page.locator('.group-requests .empty').waitFor();
  await d.page.locator('.found-group', { hasText: 'Approved: you are in the group.' }).waitFor();
  await d.page.getByRole('button', { name: 'Open the group' }).click();
  await d.page.locator('.chat-header h2', { hasText: groupName }).waitFor();
  await say(a, 'welcome, newcomer');
  await d.page.locator('.messages .body', { hasText: 'welcome, newcomer' }).waitFor();
  assert.ok(!(await bodies(d)).includes('after mute all'), 'nothing from before the join');
  await openPanel(d);
  await row(a, fourth).waitFor();

  // A hostile group nickname, set by the admin, is text on the others' screens.
  const nickname = '<img src=x onerror="window.__pwned=1">小鲍';
  await b.page.getByLabel('我在本群的昵称').fill(nickname);
  await b.page.locator('.group-nickname').getByRole('button', { name: '保存' }).click();
  for (const p of [a, c, d]) {
    await row(p, second).locator('.member-user', { hasText: `@${second}` }).waitFor();
    assert.equal(await row(p, second).locator('.member-name').textContent(), nickname);
  }

  // The owner hands the group to the admin, with a confirm step; every
  // screen shows the new owner, and the old one as an admin.
  await row(a, second).getByRole('button', { name: 'Make owner' }).click();
  const confirm = a.page.locator('.confirm-step');
  assert.ok((await confirm.textContent()).includes(nickname), 'the question names the member as text');
  await shot(a.page, 'transfer-confirm-en-light');
  await confirm.getByRole('button', { name: 'Transfer' }).click();
  for (const p of [a, b, c, d]) {
    await row(p, second).locator('.role-badge', { hasText: p.words.owner }).waitFor();
    await row(p, owner).locator('.role-badge', { hasText: p.words.admin }).waitFor();
  }
  await a.page.locator('.group-facts', { hasText: 'Your role: Admin' }).waitFor();
  await b.page.locator('.group-facts', { hasText: `我的身份: ${ZH.owner}` }).waitFor();
  assert.equal(await row(a, second).locator('button').count(), 0, 'an admin cannot act on the owner');

  // A file sent in the group is in its files on every screen; the
  // newcomer downloads it byte for byte; only the sender and managers may
  // delete it; the new owner deletes it and the server drops it.
  const bytes = Buffer.concat([Buffer.from('group plan\n'), randomBytes(40_000)]);
  const fileName = 'plan <img src=x onerror=alert(1)> "v2".bin'; // no slash: the server keeps the last path component
  await c.page.locator('[data-testid=attach-input]').setInputFiles([
    { name: fileName, mimeType: 'application/octet-stream', buffer: bytes },
  ]);
  for (const p of [a, b, c, d]) {
    const file = p.page.locator('.group-file', { hasText: 'plan' });
    await file.waitFor({ timeout: 30_000 });
    assert.equal(await file.locator('.file-name').textContent(), fileName);
    assert.equal(await file.locator('.group-file-sharer').textContent(), third);
  }
  const dFile = d.page.locator('.group-file', { hasText: 'plan' });
  assert.equal(await dFile.getByRole('button', { name: 'Delete' }).count(), 0, 'not the sender, not a manager');
  assert.equal(await c.page.locator('.group-file').getByRole('button', { name: 'Delete' }).count(), 1, 'the sender');
  const [download] = await Promise.all([d.page.waitForEvent('download'), dFile.locator('.file-download').click()]);
  assert.equal(download.suggestedFilename().includes('plan'), true);
  assert.equal(sha(await readFile(await download.path())), sha(bytes), 'the file came down whole');
  const href = await dFile.locator('.file-download').getAttribute('href');
  assert.match(href, /^\/api\/files\/[0-9a-f]{32}\?exp=\d+&sig=/);
  for (const p of [a, b]) await p.page.locator('.group-files').scrollIntoViewIfNeeded();
  await shot(a.page, 'files-en-light');
  await shot(b.page, 'files-zh-dark');
  const bFile = b.page.locator('.group-file', { hasText: 'plan' });
  await bFile.getByRole('button', { name: '删除' }).click();
  await bFile.locator('.confirm-step').getByRole('button', { name: '删除' }).click();
  await bFile.waitFor({ state: 'detached' });
  assert.equal((await fetch(ORIGIN + href)).status, 404, 'the file is gone from the server');

  // At phone width the panel takes the screen and still reads.
  await a.page.setViewportSize({ width: 390, height: 760 });
  await a.page.locator('.group-panel .members').scrollIntoViewIfNeeded();
  await shot(a.page, 'panel-phone');
  assert.equal(
    await a.page.locator('.group-panel').evaluate((panel) => Math.round(panel.getBoundingClientRect().width)),
    390,
    'the panel takes the whole width on a phone',
  );

  for (const p of [a, b, c, d]) {
    assert.equal(await p.page.evaluate(() => window.__pwned ?? null), null, 'no hostile script ran');
    assert.equal(await p.page.locator('.group-panel img, .group-panel b').count(), 0, 'no markup from names');
    assert.deepEqual(p.problems, [], p.problems.join('\n'));
    await p.context.close();
  }
});
