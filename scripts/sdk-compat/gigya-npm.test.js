'use strict'
// The npm `gigya` SDK (3.0.1, unmodified) against a running `avatarium serve`: its own API
// (`new Gigya(apiKey, dataCenter, httpRequest)`, `setCredentials`, `accounts.*`) with a
// site secret and with a userKey's signature (millisecond timestamps), and its errors.
// Starts nothing: scripts/test-sdk-compat.sh starts the server and passes it in AVATARIUM_*.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const https = require('node:https')
const { Gigya } = require('gigya')
const { pointAt } = require('./point-at')

function need(name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set: run scripts/test-sdk-compat.sh`)
  return v
}
const SERVER = need('AVATARIUM_URL')
const CA = fs.readFileSync(need('AVATARIUM_CA_FILE'))
const API_KEY = need('AVATARIUM_API_KEY')
const SECRET = need('AVATARIUM_SECRET')
const USER_KEY = need('AVATARIUM_USER_KEY')
const USER_SECRET = need('AVATARIUM_USER_SECRET')
const PHOTO_URL = need('AVATARIUM_PHOTO_URL')
const SERVER_PID = need('AVATARIUM_SERVER_PID')

// What the SDK asks for with dataCenter 'eu1'; the hook keeps it as the Host header.
const DATA_CENTER = 'eu1'
const GIGYA_HOST = 'accounts.eu1.gigya.com'

// Bounds, for the debug build on 2 shared cores (observed in brackets): an import with
// publish fetches, decodes and encodes the sample photo [≤ 0.09 s]; other calls [≤ 0.2 s for
// the first, with its TLS handshake; ≤ 0.02 s after]. A refusal must come back at once, with
// no retry: the SDK retries a 500001 up to four times, 5 s apart.
const IMPORT_SECS = 5
const CALL_SECS = 1
// Server CPU for one refused call [0 ticks of 0.01 s].
const REFUSAL_CPU_SECS = 0.05

/** The SDK pointed at the server, each request it sends kept in `sent`. */
function sdk(credentials) {
  const hook = pointAt(SERVER, { ca: CA })
  const sent = []
  const gigya = new Gigya(API_KEY, DATA_CENTER, (endpoint, host, params, headers) => {
    sent.push({ endpoint, host, params: { ...params } })
    return hook(endpoint, host, params, headers)
  })
  gigya.setCredentials(credentials)
  return { gigya, sent }
}

/** Gigya's success envelope (SPEC.md "Response envelope"). */
function assertEnvelope(r, what) {
  assert.equal(r.errorCode, 0, `${what}: ${JSON.stringify(r)}`)
  assert.equal(r.statusCode, 200, what)
  assert.equal(r.statusReason, 'OK', what)
  assert.equal(r.apiVersion, 2, what)
  assert.match(r.callId, /^[0-9a-f]{32}$/, what)
  assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 60_000, `${what}: time ${r.time}`)
}

async function timed(limitSecs, what, call) {
  const t0 = process.hrtime.bigint()
  try {
    return await call()
  } finally {
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    assert.ok(secs < limitSecs, `${what} took ${secs.toFixed(3)} s (bound ${limitSecs} s)`)
  }
}

/** The server process's CPU seconds (user + system) from /proc/<pid>/stat. */
function serverCpuSecs() {
  const stat = fs.readFileSync(`/proc/${SERVER_PID}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

/** The bytes at `url` over the server's TLS, as a browser would load photoURL. */
function download(url) {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: CA }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks) }))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/** initRegistration → importProfilePhoto(publish) → getAccountInfo, by regToken then by UID. */
async function registerWithPhoto(gigya, what) {
  const reg = await timed(CALL_SECS, `${what} initRegistration`, () => gigya.accounts.initRegistration())
  assertEnvelope(reg, `${what} initRegistration`)
  assert.equal(typeof reg.regToken, 'string')
  assert.ok(reg.regToken.length > 20, reg.regToken)

  const imp = await timed(IMPORT_SECS, `${what} importProfilePhoto`, () =>
    gigya.accounts.importProfilePhoto({ regToken: reg.regToken, URL: PHOTO_URL, publish: true }),
  )
  assertEnvelope(imp, `${what} importProfilePhoto`)
  assert.ok(imp.photoURL.startsWith(`${SERVER}/photos/`), imp.photoURL)
  assert.ok(imp.thumbnailURL.startsWith(`${SERVER}/photos/`), imp.thumbnailURL)
  assert.notEqual(imp.photoURL, imp.thumbnailURL)

  const info = await timed(CALL_SECS, `${what} getAccountInfo`, () =>
    gigya.accounts.getAccountInfo({ regToken: reg.regToken }),
  )
  assertEnvelope(info, `${what} getAccountInfo`)
  assert.equal(info.profile.photoURL, imp.photoURL)
  assert.equal(info.profile.thumbnailURL, imp.thumbnailURL)
  assert.equal(typeof info.UID, 'string')

  // Server-side, by UID, as a backend reads the account it just registered.
  const byUid = await timed(CALL_SECS, `${what} getAccountInfo by UID`, () =>
    gigya.accounts.getAccountInfo({ UID: info.UID }),
  )
  assertEnvelope(byUid, `${what} getAccountInfo by UID`)
  assert.deepEqual(byUid.profile, info.profile)

  const photo = await download(imp.photoURL)
  assert.equal(photo.status, 200)
  assert.equal(photo.type, 'image/png') // the sample is a PNG, and PNG stays PNG
  assert.equal(photo.body.subarray(0, 4).toString('hex'), '89504e47')
  return info
}

test('apiKey + site secret: the secret travels in the body over HTTPS, nothing is signed', async () => {
  const { gigya, sent } = sdk({ secret: SECRET })
  await registerWithPhoto(gigya, 'secret')
  assert.equal(sent.length, 4)
  for (const s of sent) {
    assert.equal(s.host, GIGYA_HOST)
    assert.equal(s.params.apiKey, API_KEY)
    assert.equal(s.params.secret, SECRET)
    assert.equal(s.params.format, 'json')
    assert.equal(s.params.sig, undefined)
  }
})

test('userKey + its secret: signed for https://accounts.eu1.gigya.com with a millisecond timestamp', async () => {
  const { gigya, sent } = sdk({ userKey: USER_KEY, secret: USER_SECRET })
  await registerWithPhoto(gigya, 'signed')
  assert.equal(sent.length, 4)
  for (const s of sent) {
    assert.equal(s.host, GIGYA_HOST)
    assert.equal(s.params.userKey, USER_KEY)
    assert.equal(s.params.secret, undefined, 'the secret never travels when signing')
    assert.match(s.params.sig, /^[A-Za-z0-9+/]{27}=$/)
    // Date.now(): milliseconds, the case Gigya's REST (seconds) would refuse with 403002.
    assert.ok(s.params.timestamp > 1e12, `timestamp ${s.params.timestamp}`)
    assert.ok(Math.abs(s.params.timestamp - Date.now()) < 60_000)
  }
})

/** `call()` (an initRegistration) is refused with the SDK's own GigyaError carrying the
 * server's errorCode, fast and cheap. */
async function assertRefused(call, errorCode, what) {
  const cpu0 = serverCpuSecs()
  await timed(CALL_SECS, what, () =>
    assert.rejects(call, (err) => {
      // The SDK's GigyaError is compiled to ES5, where `instanceof` a subclass of Error is
      // false: it is recognised by what it carries.
      assert.ok(err instanceof Error, `${what}: ${err}`)
      assert.equal(err.errorCode, errorCode, `${what}: ${err.message}`)
      assert.ok(err.message.startsWith(`Gigya API accounts.initRegistration failed with error code ${errorCode}`))
      assert.equal(err.gigyaResponse.statusCode, Math.floor(errorCode / 1000), what)
      assert.match(err.gigyaResponse.callId, /^[0-9a-f]{32}$/)
      assert.equal(typeof err.gigyaResponse.errorDetails, 'string')
      return true
    }),
  )
  const cpu = serverCpuSecs() - cpu0
  assert.ok(cpu <= REFUSAL_CPU_SECS, `${what} cost the server ${cpu} s CPU (bound ${REFUSAL_CPU_SECS} s)`)
}

test('refusals come back as GigyaError with the server errorCode, at once and without retries', async () => {
  const wrong = Buffer.from('not the secret').toString('base64')
  const refuse = (credentials) => () => sdk(credentials).gigya.accounts.initRegistration()
  await assertRefused(refuse({ secret: wrong }), 403010, 'a wrong site secret')
  await assertRefused(
    refuse({ userKey: USER_KEY, secret: wrong }),
    403003,
    'a signature made with a wrong userKey secret',
  )
  await assertRefused(
    refuse({ userKey: 'no-such-user-key', secret: USER_SECRET }),
    403003, // no key to check the signature with: the same answer as a wrong one
    'an unknown userKey',
  )
})

test('a hook that sends the server its own Host breaks the userKey signature (403003)', async () => {
  // Why point-at.js keeps the SDK's host: the SDK signed https://accounts.eu1.gigya.com/…
  const hook = pointAt(SERVER, { ca: CA })
  const ownHost = new URL(SERVER).host
  const gigya = new Gigya(API_KEY, DATA_CENTER, (endpoint, _host, params, headers) =>
    hook(endpoint, ownHost, params, headers),
  )
  gigya.setCredentials({ userKey: USER_KEY, secret: USER_SECRET })
  await assertRefused(() => gigya.accounts.initRegistration(), 403003, 'the signed call under another Host')
})
