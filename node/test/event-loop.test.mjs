// Network and image work run off the JS thread: the event loop stays responsive while 50
// imports run.
import assert from 'node:assert/strict'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { after, before, test } from 'node:test'

import { makePng, newClient, startServer } from '../test-support/helpers.mjs'

let server

before(async () => {
  server = await startServer({ '/large.png': makePng(1024, 1024) })
})
after(() => server.close())

test('50 concurrent imports do not block the event loop', async (t) => {
  const { client } = newClient(server, { maxQueuedImports: 100 })
  // What one large import costs when nothing else runs (fetch + decode + resize + encode).
  await client.accounts.importProfilePhoto({ UID: 'warm', url: `${server.base}/large.png` })
  let started = performance.now()
  await client.accounts.importProfilePhoto({ UID: 'warm', url: `${server.base}/large.png` })
  const single = performance.now() - started

  // Had that work run on the JS thread, the loop would stall for about `single` ms once per
  // large import and for tens of ms per astronaut; with few idle samples in between, p99
  // would be near `single` and the p99 bound would fail. Seen on a loaded 2-core machine:
  // single 200-350 ms, p99 6-12 ms. The max is noisier (GC, a busy machine: 19-112 ms
  // seen), so it only has to stay clear of a gross stall.
  const p99Bound = Math.min(50, single / 2)
  const maxBound = 1000

  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  started = performance.now()
  const imports = Array.from({ length: 50 }, (_, i) =>
    client.accounts.importProfilePhoto({
      UID: `u${i}`,
      url: `${server.base}/${i % 10 === 0 ? 'large.png' : 'astronaut.png'}`,
      publish: true,
    }),
  )
  const results = await Promise.all(imports)
  const elapsed = performance.now() - started
  histogram.disable()

  const ms = (ns) => Math.round(ns / 1e4) / 100
  const p99 = ms(histogram.percentile(99))
  const max = ms(histogram.max)
  t.diagnostic(
    `one large import ${Math.round(single)} ms; 50 imports in ${Math.round(elapsed)} ms; ` +
      `event-loop delay p50 ${ms(histogram.percentile(50))} ms, p99 ${p99} ms, max ${max} ms ` +
      `(bounds: p99 < ${Math.round(p99Bound)}, max < ${maxBound})`,
  )
  assert.equal(results.length, 50)
  for (const r of results) assert.equal(r.errorCode, 0)
  assert.ok(p99 < p99Bound, `event-loop delay p99 ${p99} ms`)
  assert.ok(max < maxBound, `event-loop delay max ${max} ms`)
})
