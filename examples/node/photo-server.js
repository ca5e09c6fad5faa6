'use strict'
// The "<MY_SERVER>" of the seed's sample: a tiny HTTP server on 127.0.0.1 that serves
// examples/photos/astronaut.png at any path, so the examples run without network access.
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')

const PHOTO = fs.readFileSync(path.join(__dirname, '../photos/astronaut.png'))

/** Resolves with `{ port, url, close() }` once listening on a free loopback port. */
function servePhoto() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': PHOTO.length }).end(PHOTO)
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      resolve({ port, url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) })
    })
  })
}

module.exports = { servePhoto, PHOTO }
