'use strict'
// The seed's code sample (accounts.importProfilePhoto JS), nearly verbatim: import a photo
// by URL with `publish: false` and a callback that shows the result; then publish it.
//
// Only the client construction is new: in the browser `gigya` is the Web SDK; here it is a
// self-hosted engine. And the call names the user (`UID`), which the Web SDK knows from the
// session. Loopback is refused by default, so the example allows exactly its photo server.
//
// Run: node examples/node/import-photo.js   (after building the addon: see node/README.md)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Client } = require('avatarium')
const { servePhoto } = require('./photo-server')

async function main() {
  const MY_SERVER = await servePhoto()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'avatarium-example-'))
  const gigya = new Client({
    dataDir,
    allowAddresses: ['127.0.0.1'],
    fetchAllowedPorts: [MY_SERVER.port],
  })

  function showPhotoInfo(response) {
    if (response.errorCode == 0) {
      console.log('Photo imported: ' + JSON.stringify(response))
      publishPhoto()
    } else {
      console.log('Error :' + response.errorMessage + ' (' + response.errorCode + '): ' + response.errorDetails)
      done(1)
    }
  }

  function doImportPhoto() {
    var photoParams = {
      UID: 'example-user',
      URL: MY_SERVER.url + '/path/to/photo.png',
      callback: showPhotoInfo,
      publish: false
    };
    gigya.accounts.importProfilePhoto(photoParams);
  }

  // Later: publish the temporary photo into the profile (its thumbnail is trimmed to the
  // site policy, 64 x 64 by default).
  function publishPhoto() {
    gigya.accounts.publishProfilePhoto({
      UID: 'example-user',
      callback: function (response) {
        if (response.errorCode == 0) {
          console.log('Published: photoURL = ' + response.photoURL)
          console.log('           thumbnailURL = ' + response.thumbnailURL)
          done(0)
        } else {
          console.log('Error :' + response.errorMessage)
          done(1)
        }
      }
    });
  }

  function done(code) {
    process.exitCode = code
    MY_SERVER.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }

  doImportPhoto()
}

main()
