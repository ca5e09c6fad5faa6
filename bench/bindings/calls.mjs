// The Node side of the binding-overhead bench (bench/README.md §3, bench/bindings.sh).
//
//   node calls.mjs URL CALLS WARMUP [--policies]
//
// N sequential imports by URL through the public API, `await
// client.accounts.importProfilePhoto(...)`, on the addon built in node/. With --policies the
// call is `getPolicies({})` instead (no photo: the binding's fixed cost). Prints the same
// JSON line as avatarium-bench-calls: {"lang", "wall_us": [one per call], "cpu_s"}. A failed call
// rejects with ProfilePhotoError, so the process exits non-zero.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '../../node/index.mjs'

const [url, calls, warmup] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const flags = process.argv.slice(5)
if (flags.some((f) => f !== '--policies')) throw new Error('usage: node calls.mjs URL CALLS WARMUP [--policies]')
const policies = flags.includes('--policies')
const data = mkdtempSync(join(tmpdir(), 'avatarium-bench-node-'))
// The same configuration keys as the Rust and Python runs.
const client = new Client({ dataDir: data, allowLoopback: true, fetchAllowedPorts: [Number(new URL(url).port)] })
const call = policies
  ? () => client.accounts.getPolicies({})
  : (UID) => client.accounts.importProfilePhoto({ UID, url, publish: true })

async function loop(phase, n, wallUs) {
  for (let i = 0; i < n; i++) {
    const uid = `${phase}-${i}`
    const t = process.hrtime.bigint()
    const r = await call(uid)
    const dt = process.hrtime.bigint() - t
    if (r.errorCode !== 0 || (!policies && !r.photoURL)) {
      throw new Error(`call ${phase} ${i} failed: ${JSON.stringify(r)}`)
    }
    wallUs?.push(Number(dt) / 1e3)
  }
}

try {
  await loop('warmup', warmup)
  const wallUs = []
  const cpu0 = process.cpuUsage()
  await loop('run', calls, wallUs)
  const cpu = process.cpuUsage(cpu0) // user + system, microseconds, all threads
  console.log(JSON.stringify({ lang: 'node', wall_us: wallUs, cpu_s: (cpu.user + cpu.system) / 1e6 }))
} finally {
  rmSync(data, { recursive: true, force: true })
}
