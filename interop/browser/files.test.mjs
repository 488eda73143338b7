// Files in the chat app, end to end in Debian's Chromium: Alice sends an
// image and a file at once through the composer's attach button; Bob sees
// the thumbnail, opens it in the lightbox (Esc closes it) and downloads
// the file byte for byte; an upload interrupted by a reload comes back as
// its pending bubble and completes; a voice message recorded with
// Chromium's fake microphone is sent and can play.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { launch, ORIGIN, png, shooter, signUp } from './app.mjs';

const suffix = String(Date.now() % 1_000_000);
const ALICE = `falice${suffix}`;
const BOB = `fbob${suffix}`;

const shot = shooter('files');

let browser;
before(async () => {
  browser = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required']);
});
after(async () => {
  await browser?.close();
});

async function person() {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 760 }, acceptDownloads: true });
  await context.grantPermissions(['microphone'], { origin: ORIGIN });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(ORIGIN + '/');
  return { context, page, problems };
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

async function download(page, card) {
  const [dl] = await Promise.all([page.waitForEvent('download'), card.locator('.file-download').click()]);
  return { name: dl.suggestedFilename(), bytes: await readFile(await dl.path()) };
}

let a;
let b;

test('images and files: thumbnail, lightbox, download byte for byte, a reload mid-upload', async () => {
  a = await person();
  b = await person();
  await signUp(a.page, ALICE);
  await signUp(b.page, BOB);
  // Friends, so they may message each other.
  await a.page.getByRole('tab', { name: 'Contacts' }).click();
  await a.page.getByLabel('Add a friend by username').fill(BOB);
  await a.page.getByRole('button', { name: 'Add', exact: true }).click();
  await b.page.getByRole('tab', { name: 'Contacts' }).click();
  await b.page.getByRole('button', { name: 'Accept' }).click();
  await a.page.locator('.contacts .chat-row', { hasText: BOB }).click();
  await a.page.getByLabel('Message', { exact: true }).fill('files follow');
  await a.page.keyboard.press('Enter');
  await b.page.getByRole('tab', { name: 'Chats' }).click();
  await b.page.locator('.chat-row', { hasText: ALICE }).click();
  await b.page.locator('.messages .body', { hasText: 'files follow' }).waitFor();

  // An image and a file at once.
  const image = png(640, 400);
  const doc = Buffer.concat([Buffer.from('<script>alert(1)</script> notes\n'), randomBytes(50_000)]);
  const docName = '<b>报告<img src=x onerror=alert(1)> "final".bin'; // no slash: the server keeps the last path component
  assert.ok(await a.page.getByRole('button', { name: 'Attach files' }).isVisible());
  await a.page.locator('[data-testid=attach-input]').setInputFiles([
    { name: 'gradient.png', mimeType: 'image/png', buffer: image },
    { name: docName, mimeType: 'application/octet-stream', buffer: doc },
  ]);
  const thumb = b.page.locator('.messages .message .image-thumb img');
  await thumb.waitFor();
  await b.page.waitForFunction(() => document.querySelector('.image-thumb img')?.naturalWidth > 0);
  const bobCard = b.page.locator('.messages .message .file-card', { hasText: '报告' });
  await bobCard.waitFor();
  assert.equal(await bobCard.locator('.file-name').textContent(), docName, 'the name is shown as text');
  assert.equal(await b.page.locator('.messages b, .messages img[src=x]').count(), 0, 'no markup from a file name');
  await shot(b.page, 'received');

  // The lightbox: opens from the thumbnail, closes with Esc.
  await b.page.getByRole('button', { name: /Open image/ }).click();
  const dialog = b.page.getByRole('dialog');
  await dialog.waitFor();
  await b.page.waitForFunction(() => document.querySelector('.lightbox img')?.naturalWidth === 640);
  await shot(b.page, 'lightbox');
  await b.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });

  // The file downloads byte for byte, under its name, from a signed URL.
  const got = await download(b.page, bobCard);
  assert.equal(sha(got.bytes), sha(doc));
  const href = await bobCard.locator('.file-download').getAttribute('href');
  assert.match(href, /^\/api\/files\/[0-9a-f]{32}\?exp=\d+&sig=/);

  // A big upload, slowed down, interrupted by a reload: it comes back and completes.
  const big = randomBytes(12 * 1024 * 1024);
  await a.page.route('**/api/uploads/*', async (route) => {
    if (route.request().method() === 'PATCH') await new Promise((done) => setTimeout(done, 700));
    await route.continue().catch(() => undefined);
  });
  await a.page.locator('[data-testid=attach-input]').setInputFiles([
    { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
  ]);
  const bubble = a.page.locator('.message.upload', { hasText: 'big.bin' });
  await bubble.waitFor();
  await a.page.waitForFunction(() => Number(document.querySelector('.message.upload progress')?.value) >= 20);
  await shot(a.page, 'uploading');
  await a.page.unrouteAll({ behavior: 'ignoreErrors' });
  await a.page.reload();
  await a.page.locator('.chat-row', { hasText: BOB }).click();
  await a.page.locator('.message.upload', { hasText: 'big.bin' }).waitFor();
  const bigCard = b.page.locator('.messages .message .file-card', { hasText: 'big.bin' });
  await bigCard.waitFor({ timeout: 60_000 });
  const gotBig = await download(b.page, bigCard);
  assert.equal(gotBig.bytes.length, big.length);
  assert.equal(sha(gotBig.bytes), sha(big), 'the resumed upload arrived whole');

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});

// Chromium records Opus in WebM with no duration in its header: the server
// takes it as `voice` and times it from its blocks, so the duration shown
// is the server's reading of the real recording.
test('a voice message from the fake microphone is sent and plays', async () => {
  assert.ok(a && b, 'runs after the test above');
  await a.page.getByRole('button', { name: 'Record a voice message' }).click();
  await a.page.getByRole('status').filter({ hasText: 'Recording' }).waitFor();
  await a.page.waitForTimeout(2500);
  await a.page.getByRole('button', { name: 'Stop and send' }).click();
  const voice = b.page.locator('.messages .file-voice');
  await voice.locator('audio').waitFor({ timeout: 30_000 });
  // About two and a half seconds were recorded: 0:02 or 0:03, never 0:00.
  assert.match(await voice.locator('.voice-duration').innerText(), /^0:0[23]$/);
  await b.page.waitForFunction(() => {
    const el = document.querySelector('.file-voice audio');
    return el !== null && el.readyState >= 1 && el.duration > 0;
  });
  // It plays: the position moves.
  await voice.locator('audio').evaluate((el) => el.play());
  await b.page.waitForFunction(() => (document.querySelector('.file-voice audio')?.currentTime ?? 0) > 0.2);
  await shot(b.page, 'voice');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
