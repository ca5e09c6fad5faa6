// AbortSignal: aborting cancels the call in the core (the fetch's future is dropped, its
// connection closed, its import slot freed) and the Promise rejects with the signal's reason.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { newClient, startServer, waitFor } from '../test-support/helpers.mjs'

let server

before(async () => {
  server = await startServer()
})
after(() => server.close())

test('aborting a slow fetch rejects with AbortError and cancels the fetch', async () => {
  // One fetch slot and no queue: the next import only succeeds if the aborted one let go.
  const { client } = newClient(server, { fetchTimeoutMs: 30000, maxConcurrentFetches: 1, maxQueuedFetches: 0 })
  const { hangOpened, hangClosed } = server.state
  const controller = new AbortController()
  const started = Date.now()
  const pending = client.accounts.importProfilePhoto({ UID: 'a', url: `${server.base}/hang` }, { signal: controller.signal })
  await waitFor(() => server.state.hangOpened === hangOpened + 1)
  controller.abort()
  await assert.rejects(pending, (err) => {
    assert.equal(err.name, 'AbortError')
    assert.ok(err instanceof DOMException)
    return true
  })
  assert.ok(Date.now() - started < 3000, 'rejected promptly, long before the 30 s fetch timeout')
  // The core's future was dropped: the fetch's connection is closed ...
  await waitFor(() => server.state.hangClosed === hangClosed + 1, 3000)
  // ... and its fetch slot is free again.
  const r = await client.accounts.importProfilePhoto({ UID: 'a', url: `${server.base}/photo.jpg` })
  assert.equal(r.errorCode, 0)
})

test('the signal reason is the rejection, for client.call too', async () => {
  const { client } = newClient(server, { fetchTimeoutMs: 30000 })
  const controller = new AbortController()
  const reason = new Error('user went away')
  const pending = client.call('accounts.importProfilePhoto', { UID: 'b', url: `${server.base}/hang` }, { signal: controller.signal })
  setTimeout(() => controller.abort(reason), 100)
  await assert.rejects(pending, (err) => err === reason)
})

test('AbortSignal.timeout works as a deadline', async () => {
  const { client } = newClient(server, { fetchTimeoutMs: 30000 })
  await assert.rejects(
    client.accounts.importProfilePhoto({ UID: 'c', url: `${server.base}/hang` }, { signal: AbortSignal.timeout(200) }),
    { name: 'TimeoutError' },
  )
})

test('an already aborted signal rejects without starting the call', async () => {
  const { client } = newClient(server)
  const before = server.state.requests
  await assert.rejects(
    client.accounts.importProfilePhoto({ UID: 'd', url: `${server.base}/photo.jpg` }, { signal: AbortSignal.abort() }),
    { name: 'AbortError' },
  )
  await assert.rejects(client.purge({ signal: AbortSignal.abort() }), { name: 'AbortError' })
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(server.state.requests, before)
  await assert.rejects(client.accounts.getAccountInfo({ UID: 'd' }), { code: 'UNAUTHORIZED' }) // nothing was stored
})

test('aborting after a call finished does not touch it; later calls with that signal refuse', async () => {
  const { client } = newClient(server)
  const controller = new AbortController()
  const r = await client.accounts.importProfilePhoto({ UID: 'e', url: `${server.base}/photo.png`, publish: true }, { signal: controller.signal })
  assert.equal(r.errorCode, 0)
  controller.abort() // after the fact: the import above stands
  const err = await client.accounts.publishProfilePhoto({ UID: 'e' }, { signal: controller.signal }).catch((e) => e)
  assert.equal(err.name, 'AbortError') // now aborted: later calls refuse at once
  const again = await client.accounts.getAccountInfo({ UID: 'e' }, { signal: new AbortController().signal })
  assert.match(again.profile.photoURL, /\.png$/)
})

test('errors still reject with ProfilePhotoError when a signal is given', async () => {
  const { client } = newClient(server)
  await assert.rejects(
    client.accounts.importProfilePhoto({ UID: 'f', url: `${server.base}/missing.jpg` }, { signal: new AbortController().signal }),
    { name: 'ProfilePhotoError', code: 'INVALID_URL', errorCode: 404004 },
  )
})
