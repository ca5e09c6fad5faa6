'use strict'
// A plain `http` service in front of the engine:
//   PUT  /users/:uid/photo            body = the image bytes   → setProfilePhoto, published
//   POST /users/:uid/photo?url=URL                             → importProfilePhoto, published
//   GET  /users/:uid                                           → getAccountInfo
// Errors answer with the engine's HTTP status and its envelope (`err.statusCode`, `err.response`).
//
// The example starts the service on 127.0.0.1, calls it a few times with fetch() and stops.
// Run: node examples/node/http-handler.js
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { Client, ProfilePhotoError } = require('avatarium')
const { servePhoto, PHOTO } = require('./photo-server')

const MAX_BODY = 6 * 1024 * 1024

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }))
        req.destroy()
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function send(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
}

/** The request handler: routing and conversion only; the engine does the rest. */
function handler(client) {
  return async (req, res) => {
    const url = new URL(req.url, 'http://localhost')
    const m = /^\/users\/([^/]+)(\/photo)?$/.exec(url.pathname)
    if (!m) return send(res, 404, { error: 'not found' })
    const UID = decodeURIComponent(m[1])
    try {
      let response
      if (m[2] && req.method === 'PUT') {
        response = await client.accounts.setProfilePhoto({ UID, photoBytes: await readBody(req), publish: true })
      } else if (m[2] && req.method === 'POST') {
        response = await client.accounts.importProfilePhoto({ UID, url: url.searchParams.get('url'), publish: true })
      } else if (!m[2] && req.method === 'GET') {
        response = await client.accounts.getAccountInfo({ UID })
      } else {
        return send(res, 405, { error: 'method not allowed' })
      }
      send(res, 200, response)
    } catch (err) {
      if (err instanceof ProfilePhotoError) return send(res, err.statusCode, err.response ?? { error: err.message })
      send(res, err.status ?? 500, { error: err.status ? err.message : 'internal error' })
    }
  }
}

async function main() {
  const photos = await servePhoto()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'avatarium-http-'))
  const client = new Client({
    dataDir,
    allowAddresses: ['127.0.0.1'],
    fetchAllowedPorts: [photos.port],
  })
  const service = http.createServer(handler(client))
  await new Promise((resolve) => service.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${service.address().port}`

  const checks = [
    ['PUT', '/users/alice/photo', PHOTO, 200],
    ['POST', `/users/bob/photo?url=${encodeURIComponent(photos.url + '/bob.png')}`, undefined, 200],
    ['GET', '/users/alice', undefined, 200],
    ['POST', '/users/carol/photo?url=ftp%3A%2F%2Fexample.com%2Fx.png', undefined, 404],
    ['PUT', '/users/carol/photo', Buffer.from('not an image'), 409],
    ['GET', '/users/nobody', undefined, 403],
  ]
  let failed = 0
  for (const [method, route, body, want] of checks) {
    const res = await fetch(base + route, { method, body })
    const json = await res.json()
    const shown = json.errorCode === 0 ? json.photoURL ?? json.profile?.photoURL : `${json.errorCode} ${json.errorMessage}: ${json.errorDetails}`
    console.log(`${method} ${route.slice(0, 40)} -> ${res.status} ${shown}`)
    if (res.status !== want) {
      console.log(`  expected ${want}`)
      failed += 1
    }
  }
  service.close()
  await photos.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
  process.exitCode = failed ? 1 : 0
}

main()
