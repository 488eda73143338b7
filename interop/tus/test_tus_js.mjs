// tus-js-client (the tus project's JavaScript client, Node build) against
// Magpie's tus 1.0 server. Run by run.sh (node --test), which exports
// MAGPIE_TUS_URL, ALICE_TOKEN and BOB_TOKEN.
//
// tus-js-client does the tus side; fetch() only looks at the result
// (upload status, download), so a disagreement shows up as an onError or a
// wrong result.

import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { Upload } from 'tus-js-client'

const BASE = process.env.MAGPIE_TUS_URL
const ENDPOINT = `${BASE}/api/uploads`
const ALICE = { Authorization: `Bearer ${process.env.ALICE_TOKEN}` }
const TUS = { 'Tus-Resumable': '1.0.0' }
const KiB = 1024
const MiB = 1024 * KiB

/** Options every upload here shares. retryDelays: null, so a server error
 *  fails the test at once instead of being retried away. */
function options(extra) {
  return { endpoint: ENDPOINT, headers: ALICE, retryDelays: null, ...extra }
}

/** Run an upload to its end; resolves with its success payload and the
 *  requests it sent ([method, Upload-Offset]). */
function run(data, extra) {
  const sent = []
  return new Promise((resolve, reject) => {
    const upload = new Upload(data, options({
      onBeforeRequest: (req) => { sent.push([req.getMethod(), req.getHeader('Upload-Offset')]) },
      onSuccess: (payload) => resolve({ upload, payload, sent }),
      onError: reject,
      ...extra,
    }))
    upload.start()
  })
}

async function headOffset(url) {
  const r = await fetch(url, { method: 'HEAD', headers: { ...TUS, ...ALICE } })
  assert.equal(r.status, 200, `HEAD ${url}`)
  return Number(r.headers.get('upload-offset'))
}

/** The completed upload at `url` made a file holding exactly `data`, named
 *  `name`: checks its record and the downloaded bytes; returns the file and
 *  the download response. */
async function checkStored(url, data, name) {
  const r = await fetch(url, { headers: ALICE })
  assert.equal(r.status, 200, `GET ${url}`)
  const status = await r.json()
  assert.equal(status.offset, data.length)
  assert.equal(status.length, data.length)
  assert.ok(status.file, `upload complete but no file: ${JSON.stringify(status)}`)
  assert.equal(status.file.name, name)
  assert.equal(status.file.size, data.length)
  assert.equal(status.file.sha256, createHash('sha256').update(data).digest('hex'))
  const download = await fetch(`${BASE}/api/files/${status.file.id}`, { headers: ALICE })
  assert.equal(download.status, 200)
  const bytes = Buffer.from(await download.arrayBuffer())
  assert.ok(bytes.equals(data), 'downloaded bytes differ from the uploaded ones')
  return { file: status.file, download }
}

test('3 MiB in 512 KiB chunks; the last response names the file', async () => {
  const data = randomBytes(3 * MiB)
  const { upload, payload, sent } = await run(data, {
    chunkSize: 512 * KiB,
    metadata: { filename: 'three.bin' },
  })
  // One POST, then six PATCHes at 0, 512 KiB, ... 2.5 MiB.
  assert.deepEqual(sent, [
    ['POST', undefined],
    ...[0, 1, 2, 3, 4, 5].map((i) => ['PATCH', String(i * 512 * KiB)]),
  ])
  const fileId = payload.lastResponse.getHeader('Magpie-File-Id')
  assert.ok(fileId, 'no Magpie-File-Id on the last PATCH response')
  const { file } = await checkStored(upload.url, data, 'three.bin')
  assert.equal(fileId, file.id)
})

test('aborted after 2 chunks, resumed by a new Upload at the same URL', async () => {
  const data = randomBytes(3 * MiB)
  // First client: stop after the 2nd chunk is acknowledged.
  const first = await new Promise((resolve, reject) => {
    let chunks = 0
    const upload = new Upload(data, options({
      chunkSize: 512 * KiB,
      metadata: { filename: 'resumed.bin' },
      onChunkComplete: () => {
        if (++chunks === 2) upload.abort().then(() => resolve(upload), reject)
      },
      onSuccess: () => reject(new Error('finished although aborted')),
      onError: reject,
    }))
    upload.start()
  })
  assert.equal(await headOffset(first.url), 1 * MiB)

  // Second client: no endpoint, so it cannot silently start a new upload;
  // it must HEAD the URL and continue at the server's offset.
  const progress = []
  const { upload, sent } = await run(data, {
    endpoint: null,
    uploadUrl: first.url,
    chunkSize: 512 * KiB,
    onProgress: (sentBytes) => progress.push(sentBytes),
  })
  assert.equal(upload.url, first.url)
  assert.deepEqual(sent.slice(0, 2), [['HEAD', undefined], ['PATCH', String(1 * MiB)]])
  assert.equal(sent.filter(([m]) => m === 'PATCH').length, 4)
  assert.ok(progress[0] >= 1 * MiB, `progress restarted from ${progress[0]}`)
  await checkStored(first.url, data, 'resumed.bin')
})

test('abort(true) terminates the upload: HEAD is then 404', async () => {
  const data = randomBytes(3 * MiB)
  const sent = []
  const url = await new Promise((resolve, reject) => {
    const upload = new Upload(data, options({
      chunkSize: 512 * KiB,
      metadata: { filename: 'doomed.bin' },
      onBeforeRequest: (req) => { sent.push(req.getMethod()) },
      onChunkComplete: () => { upload.abort(true).then(() => resolve(upload.url), reject) },
      onError: reject,
    }))
    upload.start()
  })
  assert.deepEqual(sent, ['POST', 'PATCH', 'DELETE'])
  const r = await fetch(url, { method: 'HEAD', headers: { ...TUS, ...ALICE } })
  assert.equal(r.status, 404)
  const status = await fetch(url, { headers: ALICE })
  assert.equal(status.status, 404)
})

test('a non-ASCII name round-trips in the file and in Content-Disposition', async () => {
  const name = '会议纪要.docx'
  const data = randomBytes(100 * KiB)
  const { upload } = await run(data, { chunkSize: 64 * KiB, metadata: { filename: name } })
  const { download } = await checkStored(upload.url, data, name)
  const disposition = download.headers.get('content-disposition')
  // RFC 6266 / RFC 5987: UTF-8, percent-encoded.
  assert.ok(
    disposition.includes("filename*=UTF-8''%E4%BC%9A%E8%AE%AE%E7%BA%AA%E8%A6%81.docx"),
    disposition,
  )
  assert.equal(encodeURIComponent(name), '%E4%BC%9A%E8%AE%AE%E7%BA%AA%E8%A6%81.docx')
})

test('creation-with-upload: the first chunk rides on the POST', async () => {
  const data = randomBytes(1 * MiB + 123)
  const { upload, sent } = await run(data, {
    chunkSize: 512 * KiB,
    uploadDataDuringCreation: true,
    metadata: { filename: 'eager.bin' },
  })
  assert.deepEqual(sent, [
    ['POST', undefined],
    ['PATCH', String(512 * KiB)],
    ['PATCH', String(1 * MiB)],
  ])
  await checkStored(upload.url, data, 'eager.bin')
})
