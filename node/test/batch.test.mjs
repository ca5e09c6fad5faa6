// client.importBatch: results per row, resumption, retryFailed, shards, lazy (async) input
// with backpressure, stopping (break, a throwing onProgress or input), bad rows. Real
// loopback origin, real SQLite store.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { ProfilePhotoError } from '../index.js'
import { fetches, newClient, startServer } from '../test-support/helpers.mjs'

let server

before(async () => {
  server = await startServer()
})
after(() => server.close())

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** `n` rows, each its own URL (so the origin counts each row's fetches). */
function rowsOf(tag, n) {
  return Array.from({ length: n }, (_, i) => [`${tag}${i}`, `${server.base}/photo.jpg?${tag}${i}`])
}

async function collect(iterable) {
  const out = []
  for await (const r of iterable) out.push(r)
  return out
}

test('every row gets a result; export objects, UID/URL objects and pairs', async () => {
  const { client } = newClient(server)
  const rows = [
    ...rowsOf('pub', 3),
    { UID: 'exp', profile: { photoURL: `${server.base}/photo.png?exp` } },
    { UID: 'plain', URL: `${server.base}/photo.gif?plain` },
  ]
  const got = await collect(client.importBatch(rows, { concurrency: 3 }))
  assert.deepEqual(got.map((r) => r.row).sort(), [0, 1, 2, 3, 4])
  for (const r of got) {
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.equal(r.errorCode, 0)
    assert.equal(r.details, null)
    assert.equal(r.attempts, 1)
    assert.equal(r.resumed, false)
    assert.equal(r.response.errorCode, 0)
    assert.ok(r.response.photoURL)
  }
  const info = await client.accounts.getAccountInfo({ UID: 'exp' })
  assert.ok(info.profile.photoURL)
  await client.close()
})

test('resume skips done rows; retryFailed reruns only the failures', async () => {
  const { client } = newClient(server)
  const rows = [...rowsOf('res', 4), ['gone', `${server.base}/missing.jpg?res`]]
  const first = await collect(client.importBatch(rows, { inputKey: 'export-1' }))
  const failed = first.filter((r) => !r.ok)
  assert.deepEqual(failed.map((r) => r.uid), ['gone'])
  assert.equal(failed[0].attempts, 1, 'a 4xx is never retried')
  assert.equal(fetches(server, '/photo.jpg?res'), 4)

  const again = await collect(client.importBatch(rows, { inputKey: 'export-1' }))
  assert.ok(again.every((r) => r.resumed && r.attempts === 0 && r.response === null))
  assert.equal(fetches(server, '/photo.jpg?res'), 4, 'a done row is never fetched again')

  const retried = await collect(client.importBatch(rows, { inputKey: 'export-1', retryFailed: true }))
  const gone = retried.find((r) => r.uid === 'gone')
  assert.equal(gone.resumed, false)
  assert.equal(gone.attempts, 1)
  assert.ok(retried.filter((r) => r.uid !== 'gone').every((r) => r.resumed))
  assert.equal(fetches(server, '/photo.jpg?res'), 4)
  await client.close()
})

test('shards split the input; a bad shard throws at once', async () => {
  const { client } = newClient(server)
  const rows = rowsOf('sh', 7)
  const seen = []
  for (const shard of [[1, 3], '2/3', [3, 3]]) {
    for (const r of await collect(client.importBatch(rows, { inputKey: 'sharded', shard }))) seen.push(r.row)
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6])
  assert.throws(
    () => client.importBatch(rows, { shard: [4, 3] }),
    (e) => e instanceof ProfilePhotoError && e.code === 'INVALID_PARAMETER',
  )
  await client.close()
})

test('bad rows fail alone with 400006', async () => {
  const { client } = newClient(server)
  const cyclic = { UID: 'cyc' }
  cyclic.self = cyclic
  const rows = [42, ['only-uid'], cyclic, ['ok', `${server.base}/photo.jpg?bad`], ['ssrf', 'http://169.254.169.254/x']]
  const got = new Map((await collect(client.importBatch(rows))).map((r) => [r.row, r]))
  for (const i of [0, 1, 2]) assert.equal(got.get(i).errorCode, 400006, JSON.stringify(got.get(i)))
  assert.equal(got.get(3).ok, true)
  assert.equal(got.get(4).ok, false)
  await client.close()
})

test('an async generator is pulled lazily, with backpressure', async () => {
  const { client } = newClient(server)
  const n = 5000
  let produced = 0
  async function* rows() {
    for (let i = 0; i < n; i++) {
      produced += 1
      // Refused without a fetch: a port the fetcher does not allow.
      yield [`lazy${i}`, `http://127.0.0.1:1/${i}.jpg`]
    }
  }
  let done = 0
  let ahead = 0
  for await (const r of client.importBatch(rows(), { concurrency: 8 })) {
    done += 1
    ahead = Math.max(ahead, produced - done)
    assert.equal(r.ok, false)
  }
  assert.equal(done, n)
  assert.ok(ahead < 1500, `read ${ahead} rows ahead of the results`)
  await client.close()
})

test('a slow input sees results as rows finish, not once a block fills', async () => {
  const { client } = newClient(server)
  let given = 0
  async function* slow() {
    for (let i = 0; i < 30; i++) {
      given += 1
      yield [`slow${i}`, `http://127.0.0.1:1/${i}.jpg`]
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  let firstAt
  let done = 0
  for await (const r of client.importBatch(slow(), { concurrency: 2 })) {
    firstAt ??= given
    done += 1
    assert.equal(r.ok, false)
  }
  assert.equal(done, 30)
  assert.ok(firstAt < 10, `the first result came after ${firstAt} of 30 rows`)
  await client.close()
})

test('break stops the batch; a rerun finishes it', async () => {
  const { client } = newClient(server)
  const rows = rowsOf('brk', 60)
  for await (const _ of client.importBatch(rows, { inputKey: 'brk', concurrency: 2, perHost: 2 })) break
  const fetched = fetches(server, '/photo.jpg?brk')
  await sleep(300)
  assert.equal(fetches(server, '/photo.jpg?brk'), fetched, 'no row starts after the loop is left')
  assert.ok(fetched < 60)
  const rest = await collect(client.importBatch(rows, { inputKey: 'brk' }))
  assert.equal(rest.length, 60)
  assert.ok(rest.every((r) => r.ok))
  assert.ok(rest.some((r) => r.resumed))
  await client.close()
})

test('onProgress gets the counts; its throw stops the batch and propagates', async () => {
  const { client } = newClient(server)
  const seen = []
  const rows = [...rowsOf('prg', 6), ['prg-bad', `${server.base}/missing.jpg`]]
  const got = await collect(client.importBatch(rows, { onProgress: (p) => seen.push(p), progressEvery: 0 }))
  assert.equal(got.length, 7)
  assert.deepEqual(seen.at(-1), { done: 7, ok: 6, failed: 1, resumed: 0 })

  const many = rowsOf('boom', 50)
  const onProgress = (p) => {
    throw new Error(`stop at ${p.done}`)
  }
  await assert.rejects(collect(client.importBatch(many, { concurrency: 2, onProgress, progressEvery: 0 })), /stop at 1/)
  // A request sent just before the stop may reach the origin just after it: count from
  // there, then no further row may start.
  await sleep(100)
  const fetched = fetches(server, '/photo.jpg?boom')
  await sleep(300)
  assert.equal(fetches(server, '/photo.jpg?boom'), fetched)
  assert.ok(fetched < 50)
  await client.close()
})

test('an input that throws stops the batch', async () => {
  const { client } = newClient(server)
  function* rows() {
    yield ['ir0', `${server.base}/photo.jpg?ir0`]
    throw new Error('the export is truncated')
  }
  await assert.rejects(collect(client.importBatch(rows())), /truncated/)
  await client.close()
})
