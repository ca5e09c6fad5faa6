// The public API: every method in Promise and callback form, conversions, error lifting.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'

import * as esm from 'avatarium'
import { Client, ProfilePhotoError } from '../index.js'
import { b64, FILES, newClient, startServer, tmpDir, viaCallback } from '../test-support/helpers.mjs'

const require = createRequire(import.meta.url)
let server

before(async () => {
  server = await startServer()
})
after(() => server.close())

const HEX32 = /^[0-9a-f]{32}$/
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

function assertEnvelope(r, errorCode = 0) {
  assert.match(r.callId, HEX32)
  assert.match(r.time, TIME)
  assert.equal(r.apiVersion, 2)
  assert.equal(r.errorCode, errorCode, JSON.stringify(r))
  if (errorCode !== 0) {
    assert.equal(typeof r.errorMessage, 'string')
    assert.equal(typeof r.errorDetails, 'string')
  }
}

test('require and import give the same package', () => {
  const cjs = require('avatarium')
  assert.equal(typeof cjs.Client, 'function')
  assert.equal(esm.Client, cjs.Client)
  assert.equal(esm.default.Client, cjs.Client)
  assert.equal(esm.ProfilePhotoError, cjs.ProfilePhotoError)
  assert.match(cjs.version, /^\d+\.\d+\.\d+/)
})

test('the error table comes from the core', () => {
  const codes = ProfilePhotoError.kinds.map((k) => [k.code, k.errorCode, k.statusCode])
  assert.deepEqual(codes, [
    ['MISSING_PARAMETER', 400002, 400],
    ['INVALID_PARAMETER', 400006, 400],
    ['UNAUTHORIZED', 403005, 403],
    ['INVALID_URL', 404004, 404],
    ['MISSING_PHOTO', 409010, 409],
    ['PHOTO_TOO_LARGE', 413004, 413],
    ['INTERNAL', 500001, 500],
    ['TIMEOUT', 504002, 504],
    ['BUSY', 503001, 503],
  ])
})

describe('every method, Promise form', () => {
  test('registration flow, import, upload, publish, policies, remove, purge', async () => {
    const { client } = newClient(server)
    const reg = await client.accounts.initRegistration()
    assertEnvelope(reg)
    assert.equal(typeof reg.regToken, 'string')

    const imported = await client.accounts.importProfilePhoto({ regToken: reg.regToken, URL: `${server.base}/photo.jpg`, publish: false })
    assertEnvelope(imported)
    assert.match(imported.UID, HEX32)
    assert.equal(imported.photoURL, undefined)

    const info = await client.accounts.getAccountInfo({ regToken: reg.regToken })
    assert.equal(info.UID, imported.UID)
    assert.equal(info.isRegistered, false)
    assert.deepEqual(info.profile, {})

    const published = await client.accounts.publishProfilePhoto({ regToken: reg.regToken })
    assertEnvelope(published)
    assert.match(published.photoURL, /^file:\/\/.*\.jpg$/)
    assert.match(published.thumbnailURL, /\.jpg$/)

    const final = await client.accounts.finalizeRegistration({ regToken: reg.regToken })
    assert.equal(final.isRegistered, true)
    assert.equal(final.profile.photoURL, published.photoURL)

    // A Buffer, a Uint8Array view, an ArrayBuffer and base64 text are the same photo.
    const bytes = fs.readFileSync(path.join(FILES, 'photo.png'))
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const arrayBuffer = view.slice().buffer
    const urls = []
    for (const photoBytes of [bytes, view, arrayBuffer, bytes.toString('base64')]) {
      const r = await client.accounts.setProfilePhoto({ UID: 'u1', photoBytes, publish: true })
      assertEnvelope(r)
      urls.push(r.photoURL)
    }
    assert.equal(new Set(urls).size, 1)
    assert.match(urls[0], /\.png$/)

    const uploaded = await client.accounts.uploadProfilePhoto({ UID: 'u1', photoBytes: b64('photo.gif') })
    assert.equal(uploaded.UID, 'u1')
    assert.equal(uploaded.photoURL, undefined)

    const defaults = { thumbnailWidth: 64, thumbnailHeight: 64, thumbnailCrop: 'center', thumbnailScales: [1] }
    assert.deepEqual((await client.accounts.getPolicies()).profilePhoto, defaults)
    const set = await client.accounts.setPolicies({ profilePhoto: { thumbnailWidth: 32, thumbnailHeight: 24, thumbnailScales: [1, 2] } })
    assert.deepEqual(set.profilePhoto, { thumbnailWidth: 32, thumbnailHeight: 24, thumbnailCrop: 'center', thumbnailScales: [1, 2] })
    const republished = await client.accounts.publishProfilePhoto({ UID: 'u1' })
    assert.equal(republished.UID, 'u1')
    assert.match(republished.photoURL, /\.png$/)
    // Every file of the photo beside Gigya's fields: the photo, the thumbnail at 1x and 2x.
    const shapes = republished.profile.renditions.map((r) => [r.kind, r.width, r.height, r.scale])
    assert.deepEqual(shapes.slice(1), [['thumbnail', 32, 24, 1], ['thumbnail', 64, 48, 2]])
    assert.equal(republished.profile.renditions[1].url, republished.thumbnailURL)

    const removed = await client.accounts.removeProfilePhoto({ UID: 'u1' })
    assert.equal(removed.UID, 'u1')
    assert.deepEqual((await client.accounts.getAccountInfo({ UID: 'u1' })).profile, {})

    const purged = await client.purge()
    assertEnvelope(purged)
    assert.equal(typeof purged.expiredPending, 'number')
    assert.equal(typeof purged.blobsDeleted, 'number')
    assert.equal(typeof purged.abandonedRegistrations, 'number')
  })

  test('publish as the string "true" and context echo', async () => {
    const { client } = newClient(server)
    const r = await client.accounts.importProfilePhoto({ UID: 'u', url: `${server.base}/photo.gif`, publish: 'true', context: { k: [1, 2] } })
    assert.deepEqual(r.context, { k: [1, 2] })
    assert.match(r.photoURL, /\.png$/)
  })

  test('Client.open opens off the JS thread', async () => {
    const client = await Client.open({ dataDir: tmpDir() })
    assert.ok(client instanceof Client)
    assertEnvelope(await client.accounts.getPolicies())
  })
})

describe('every method, callback form (the seed style)', () => {
  test('each callback gets the envelope once, and the method returns undefined', async () => {
    const { client } = newClient(server)
    const run = async (name, params) => {
      const { args } = await viaCallback((callback) => client.accounts[name]({ ...params, callback }))
      assert.equal(args.length, 1)
      assertEnvelope(args[0])
      return args[0]
    }
    const reg = await run('initRegistration', {})
    const imported = await run('importProfilePhoto', { regToken: reg.regToken, URL: `${server.base}/photo.png`, publish: false })
    assert.match(imported.UID, HEX32)
    assert.equal((await run('getAccountInfo', { regToken: reg.regToken })).isRegistered, false)
    assert.match((await run('publishProfilePhoto', { regToken: reg.regToken })).photoURL, /\.png$/)
    assert.equal((await run('finalizeRegistration', { regToken: reg.regToken })).isRegistered, true)
    assert.match((await run('setProfilePhoto', { UID: 'c', photoBytes: fs.readFileSync(path.join(FILES, 'photo.jpg')), publish: true })).photoURL, /\.jpg$/)
    assert.equal((await run('uploadProfilePhoto', { UID: 'c', photoBytes: b64('photo.png') })).UID, 'c')
    assert.equal((await run('setPolicies', { profilePhoto: '{"thumbnailWidth": 80}' })).profilePhoto.thumbnailWidth, 80)
    assert.equal((await run('getPolicies', {})).profilePhoto.thumbnailWidth, 80)
    assert.equal((await run('removeProfilePhoto', { UID: 'c' })).UID, 'c')
  })

  test('errors reach the callback as envelopes, never as exceptions', async () => {
    const { client } = newClient(server)
    const cases = [
      ['importProfilePhoto', { UID: 'x' }, 400002],
      ['importProfilePhoto', { UID: 'x', regToken: 't', url: `${server.base}/photo.jpg` }, 400006],
      ['getAccountInfo', { UID: 'never-seen' }, 403005],
      ['importProfilePhoto', { UID: 'x', url: `${server.base}/missing.jpg` }, 404004],
      ['importProfilePhoto', { UID: 'x', url: `${server.base}/not_an_image.txt` }, 409010],
      ['publishProfilePhoto', { UID: 'x' }, 409010],
    ]
    for (const [name, params, code] of cases) {
      const { args } = await viaCallback((callback) => client.accounts[name]({ ...params, callback }))
      assertEnvelope(args[0], code)
    }
  })

  test('a callback that is not a function is a TypeError', () => {
    const { client } = newClient(server)
    assert.throws(() => client.accounts.getPolicies({ callback: 'nope' }), TypeError)
  })
})

describe('every error code through the binding', () => {
  async function rejects(promise, code, errorCode, statusCode, detailsPart) {
    const err = await promise.then(
      (r) => assert.fail(`resolved: ${JSON.stringify(r)}`),
      (e) => e,
    )
    assert.ok(err instanceof ProfilePhotoError, String(err))
    assert.ok(err instanceof Error)
    assert.equal(err.name, 'ProfilePhotoError')
    assert.equal(err.code, code)
    assert.equal(err.errorCode, errorCode)
    assert.equal(err.statusCode, statusCode)
    assert.match(err.callId, HEX32)
    assert.equal(err.callId, err.response.callId)
    assert.equal(err.details, err.response.errorDetails)
    assertEnvelope(err.response, errorCode)
    if (detailsPart) assert.ok(err.details.includes(detailsPart), err.details)
    assert.ok(err.message.includes(String(errorCode)), err.message)
    return err
  }

  test('400002 MISSING_PARAMETER', async () => {
    const { client } = newClient(server)
    await rejects(client.accounts.importProfilePhoto({ UID: 'x' }), 'MISSING_PARAMETER', 400002, 400, 'url')
    await rejects(client.accounts.importProfilePhoto({ URL: `${server.base}/photo.jpg` }), 'MISSING_PARAMETER', 400002, 400, 'UID')
    await rejects(client.accounts.setProfilePhoto({ UID: 'x' }), 'MISSING_PARAMETER', 400002, 400, 'photoBytes')
  })

  test('400006 INVALID_PARAMETER', async () => {
    const { client } = newClient(server)
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', regToken: 'y', url: `${server.base}/photo.jpg` }), 'INVALID_PARAMETER', 400006, 400, 'UID')
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', url: `${server.base}/photo.jpg`, publish: 'maybe' }), 'INVALID_PARAMETER', 400006, 400, 'publish')
    await rejects(client.accounts.setProfilePhoto({ UID: 'x', photoBytes: 'not base64!' }), 'INVALID_PARAMETER', 400006, 400, 'photoBytes')
    await rejects(client.accounts.setPolicies({ profilePhoto: { thumbnailWidth: 0 } }), 'INVALID_PARAMETER', 400006, 400, 'thumbnailWidth')
  })

  test('403005 UNAUTHORIZED', async () => {
    const { client } = newClient(server)
    await rejects(client.accounts.getAccountInfo({ UID: 'never-seen' }), 'UNAUTHORIZED', 403005, 403)
    await rejects(client.accounts.importProfilePhoto({ regToken: 'forged.token', url: `${server.base}/photo.jpg` }), 'UNAUTHORIZED', 403005, 403, 'regToken')
  })

  test('404004 INVALID_URL', async () => {
    const { client } = newClient(server)
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', url: `${server.base}/no-such.jpg` }), 'INVALID_URL', 404004, 404)
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', url: 'http://169.254.169.254/latest/meta-data/' }), 'INVALID_URL', 404004, 404)
  })

  test('409010 MISSING_PHOTO', async () => {
    const { client } = newClient(server)
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', url: `${server.base}/not_an_image.txt` }), 'MISSING_PHOTO', 409010, 409)
    await rejects(client.accounts.setProfilePhoto({ UID: 'x', photoBytes: Buffer.from('GIF? no, just text') }), 'MISSING_PHOTO', 409010, 409)
    await rejects(client.accounts.publishProfilePhoto({ UID: 'x' }), 'MISSING_PHOTO', 409010, 409)
  })

  test('413004 PHOTO_TOO_LARGE', async () => {
    const { client } = newClient(server, { maxPhotoBytes: 100000 })
    await rejects(client.accounts.setProfilePhoto({ UID: 'x', photoBytes: fs.readFileSync(path.join(FILES, 'big.png')) }), 'PHOTO_TOO_LARGE', 413004, 413)
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', url: `${server.base}/big.png` }), 'PHOTO_TOO_LARGE', 413004, 413)
  })

  test('500001 INTERNAL when the blob folder is gone', async () => {
    const { client, dataDir } = newClient(server)
    const blobs = path.join(dataDir, 'blobs')
    fs.rmSync(blobs, { recursive: true, force: true })
    fs.writeFileSync(blobs, 'not a folder')
    const err = await rejects(client.accounts.setProfilePhoto({ UID: 'x', photoBytes: b64('photo.png') }), 'INTERNAL', 500001, 500)
    assert.equal(err.details, 'Internal error') // causes are logged, never returned
  })

  test('504002 TIMEOUT when the server never answers', async () => {
    const { client } = newClient(server, { fetchTimeoutMs: 500 })
    const started = Date.now()
    await rejects(client.accounts.importProfilePhoto({ UID: 'x', url: `${server.base}/hang` }), 'TIMEOUT', 504002, 504)
    assert.ok(Date.now() - started < 5000)
  })

  test('503001 BUSY when the fetch queue is full', async () => {
    const { client } = newClient(server, { maxConcurrentFetches: 1, maxQueuedFetches: 0, fetchTimeoutMs: 1500 })
    const first = client.accounts.importProfilePhoto({ UID: 'x', url: `${server.base}/hang` }).catch((e) => e)
    await new Promise((r) => setTimeout(r, 200))
    await rejects(client.accounts.importProfilePhoto({ UID: 'y', url: `${server.base}/photo.jpg` }), 'BUSY', 503001, 503)
    assert.equal((await first).code, 'TIMEOUT')
  })
})

describe('opening a client', () => {
  test('a bad option throws synchronously with err.code', () => {
    const err = assert.throws(() => new Client({ dataDir: tmpDir(), noSuchOption: 1 }), (e) => {
      assert.ok(e instanceof ProfilePhotoError)
      assert.equal(e.code, 'INVALID_PARAMETER')
      assert.equal(e.errorCode, 400006)
      assert.equal(e.callId, undefined)
      assert.match(e.details, /no_such_option/)
      assert.equal(e.cause.code, 'INVALID_PARAMETER') // the native error keeps its code
      return true
    })
    assert.equal(err, undefined)
    assert.throws(() => new Client({ dataDir: tmpDir(), jpegQuality: 0 }), { code: 'INVALID_PARAMETER' })
    assert.throws(() => new Client({ dataDir: tmpDir(), maxPhotoBytes: 'lots' }), { code: 'INVALID_PARAMETER' })
    assert.throws(() => new Client('not an object'), { code: 'INVALID_PARAMETER' })
  })

  test('snake_case keys work too', async () => {
    const dataDir = tmpDir()
    const client = new Client({ data_dir: dataDir, max_photo_bytes: 1000 })
    const err = await client.accounts.setProfilePhoto({ UID: 'x', photoBytes: b64('photo.png') }).catch((e) => e)
    assert.equal(err.code, 'PHOTO_TOO_LARGE')
    assert.ok(fs.existsSync(path.join(dataDir, 'blobs')))
  })

  test('Client.open rejects with err.code', async () => {
    await assert.rejects(Client.open({ fetchAllowedPorts: [] }), { name: 'ProfilePhotoError', code: 'INVALID_PARAMETER' })
    const file = path.join(tmpDir(), 'a-file')
    fs.writeFileSync(file, '')
    await assert.rejects(Client.open({ dataDir: file }), { name: 'ProfilePhotoError', code: 'INTERNAL', errorCode: 500001 })
    assert.throws(() => new Client({ dataDir: file }), { name: 'ProfilePhotoError', code: 'INTERNAL' })
  })
})

describe('client.call', () => {
  test('resolves with the raw envelope, error or not', async () => {
    const { client } = newClient(server)
    const ok = await client.call('accounts.getPolicies', { context: 'ctx-1' })
    assertEnvelope(ok)
    assert.equal(ok.context, 'ctx-1')
    const bad = await client.call('accounts.getAccountInfo', { UID: 'never-seen' })
    assertEnvelope(bad, 403005)
    assert.equal(bad.statusReason, 'Forbidden')
    assertEnvelope(await client.call('accounts.noSuchMethod', {}), 400006)
    assertEnvelope(await client.call('ACCOUNTS.GETPOLICIES'), 0)
  })

  test('params the core cannot take are answered with 400006', async () => {
    const { client } = newClient(server)
    const cyclic = {}
    cyclic.self = cyclic
    for (const params of ['text', [1, 2], 42, cyclic, { n: 10n }]) {
      const r = await client.call('accounts.getPolicies', params)
      assertEnvelope(r, 400006)
      assert.match(r.errorDetails, /params/)
    }
  })

  test('concurrent calls each get their own envelope', async () => {
    const { client } = newClient(server, { maxQueuedImports: 100 })
    const calls = []
    for (let i = 0; i < 30; i++) {
      const UID = `c${i}`
      if (i % 3 === 0) calls.push(client.accounts.importProfilePhoto({ UID, url: `${server.base}/photo.jpg`, publish: true }))
      else if (i % 3 === 1) calls.push(client.accounts.setProfilePhoto({ UID, photoBytes: b64('photo.png'), publish: true }))
      else calls.push(client.accounts.getAccountInfo({ UID }).catch((e) => e.response))
    }
    const results = await Promise.all(calls)
    assert.equal(new Set(results.map((r) => r.callId)).size, 30)
    results.forEach((r, i) => {
      if (i % 3 === 2) assertEnvelope(r, 403005)
      else {
        assertEnvelope(r)
        assert.equal(r.UID, `c${i}`)
        assert.match(r.photoURL, i % 3 === 0 ? /\.jpg$/ : /\.png$/)
      }
    })
  })
})
