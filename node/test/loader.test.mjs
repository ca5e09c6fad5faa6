// When the addon cannot be had, `require('avatarium')` says why: the platform package is
// missing (and which one), or an addon was found and failed to load (and its error).
// A copy of the package's JavaScript in a scratch folder, where no addon resolves.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const PACKAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

function loadError(setup) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'avatarium-loader-'))
  try {
    for (const f of ['index.js', 'native.js', 'package.json']) fs.copyFileSync(path.join(PACKAGE, f), path.join(dir, f))
    setup(dir)
    const script = `try { require(${JSON.stringify(dir)}); console.log('{}') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('without an addon, the error names the platform package to install', () => {
  const e = loadError(() => {})
  assert.equal(e.code, 'AVATARIUM_NATIVE_MISSING', JSON.stringify(e))
  assert.match(e.message, /avatarium-linux-x64-gnu is missing/)
  assert.match(e.message, /--omit=optional/)
})

test('an addon that is there but does not load is reported with its own error', () => {
  const e = loadError((dir) => fs.writeFileSync(path.join(dir, 'avatarium.linux-x64-gnu.node'), 'not an ELF file'))
  assert.equal(e.code, 'AVATARIUM_NATIVE_LOAD_FAILED', JSON.stringify(e))
  assert.match(e.message, /did not load \(.*avatarium\.linux-x64-gnu\.node/)
  assert.doesNotMatch(e.message, /missing/)
})
