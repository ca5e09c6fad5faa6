// Public typings of `avatarium` (hand-written; the native layer's are in native.d.ts).

/**
 * Operator configuration: the keys of SPEC.md in camelCase. Every key is optional and
 * takes the default of SPEC.md; an unknown key or a bad value throws `INVALID_PARAMETER`.
 */
export interface ClientOptions {
  /** Home of the embedded default (SQLite file, blob folder, generated secret). Default `./avatarium-data`. */
  dataDir?: string
  /** `sqlite://…` or `postgres://…`; default: a SQLite file in `dataDir`. */
  databaseUrl?: string
  /** A folder, `file://…` or `s3://bucket?endpoint=…&region=…`; default: `blobs/` in `dataDir`. */
  blobStore?: string
  /** Prefix of `photoURL` / `thumbnailURL`; default: the `file://` URL of the blob folder. */
  publicBaseUrl?: string
  /** regToken keys (each at least 16 bytes): the first signs, all verify. */
  secrets?: string[]
  /** Default 6291456 (6 MiB); over it → 413004. */
  maxPhotoBytes?: number
  /** Default 50000000. */
  maxPixels?: number
  /** Default 16384. */
  maxSide?: number
  maxAspectRatio?: number
  /** Long side of the stored photo; default 1024. */
  photoMaxSide?: number
  /** 1..=100; default 85. */
  jpegQuality?: number
  /** Default 86400. */
  pendingTtlSecs?: number
  /** Default 3600. */
  regTokenTtlSecs?: number
  /** Default 5000. */
  fetchConnectTimeoutMs?: number
  /** Default 10000; past it → 504002. */
  fetchTimeoutMs?: number
  /** Default 5. */
  fetchMaxRedirects?: number
  /** Default [80, 443]. */
  fetchAllowedPorts?: number[]
  fetchMaxUrlLen?: number
  /** Let the fetcher reach 127.0.0.0/8 and ::1 (tests). Default false. */
  allowLoopback?: boolean
  /** Let the fetcher reach private ranges. Default false. */
  allowPrivate?: boolean
  /** Exactly these addresses are allowed although the deny table covers them. */
  allowAddresses?: string[]
  decodeTimeoutMs?: number
  /** Imports processed at once; default 2 × CPU cores. */
  maxConcurrentImports?: number
  /** Imports that may wait for a slot; beyond it calls fail with 503001. */
  maxQueuedImports?: number
  /** URL fetches in flight at once (their own slots, never a decode slot); default 32. */
  maxConcurrentFetches?: number
  /** Fetches that may wait for a slot; beyond it calls fail with 503001. Default 128. */
  maxQueuedFetches?: number
  /** The site regTokens are signed for; other sites refuse them. Default: one fixed scope. */
  siteId?: string
  purgeGraceSecs?: number
}

/** The response envelope every call returns (SPEC.md), plus the method's own fields. */
export interface Response {
  /** 32 hex characters. */
  callId: string
  /** 0 on success. */
  errorCode: number
  statusCode: number
  statusReason: string
  /** ISO 8601 with milliseconds, e.g. `2026-11-27T10:42:25.943Z`. */
  time: string
  apiVersion: number
  /** Present when `errorCode` is not 0. */
  errorMessage?: string
  /** Present when `errorCode` is not 0: names the parameter or the cause. */
  errorDetails?: string
  /** Echoed when passed. */
  context?: unknown
  [field: string]: unknown
}

export interface PhotoURLs {
  photoURL: string
  thumbnailURL: string
}

/** One file of a published photo (`profile.renditions`, an extension of Gigya's API). */
export interface Rendition {
  kind: 'photo' | 'thumbnail'
  /** `'jpeg'` or `'png'`. */
  format: string
  width: number
  height: number
  /** 1 for the photo and the `thumbnailURL` thumbnail; 2–4 for high-density screens. */
  scale: number
  url: string
}

/** Absent for a photo published before renditions existed. */
export interface Renditions {
  renditions?: Rendition[]
}

/** `importProfilePhoto` / `setProfilePhoto`: the URLs only when published at once. */
export interface ImportResponse extends Response, Partial<PhotoURLs> {
  UID: string
  /** When published at once: every file of the photo. */
  profile?: Renditions
}

export interface PublishResponse extends Response, PhotoURLs {
  /** Present when the call named a UID. */
  UID?: string
  profile?: Renditions
}

export interface RemoveResponse extends Response {
  UID: string
}

export interface AccountInfoResponse extends Response {
  UID: string
  isRegistered: boolean
  /** Empty when nothing is published. */
  profile: Partial<PhotoURLs> & Renditions
}

export interface InitRegistrationResponse extends Response {
  regToken: string
}

export interface ProfilePhotoPolicy {
  thumbnailWidth: number
  thumbnailHeight: number
  /** Where the thumbnail's window sits; default `'center'`. */
  thumbnailCrop: 'center' | 'attention'
  /** Thumbnail scales published photos get: 1 always, any of 2–4; default `[1]`. */
  thumbnailScales: number[]
}

export interface PoliciesResponse extends Response {
  profilePhoto: ProfilePhotoPolicy
}

export interface PurgeResponse extends Response {
  expiredPending: number
  blobsDeleted: number
  abandonedRegistrations: number
}

export interface LoginResponse extends Response {
  UID: string
  /** Set this cookie on the site's own pages (script-readable); the Web SDK sends its value. */
  sessionInfo: { cookieName: string; cookieValue: string }
}

export interface LogoutResponse extends Response {
  UID: string
}

export interface NotifyLoginParams extends CommonParams {
  /** The site's own id of the user who logged in (the account's UID). */
  siteUID: string
}

/** Who a call is about: a trusted server-side `UID` or a `regToken` (exactly one). */
export interface Identity {
  UID?: string
  regToken?: string
}

/** Gigya-style common parameters. */
export interface CommonParams {
  /** Echoed back in the response. */
  context?: unknown
}

/** With `callback`, the method calls it once with the envelope and returns undefined. */
export interface WithCallback<R extends Response> {
  callback: (response: R) => void
}

export interface ImportProfilePhotoParams extends Identity, CommonParams {
  /** The photo's URL (the seed's spelling). */
  URL?: string
  /** The photo's URL. */
  url?: string
  /** `true` or `"true"` publishes at once. Default false. */
  publish?: boolean | 'true' | 'false'
}

export interface SetProfilePhotoParams extends Identity, CommonParams {
  /** The file: bytes (handed to the engine raw), or base64 text (Gigya's wire form). */
  photoBytes: string | Uint8Array | ArrayBuffer
  publish?: boolean | 'true' | 'false'
}

export interface IdentityParams extends Identity, CommonParams {}

export interface FinalizeRegistrationParams extends CommonParams {
  regToken: string
}

export interface SetPoliciesParams extends CommonParams {
  /** An object, or the same as JSON text (as REST callers send it). */
  profilePhoto: Partial<ProfilePhotoPolicy> | string
}

/** Options of the Promise form. */
export interface CallOptions {
  /** Aborting cancels the call in the engine and rejects with `signal.reason` (an `AbortError`). */
  signal?: AbortSignal
}

/** `client.accounts`: one method per Gigya method. */
export interface Accounts {
  importProfilePhoto(params: ImportProfilePhotoParams & WithCallback<ImportResponse>): void
  importProfilePhoto(params: ImportProfilePhotoParams, options?: CallOptions): Promise<ImportResponse>

  setProfilePhoto(params: SetProfilePhotoParams & WithCallback<ImportResponse>): void
  setProfilePhoto(params: SetProfilePhotoParams, options?: CallOptions): Promise<ImportResponse>

  /** Gigya's other name for `setProfilePhoto`. */
  uploadProfilePhoto(params: SetProfilePhotoParams & WithCallback<ImportResponse>): void
  uploadProfilePhoto(params: SetProfilePhotoParams, options?: CallOptions): Promise<ImportResponse>

  publishProfilePhoto(params: IdentityParams & WithCallback<PublishResponse>): void
  publishProfilePhoto(params: IdentityParams, options?: CallOptions): Promise<PublishResponse>

  removeProfilePhoto(params: IdentityParams & WithCallback<RemoveResponse>): void
  removeProfilePhoto(params: IdentityParams, options?: CallOptions): Promise<RemoveResponse>

  getAccountInfo(params: IdentityParams & WithCallback<AccountInfoResponse>): void
  getAccountInfo(params: IdentityParams, options?: CallOptions): Promise<AccountInfoResponse>

  initRegistration(params: CommonParams & WithCallback<InitRegistrationResponse>): void
  initRegistration(params?: CommonParams, options?: CallOptions): Promise<InitRegistrationResponse>

  finalizeRegistration(params: FinalizeRegistrationParams & WithCallback<AccountInfoResponse>): void
  finalizeRegistration(params: FinalizeRegistrationParams, options?: CallOptions): Promise<AccountInfoResponse>

  getPolicies(params: CommonParams & WithCallback<PoliciesResponse>): void
  getPolicies(params?: CommonParams, options?: CallOptions): Promise<PoliciesResponse>

  setPolicies(params: SetPoliciesParams & WithCallback<PoliciesResponse>): void
  setPolicies(params: SetPoliciesParams, options?: CallOptions): Promise<PoliciesResponse>

  /** A browser session for `siteUID` (see docs/rest.md, Browser). */
  notifyLogin(params: NotifyLoginParams & WithCallback<LoginResponse>): void
  notifyLogin(params: NotifyLoginParams, options?: CallOptions): Promise<LoginResponse>

  /** Ends the user's sessions (by `UID`: every one issued until now). */
  logout(params: IdentityParams & WithCallback<LogoutResponse>): void
  logout(params: IdentityParams, options?: CallOptions): Promise<LogoutResponse>
}

/**
 * A row of `importBatch`: a `[UID, URL]` pair, or an object as Gigya's account exports
 * have them (`{UID, profile: {photoURL}}`) or with `UID` and `URL` keys. Anything else
 * fails alone with 400006.
 */
export type BatchRowInput =
  | readonly [uid: string, url: string]
  | { UID?: string; URL?: string; url?: string; profile?: { photoURL?: string; [field: string]: unknown }; [field: string]: unknown }

/** A batch's counts so far. */
export interface BatchProgress {
  /** Rows answered (this run's and resumed ones). */
  done: number
  /** Rows with errorCode 0. */
  ok: number
  /** Rows with another errorCode. */
  failed: number
  /** Rows answered from an earlier run's record (also counted in ok or failed). */
  resumed: number
}

/** One row's result. */
export interface RowResult {
  /** The row's position in the input (0 = the first). */
  row: number
  uid: string
  /** `errorCode === 0`. */
  ok: boolean
  /** 0: imported (and published unless `publish: false`). */
  errorCode: number
  /** `errorDetails` of a failure. */
  details: string | null
  /** Imports made for the row in this run (0: resumed, or refused before any). */
  attempts: number
  /** Answered from an earlier run's record, not run again. */
  resumed: boolean
  /** This run's response envelope; null when resumed. */
  response: ImportResponse | null
}

export interface ImportBatchOptions {
  /**
   * Progress is recorded under it, and a later batch with the same key skips the rows
   * recorded as done (failed ones too, unless `retryFailed`). Give one to make a run
   * resumable; the same position must hold the same row. Default: a one-off key.
   */
  inputKey?: string
  /** Rows at once; default `maxConcurrentImports`. */
  concurrency?: number
  /** Rows at once per origin host. Default 4. */
  perHost?: number
  /** Default true; false leaves the photos pending. */
  publish?: boolean
  /** Run again the rows an earlier run of this key recorded as failed. */
  retryFailed?: boolean
  /** `[I, N]` or `"I/N"` (1-based): the rows whose position modulo N is I-1. */
  shard?: readonly [index: number, count: number] | string
  /** Attempts per row for timeouts, origin 5xx and 503001. Default 4. */
  maxAttempts?: number
  /** Called with the counts at most every `progressEvery` ms, and once at the end; a throw stops the batch. */
  onProgress?: (progress: BatchProgress) => void
  /** Default 1000. */
  progressEvery?: number
}

export declare class Client {
  /**
   * Open a client (the stores open before it returns). Throws `ProfilePhotoError`:
   * `INVALID_PARAMETER` for a bad option, `INTERNAL` when the stores cannot be opened.
   */
  constructor(options?: ClientOptions)
  /** Like `new Client(options)`, with the stores opened off the JS thread. */
  static open(options?: ClientOptions): Promise<Client>
  readonly accounts: Accounts
  /** The generic call: resolves with the envelope, error or not; rejects only when aborted. */
  call(method: string, params?: Record<string, unknown>, options?: CallOptions): Promise<Response>
  /** Delete expired pending photos and unreferenced blobs. */
  purge(options?: CallOptions): Promise<PurgeResponse>
  /**
   * Close: calls in flight and later calls end with 503001. Resolves when the engine's work
   * has stopped (rejects with `TIMEOUT` if some outlived its bounded wait). Idempotent.
   */
  close(): Promise<void>
  /** `await using client = ...` closes the client at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>
  /**
   * Import every row's photo (as `avatarium import-batch` does): one result per row, in the
   * order rows finish. Rows are pulled only as the batch has room for them. Leaving the
   * loop early stops the batch. Throws `ProfilePhotoError` at once for a bad `shard`.
   */
  importBatch(
    rows: Iterable<BatchRowInput> | AsyncIterable<BatchRowInput>,
    options?: ImportBatchOptions,
  ): AsyncGenerator<RowResult, void, undefined>
}

/** One method of the engine's table. */
export interface MethodInfo {
  /** Full Gigya name, e.g. `accounts.importProfilePhoto`. */
  name: string
  /** e.g. `importProfilePhoto`: the name of its `client.accounts` function. */
  shortName: string
  /** Other names, each also a `client.accounts` function (`uploadProfilePhoto`). */
  aliases: readonly string[]
}

/** Every method of the engine (its `client.accounts` functions are made from this table). */
export declare const methods: readonly MethodInfo[]

/** The stable codes of `err.code` (the core's `ErrorKind::code()`). */
export type ErrorCodeName =
  | 'MISSING_PARAMETER'
  | 'INVALID_PARAMETER'
  | 'UNAUTHORIZED'
  | 'INVALID_URL'
  | 'MISSING_PHOTO'
  | 'PHOTO_TOO_LARGE'
  | 'INTERNAL'
  | 'TIMEOUT'
  | 'BUSY'

export interface ErrorKindInfo {
  code: ErrorCodeName
  errorCode: number
  statusCode: number
  message: string
}

/** A failed call (Promise form), or a client that could not be opened. */
export declare class ProfilePhotoError extends Error {
  name: 'ProfilePhotoError'
  /** Stable SCREAMING_SNAKE code, e.g. `'INVALID_URL'`. */
  code: ErrorCodeName
  /** Gigya `errorCode`, e.g. 404004. */
  errorCode: number
  /** HTTP status, e.g. 404. */
  statusCode: number
  /** The call's `callId` (absent when no call was made, e.g. opening the client). */
  callId?: string
  /** `errorDetails`: names the parameter or the cause. */
  details: string
  /** The full envelope, when the error came from a call. */
  response?: Response
  /** Every code with its errorCode, statusCode and message. */
  static readonly kinds: readonly ErrorKindInfo[]
  static fromResponse(response: Response): ProfilePhotoError
}

/** The version of the engine. */
export declare const version: string
