// Test support (outside test/, so the runner does not take it for a test file): a loopback
// HTTP server written in Node, temporary data dirs, clients.
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'

import { Client } from '../index.js'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const FILES = path.join(REPO, 'conformance/files')
export const ASTRONAUT = path.join(REPO, 'examples/photos/astronaut.png')

/**
 * Serves every file of `conformance/files` at `/<name>` (200), `/astronaut.png`, the
 * `extra` bodies by path, `/hang` (accepts and never answers) and 404 for anything else. `hangClosed` counts /hang
 * connections the client closed.
 */
export async function startServer(extra = {}) {
  const files = new Map(Object.entries(extra))
  for (const name of fs.readdirSync(FILES)) files.set(`/${name}`, fs.readFileSync(path.join(FILES, name)))
  files.set('/astronaut.png', fs.readFileSync(ASTRONAUT))
  // hits: requests per path, query included (tests that count each row's fetches).
  const state = { hangOpened: 0, hangClosed: 0, requests: 0, hits: new Map() }
  const server = http.createServer((req, res) => {
    state.requests += 1
    state.hits.set(req.url, (state.hits.get(req.url) ?? 0) + 1)
    const url = new URL(req.url, 'http://x')
    if (url.pathname === '/hang') {
      state.hangOpened += 1
      req.socket.on('close', () => {
        state.hangClosed += 1
      })
      return // never answer
    }
    const body = files.get(url.pathname)
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(resolve)
      }),
  }
}

/** Requests so far whose path (query included) starts with `prefix`. */
export function fetches(server, prefix) {
  let n = 0
  for (const [path, count] of server.state.hits) if (path.startsWith(prefix)) n += count
  return n
}

export function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pp-node-'))
}

/** A client on a fresh data dir that may fetch from `server`. */
export function newClient(server, options = {}) {
  const dataDir = tmpDir()
  const client = new Client({ dataDir, allowLoopback: true, fetchAllowedPorts: [server.port], ...options })
  return { client, dataDir }
}

export function b64(file) {
  return fs.readFileSync(path.join(FILES, file)).toString('base64')
}

/** Call `fn(callback)` and resolve with the arguments of the callback's first call; fails
 * if it is called again within `settleMs`. */
export function viaCallback(fn, settleMs = 50) {
  return new Promise((resolve, reject) => {
    let calls = 0
    let first
    const returned = fn((...args) => {
      calls += 1
      if (calls === 1) {
        first = args
        setTimeout(() => (calls === 1 ? resolve({ args: first, returned }) : reject(new Error(`callback called ${calls} times`))), settleMs)
      }
    })
    if (returned !== undefined) reject(new Error('callback form must return undefined'))
  })
}

/** Resolves once `cond()` holds; rejects after `ms`. */
export async function waitFor(cond, ms = 5000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms: ${cond}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A w × h RGB PNG with some noise (so it does not compress to nothing). */
export function makePng(w, h) {
  const stride = w * 3 + 1
  const raw = Buffer.alloc(stride * h)
  let seed = 12345
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0
      const o = y * stride + 1 + x * 3
      raw[o] = (x + (seed & 15)) & 255
      raw[o + 1] = (y + ((seed >> 4) & 15)) & 255
      raw[o + 2] = ((x ^ y) + ((seed >> 8) & 15)) & 255
    }
  }
  const chunk = (type, data) => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(zlib.crc32(body))
    return Buffer.concat([head, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}
