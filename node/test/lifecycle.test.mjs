// Issue 15 in Node: raw photo bytes, close() / Symbol.asyncDispose, and `client.accounts`
// made from the engine's method table.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Client, methods } from '../index.js'
import { newClient, startServer, waitFor } from '../test-support/helpers.mjs'

let server
before(async () => {
  server = await startServer()
})
after(() => server.close())

/** CPU seconds this process spent running `fn` (all threads: the engine's too). */
async function cpuSeconds(fn) {
  const start = process.cpuUsage()
  const value = await fn()
  const used = process.cpuUsage(start)
  return { value, seconds: (used.user + used.system) / 1e6 }
}

test('a Buffer upload reaches the engine raw: 32 MiB cost one copy, not base64 + JSON', async () => {
  const { client } = newClient(server, { maxPhotoBytes: 64 << 20 })
  // Not an image: the engine refuses it once it sniffs the bytes, so the cost measured is
  // the hand-over. Base64 + JSON of 32 MiB took seconds of CPU in the dev build.
  const bytes = Buffer.alloc(32 << 20, 7)
  const { value: err, seconds } = await cpuSeconds(() =>
    client.accounts.setProfilePhoto({ UID: 'raw', photoBytes: bytes }).catch((e) => e),
  )
  assert.equal(err.code, 'MISSING_PHOTO', String(err))
  assert.ok(seconds < 0.5, `the upload used ${seconds.toFixed(3)} s of CPU`)
  // The same file as base64 text still works (Gigya's wire form, parsed by the engine).
  const png = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../examples/photos/astronaut.png'))
  const viaText = await client.accounts.setProfilePhoto({ UID: 'raw', photoBytes: png.toString('base64') })
  const viaView = await client.accounts.setProfilePhoto({ UID: 'raw', photoBytes: new Uint8Array(png), context: 'c1' })
  assert.equal(viaText.UID, 'raw')
  assert.equal(viaView.context, 'c1', 'context is echoed beside a raw photo too')
  // The generic call hands bytes over raw as well.
  const generic = await client.call('accounts.uploadProfilePhoto', { UID: 'raw', photoBytes: png })
  assert.equal(generic.errorCode, 0, JSON.stringify(generic))
  await client.close()
})

test('close(): the call in flight and later calls end with 503001, and it returns fast', async () => {
  const { client } = newClient(server)
  const opened = server.state.hangOpened
  const inFlight = client.accounts.importProfilePhoto({ UID: 'c', url: `${server.base}/hang` }).catch((e) => e)
  await waitFor(() => server.state.hangOpened === opened + 1)
  const started = performance.now()
  await client.close()
  const took = performance.now() - started
  assert.ok(took < 1500, `close took ${took.toFixed(0)} ms`)
  const err = await inFlight
  assert.equal(err.errorCode, 503001, String(err))
  assert.match(err.callId, /^[0-9a-f]{32}$/)
  const later = await client.accounts.getPolicies().catch((e) => e)
  assert.equal(later.errorCode, 503001, String(later))
  await client.close() // twice is harmless
})

test('Symbol.asyncDispose closes the client (what `await using` calls)', async () => {
  const { client } = newClient(server)
  assert.equal((await client.accounts.getPolicies()).errorCode, 0)
  await client[Symbol.asyncDispose]()
  assert.equal((await client.call('accounts.getPolicies')).errorCode, 503001)
  // `await using` itself where this Node parses it (>= 24); Node 20 and 22 do not.
  let usingSyntax = true
  try {
    new Function('return async (C) => { await using c = new C(); return c }')
  } catch {
    usingSyntax = false
  }
  if (usingSyntax) {
    const run = new Function('C', 'opts', 'return (async () => { await using c = new C(opts); return c })()')
    const used = await run(Client, { dataDir: newClient(server).dataDir })
    assert.equal((await used.call('accounts.getPolicies')).errorCode, 503001)
  }
})

test('client.accounts is made from the engine table, and the typings name exactly those', () => {
  const names = methods.flatMap((m) => [m.shortName, ...m.aliases])
  assert.ok(names.includes('importProfilePhoto') && names.includes('uploadProfilePhoto'), names.join())
  for (const m of methods) assert.equal(m.name, `accounts.${m.shortName}`)
  const { client } = newClient(server)
  for (const name of names) assert.equal(typeof client.accounts[name], 'function', name)
  const own = Object.getOwnPropertyNames(Object.getPrototypeOf(client.accounts)).filter((n) => n !== 'constructor')
  assert.deepEqual(own.sort(), [...names].sort())
  // index.d.ts: the functions declared in `interface Accounts`.
  const dts = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../index.d.ts'), 'utf8')
  const body = /export interface Accounts \{([\s\S]*?)\n\}/.exec(dts)[1]
  const typed = new Set([...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]))
  assert.deepEqual([...typed].sort(), [...names].sort())
  return client.close()
})
