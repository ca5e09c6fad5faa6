// Typed use of avatarium: checked by `tsc --noEmit` (scripts/test-node.sh), not run.
import {
  Client,
  methods,
  ProfilePhotoError,
  type AccountInfoResponse,
  type ClientOptions,
  type ImportResponse,
  type Response,
} from 'avatarium'

const options: ClientOptions = {
  dataDir: '/var/lib/avatarium',
  publicBaseUrl: 'https://photos.example.com/',
  fetchTimeoutMs: 5000,
  maxConcurrentImports: 8,
}

/** Import and publish; `undefined` when the URL cannot be fetched. */
export async function importAndPublish(client: Client, uid: string, url: string): Promise<string | undefined> {
  try {
    const r: ImportResponse = await client.accounts.importProfilePhoto(
      { UID: uid, URL: url, publish: true },
      { signal: AbortSignal.timeout(15_000) },
    )
    return r.photoURL
  } catch (err) {
    if (err instanceof ProfilePhotoError && err.code === 'INVALID_URL') {
      console.warn(`${err.errorCode} ${err.statusCode} ${err.details} (call ${err.callId})`)
      return undefined
    }
    throw err
  }
}

export async function registration(client: Client, photo: Uint8Array): Promise<AccountInfoResponse> {
  const { regToken } = await client.accounts.initRegistration()
  await client.accounts.setProfilePhoto({ regToken, photoBytes: photo })
  await client.accounts.publishProfilePhoto({ regToken })
  return client.accounts.finalizeRegistration({ regToken })
}

export function seedStyle(client: Client): void {
  // The callback form returns nothing and hands over the envelope, error or not.
  const nothing: void = client.accounts.importProfilePhoto({
    UID: 'u1',
    URL: 'https://example.com/photo.jpg',
    publish: false,
    callback: (response: ImportResponse) => {
      if (response.errorCode == 0) console.log(response.UID)
      else console.log(response.errorMessage, response.errorDetails)
    },
  })
  void nothing
}

export async function generic(client: Client): Promise<Response> {
  const policies = await client.accounts.getPolicies()
  const width: number = policies.profilePhoto.thumbnailWidth
  await client.accounts.setPolicies({ profilePhoto: { thumbnailWidth: width, thumbnailHeight: 48 } })
  await client.accounts.setPolicies({ profilePhoto: { thumbnailCrop: 'attention', thumbnailScales: [1, 2, 3] } })
  // @ts-expect-error the crop is "center" or "attention"
  void client.accounts.setPolicies({ profilePhoto: { thumbnailCrop: 'middle' } })
  const info = await client.accounts.getAccountInfo({ UID: 'u1' })
  // A srcset from the thumbnails (absent for photos published before renditions existed).
  const srcset = (info.profile.renditions ?? [])
    .filter((r) => r.kind === 'thumbnail')
    .map((r) => `${r.url} ${r.scale}x`)
    .join(', ')
  console.log(srcset)
  const purged = await client.purge()
  console.log(purged.expiredPending, purged.blobsDeleted)
  return client.call('accounts.getAccountInfo', { UID: 'u1' })
}

export async function open(): Promise<Client> {
  const client = await Client.open(options)
  // @ts-expect-error options are checked: dataDir is a string
  new Client({ dataDir: 42 })
  // @ts-expect-error unknown options are refused
  new Client({ dataDirectory: '/tmp' })
  // @ts-expect-error publish is a boolean or "true"/"false"
  void client.accounts.importProfilePhoto({ UID: 'u', URL: 'https://x/', publish: 1 })
  // @ts-expect-error photoBytes is required by setProfilePhoto
  void client.accounts.setProfilePhoto({ UID: 'u' })
  // @ts-expect-error a Promise-form response is not void
  const wrong: void = await client.accounts.getAccountInfo({ UID: 'u' })
  void wrong
  return client
}

/** Open, use and close: `close()` (or `Symbol.asyncDispose`, what `await using` calls). */
export async function oneShot(uid: string): Promise<string[]> {
  const client = await Client.open(options)
  try {
    await client.accounts.getAccountInfo({ UID: uid })
    return methods.map((m) => m.name)
  } finally {
    await client[Symbol.asyncDispose]()
    await client.close()
  }
}
