'use strict'
// The npm `gigya` SDK's `httpRequest` hook, pointed at an avatarium server instead of
// https://<namespace>.<dataCenter>.gigya.com. docs/rest.md shows this file.
//
// The request keeps the SDK's host as its Host header: the SDK signs userKey requests for
// https://<that host>/<endpoint>, and avatarium checks a signature against the URL as it
// received it (scheme of the connection + Host). TLS still verifies the server's own name.
const https = require('node:https')
const net = require('node:net')

/** An `httpRequest(endpoint, host, params, headers)` for `new Gigya(apiKey, dataCenter, hook)`. */
function pointAt(server, { ca } = {}) {
  const base = new URL(server)
  if (base.protocol !== 'https:') throw new Error(`${server}: the SDK signs for https, so the server must speak it`)
  return (endpoint, host, params, headers = {}) =>
    new Promise((resolve, reject) => {
      const body = new URLSearchParams(params).toString()
      const req = https.request(
        {
          host: base.hostname,
          port: base.port || 443,
          path: `${base.pathname.replace(/\/$/, '')}/${endpoint}`,
          method: 'POST',
          ca,
          // Verify the certificate for the server's name, not for the Host header's (Node's
          // default); '' sends no SNI, which is what an IP address gets.
          servername: net.isIP(base.hostname) ? '' : base.hostname,
          headers: {
            ...headers,
            host,
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks = []
          res.on('data', (c) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            try {
              resolve(JSON.parse(text))
            } catch {
              reject(new Error(`${endpoint}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`))
            }
          })
        },
      )
      req.on('error', reject)
      req.end(body)
    })
}

module.exports = { pointAt }
