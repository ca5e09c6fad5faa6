// A short-lived program for the exit tests: serve a photo, make calls, then end.
// argv[2]: "natural" (let the event loop drain) or "exit-in-flight" (process.exit(0) while
// an import is still fetching from a server that never answers) or "callback-throws" (a
// callback that throws: the exception must surface once, the callback must not run again).
import { newClient, startServer } from './helpers.mjs'

const mode = process.argv[2]
const server = await startServer()
const { client } = newClient(server, { fetchTimeoutMs: 30000 })
const calls = []
for (let i = 0; i < 10; i++) {
  calls.push(client.accounts.importProfilePhoto({ UID: `x${i}`, url: `${server.base}/photo.jpg`, publish: true }))
  calls.push(new Promise((resolve) => client.accounts.getPolicies({ callback: resolve })))
}
const results = await Promise.all(calls)
if (results.some((r) => r.errorCode !== 0)) {
  console.error(JSON.stringify(results))
  process.exit(3)
}
if (mode === 'callback-throws') {
  let calls = 0
  let uncaught = 0
  process.on('uncaughtException', (err) => {
    if (err.message === 'boom') uncaught += 1
  })
  client.accounts.getAccountInfo({
    UID: 'nobody',
    callback: () => {
      calls += 1
      throw new Error('boom')
    },
  })
  setTimeout(async () => {
    await server.close()
    console.log(calls === 1 && uncaught === 1 ? 'done' : `calls=${calls} uncaught=${uncaught}`)
  }, 200)
} else if (mode === 'exit-in-flight') {
  client.accounts.importProfilePhoto({ UID: 'late', url: `${server.base}/hang` }).catch(() => {})
  setTimeout(() => {
    console.log('done')
    process.exit(0)
  }, 100)
} else {
  await server.close()
  console.log('done')
}
