// The same import-then-publish as import-photo.js, as an ES module (`import`, top-level
// await): the package's ESM entry gives the same Client as `require('avatarium')`.
//
// Run: node examples/node/import-photo.mjs   (after installing the package: node/README.md)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Client, version } from 'avatarium'
import { servePhoto } from './photo-server.js'

const MY_SERVER = await servePhoto()
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'avatarium-example-'))
const gigya = new Client({ dataDir, allowAddresses: ['127.0.0.1'], fetchAllowedPorts: [MY_SERVER.port] })
try {
  const imported = await gigya.accounts.importProfilePhoto({ UID: 'esm-user', URL: MY_SERVER.url + '/me.png', publish: false })
  console.log(`avatarium ${version}: imported, errorCode ${imported.errorCode}`)
  // The Promise form rejects with a ProfilePhotoError on errorCode != 0.
  const published = await gigya.accounts.publishProfilePhoto({ UID: 'esm-user' })
  console.log(`published: thumbnailURL = ${published.thumbnailURL}`)
} finally {
  await gigya.close()
  await MY_SERVER.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
}
