// Runs conformance/cases.json through `client.call`, exactly as core/tests/conformance.rs
// does (format in conformance/README.md).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'

import { Client } from '../index.js'
import { FILES, REPO, startServer, tmpDir } from '../test-support/helpers.mjs'

const doc = JSON.parse(fs.readFileSync(path.join(REPO, 'conformance/cases.json'), 'utf8'))
let server

before(async () => {
  server = await startServer()
})
after(() => server.close())

/** The value at a dotted path: object keys only, as the Rust runner's `Value::get`. */
function lookup(v, dotted) {
  let cur = v
  for (const key of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, key)) return undefined
    cur = cur[key]
  }
  return cur
}

function substitute(v, vars) {
  if (typeof v === 'string') {
    const file = /^\$\{b64:(.*)\}$/.exec(v)
    if (file) return fs.readFileSync(path.join(FILES, file[1])).toString('base64')
    let out = v
    for (const [k, val] of Object.entries(vars)) out = out.replaceAll(`\${${k}}`, val)
    return out
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars))
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)]))
  return v
}

function checkEnvelope(r, ctx) {
  assert.match(r.callId ?? '', /^[0-9a-fA-F]{32}$/, `${ctx}: callId`)
  const time = r.time ?? ''
  assert.ok(time.length === 24 && time.endsWith('Z') && time[19] === '.', `${ctx}: time ${time}`)
  assert.equal(r.apiVersion, 2, ctx)
  if (r.errorCode !== 0) {
    assert.ok(typeof r.errorMessage === 'string' && typeof r.errorDetails === 'string', `${ctx}: ${JSON.stringify(r)}`)
  }
}

test('there are enough cases', () => {
  assert.ok(doc.cases.length >= 10)
})

doc.cases.forEach((kase, i) => {
  test(`conformance: ${kase.name}`, async () => {
    const client = new Client({
      dataDir: tmpDir(),
      allowLoopback: true,
      fetchAllowedPorts: [server.port],
      maxPhotoBytes: 100000,
    })
    const vars = { base_url: `http://127.0.0.1:${server.port}`, uid: `conformance-${i}` }
    for (const [j, step] of kase.steps.entries()) {
      const ctx = `case ${JSON.stringify(kase.name)} step ${j}`
      const r = await client.call(step.method, substitute(step.params, vars))
      const shown = JSON.stringify(r)
      checkEnvelope(r, ctx)
      for (const [p, want] of Object.entries(step.expect ?? {})) {
        assert.deepEqual(lookup(r, p), substitute(want, vars), `${ctx}: ${p} in ${shown}`)
      }
      for (const p of step.present ?? []) assert.notEqual(lookup(r, p), undefined, `${ctx}: present ${p} in ${shown}`)
      for (const p of step.absent ?? []) assert.equal(lookup(r, p), undefined, `${ctx}: absent ${p} in ${shown}`)
      for (const [key, ends] of [['endsWith', true], ['contains', false]]) {
        for (const [p, text] of Object.entries(step[key] ?? {})) {
          const got = lookup(r, p)
          assert.equal(typeof got, 'string', `${ctx}: ${p} missing in ${shown}`)
          assert.ok(ends ? got.endsWith(text) : got.includes(text), `${ctx}: ${p}=${JSON.stringify(got)} should ${key} ${JSON.stringify(text)}`)
        }
      }
      for (const [name, p] of Object.entries(step.save ?? {})) {
        const v = lookup(r, p)
        assert.notEqual(v, undefined, `${ctx}: save ${p} in ${shown}`)
        vars[name] = typeof v === 'string' ? v : JSON.stringify(v)
      }
    }
  })
})
