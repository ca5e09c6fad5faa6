// A process that uses the addon exits cleanly: status 0, promptly, nothing on stderr. The
// third mode checks that a callback's own exception surfaces once as an uncaught exception.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

const CHILD = fileURLToPath(new URL('../test-support/child.mjs', import.meta.url))

function run(mode) {
  const started = Date.now()
  const r = spawnSync(process.execPath, [CHILD, mode], { encoding: 'utf8', timeout: 20000 })
  return { ...r, ms: Date.now() - started }
}

for (const mode of ['natural', 'exit-in-flight', 'callback-throws']) {
  test(`a child doing calls exits 0 promptly (${mode}), 5 times`, (t) => {
    for (let i = 0; i < 5; i++) {
      const r = run(mode)
      assert.equal(r.error, undefined, `run ${i}: ${r.error}`)
      assert.equal(r.signal, null, `run ${i}: killed by ${r.signal}; stderr: ${r.stderr}`)
      assert.equal(r.status, 0, `run ${i}: status ${r.status}; stderr: ${r.stderr}`)
      assert.equal(r.stdout.trim(), 'done')
      assert.equal(r.stderr, '')
      assert.ok(r.ms < 10000, `run ${i} took ${r.ms} ms`)
      if (i === 0) t.diagnostic(`first run: ${r.ms} ms`)
    }
  })
}
