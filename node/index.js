'use strict'
// avatarium for Node: the Gigya-style API (`client.accounts.importProfilePhoto(...)`)
// over the native addon. This file only converts: options and params to JSON for the
// core, photo bytes handed to it raw, envelopes and native errors to `ProfilePhotoError`. Every
// parameter rule, error code and message comes from the Rust core.

const native = loadNative()

/**
 * The addon, or an error that says what to do. napi's loader (native.js) tries the addon
 * beside it (a build from source), then the platform package npm installs as an optional
 * dependency (`avatarium-linux-x64-gnu`); its own message blames an npm bug whatever failed.
 */
function loadNative() {
  try {
    return require('./native.js')
  } catch (err) {
    throw explainLoadFailure(err)
  }
}

/** Each attempt's message, from napi's cause chain (its links carry messages only). */
function loadAttempts(err) {
  const messages = []
  for (let e = err.cause; e && messages.length < 32; e = e.cause) messages.push(String(e.message))
  return messages
}

function explainLoadFailure(err) {
  const attempts = loadAttempts(err)
  if (attempts.length === 0) return err // not the loader's "no binding" error: as it is
  const report = process.report?.getReport?.()
  const libc = process.platform !== 'linux' ? '' : report && !report.header.glibcVersionRuntime ? '-musl' : '-gnu'
  const wanted = `avatarium-${process.platform}-${process.arch}${libc}`
  const shipped = 'avatarium-linux-x64-gnu'
  const failure = attempts.find((m) => !m.startsWith('Cannot find module'))
  let error
  if (failure !== undefined) {
    // Something was found and failed to load: a glibc older than 2.28, a broken file.
    error = new Error(
      `avatarium: the native addon did not load (${failure})` +
        (wanted === shipped ? `; the prebuilt ${shipped} needs glibc >= 2.28` : ''),
    )
    error.code = 'AVATARIUM_NATIVE_LOAD_FAILED'
  } else {
    const hint =
      wanted === shipped
        ? 'install it (npm installs it with avatarium unless optional dependencies are omitted: ' +
          'no --omit=optional / --no-optional), or build the addon from source (node/README.md)'
        : `prebuilt addons exist for ${shipped} (glibc >= 2.28) only; build from source on ` +
          `${process.platform}-${process.arch} (node/README.md)`
    error = new Error(`avatarium: the native addon package ${wanted} is missing: ${hint}`)
    error.code = 'AVATARIUM_NATIVE_MISSING'
  }
  error.cause = err
  return error
}

/** The core's error table (`ErrorKind::ALL`): code, errorCode, statusCode, message. */
const KINDS = Object.freeze(native.errorKinds().map((k) => Object.freeze({ ...k })))
const BY_CODE = new Map(KINDS.map((k) => [k.code, k]))
const BY_ERROR_CODE = new Map(KINDS.map((k) => [k.errorCode, k]))

/** Native rejection reasons look like `[CODE] details` (STYLE.md §5). */
const REASON = /^\[([A-Z_]+)\] ([\s\S]*)$/

class ProfilePhotoError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, errorCode?: number, statusCode?: number, callId?: string,
   *          details?: string, response?: object, cause?: unknown}} fields
   */
  constructor(message, fields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause })
    this.name = 'ProfilePhotoError'
    this.code = fields.code
    this.errorCode = fields.errorCode
    this.statusCode = fields.statusCode
    this.callId = fields.callId
    this.details = fields.details
    this.response = fields.response
  }

  /** The error an error envelope stands for. */
  static fromResponse(response) {
    const kind = BY_ERROR_CODE.get(response.errorCode)
    return new ProfilePhotoError(
      `${response.errorMessage} (${response.errorCode}): ${response.errorDetails}`,
      {
        code: kind ? kind.code : 'UNKNOWN',
        errorCode: response.errorCode,
        statusCode: response.statusCode,
        callId: response.callId,
        details: response.errorDetails,
        response,
      },
    )
  }
}

/** Every code `err.code` can take, with its errorCode, statusCode and message. */
ProfilePhotoError.kinds = KINDS

function fromKind(kind, details, cause) {
  return new ProfilePhotoError(`${kind.message} (${kind.errorCode}): ${details}`, {
    code: kind.code,
    errorCode: kind.errorCode,
    statusCode: kind.statusCode,
    details,
    cause,
  })
}

/** A native error (sync: `err.code` is the core code; async: `[CODE] details`) lifted. */
function lift(err) {
  if (!(err instanceof Error)) return err
  if (typeof err.code === 'string' && BY_CODE.has(err.code)) {
    return fromKind(BY_CODE.get(err.code), err.message, err)
  }
  const m = REASON.exec(err.message)
  if (m && BY_CODE.has(m[1])) return fromKind(BY_CODE.get(m[1]), m[2], err)
  return err
}

/** JSON for the core. Text that is not JSON (a cycle, a BigInt) reaches the core as a
 * non-object, which it answers with 400006. */
function toJson(value) {
  try {
    return JSON.stringify(value === undefined ? {} : value) ?? ''
  } catch {
    return ''
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * `photoBytes` may be a Buffer, any Uint8Array or an ArrayBuffer: split off and handed to
 * the core raw, as a Buffer view of the same memory (base64 text stays in the params).
 * @returns {[unknown, Buffer | undefined]}
 */
function splitPhoto(params) {
  if (!isPlainObject(params)) return [params, undefined]
  const { photoBytes, ...rest } = params
  if (photoBytes instanceof Uint8Array) {
    return [rest, Buffer.from(photoBytes.buffer, photoBytes.byteOffset, photoBytes.byteLength)]
  }
  if (photoBytes instanceof ArrayBuffer) return [rest, Buffer.from(photoBytes)]
  return [params, undefined]
}

/** Await a started native call; with a signal, aborting cancels the call in the core. */
async function settle(pending, signal) {
  if (!signal) {
    try {
      return JSON.parse(await pending.result())
    } catch (err) {
      throw lift(err)
    }
  }
  const onAbort = () => pending.cancel()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const text = await pending.result()
    if (signal.aborted) throw signal.reason
    return JSON.parse(text)
  } catch (err) {
    if (signal.aborted) throw signal.reason
    throw lift(err)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** What a callback receives when no envelope exists (a panic in the core: never seen). */
function envelopeOf(err) {
  if (err instanceof ProfilePhotoError) {
    return err.response ?? {
      errorCode: err.errorCode,
      statusCode: err.statusCode,
      errorMessage: BY_ERROR_CODE.get(err.errorCode)?.message,
      errorDetails: err.details,
    }
  }
  const kind = BY_CODE.get('INTERNAL')
  return { errorCode: kind.errorCode, statusCode: kind.statusCode, errorMessage: kind.message, errorDetails: String(err) }
}

const OPENED = Symbol('avatarium.opened')

function withOpenSignal(options) {
  if (options?.signal?.aborted) throw options.signal.reason
  return options?.signal
}

class Client {
  #native

  /**
   * Open a client: the options are SPEC.md's configuration keys in camelCase
   * (`dataDir`, `allowLoopback`, `fetchAllowedPorts`, `maxPhotoBytes`, ...). The stores are
   * opened before it returns (milliseconds for the embedded default); use `Client.open`
   * to open without blocking. Throws `ProfilePhotoError` (`INVALID_PARAMETER` for a bad
   * option, `INTERNAL` when the stores cannot be opened).
   */
  constructor(options = {}) {
    if (options && options[OPENED]) {
      this.#native = options[OPENED]
    } else {
      try {
        this.#native = native.NativeClient.openSync(toJson(options))
      } catch (err) {
        throw lift(err)
      }
    }
    /** The `accounts.*` methods, Gigya style. */
    this.accounts = new Accounts(this)
  }

  /** Like `new Client(options)`, but the stores open off the JS thread. */
  static async open(options = {}) {
    let opened
    try {
      opened = await native.NativeClient.open(toJson(options))
    } catch (err) {
      throw lift(err)
    }
    return new Client({ [OPENED]: opened })
  }

  /**
   * The generic call: a method name (`accounts.importProfilePhoto`, ...) and its params;
   * resolves with the response envelope, error or not. Rejects only when aborted.
   */
  call(method, params = {}, options = undefined) {
    try {
      const signal = withOpenSignal(options)
      const [rest, photo] = splitPhoto(params)
      const pending = this.#native.start(String(method), toJson(rest), photo)
      return settle(pending, signal)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Delete expired pending photos, abandoned registrations and unreferenced blobs;
   * resolves with the envelope (`expiredPending`, `blobsDeleted`,
   * `abandonedRegistrations`), rejects with `ProfilePhotoError`. */
  async purge(options = undefined) {
    const signal = withOpenSignal(options)
    const response = await settle(this.#native.startPurge(), signal)
    if (response.errorCode !== 0) throw ProfilePhotoError.fromResponse(response)
    return response
  }

  /**
   * Close the client: calls in flight end with 503001 ("The client is closed"), and so do
   * later calls. Resolves when the engine's work has stopped; rejects with
   * `ProfilePhotoError` (`TIMEOUT`) if some was still running after its bounded wait.
   * Closing twice is harmless.
   */
  async close() {
    try {
      await this.#native.close()
    } catch (err) {
      throw lift(err)
    }
  }

  /**
   * Import every row's photo, as `avatarium import-batch` does: an async generator of one
   * result per row, in the order rows finish. `rows` is an iterable or async iterable of
   * `[UID, URL]` pairs or objects as Gigya's account exports have them (`{UID, profile:
   * {photoURL}}`, or `UID`/`URL` keys), pulled only as the batch has room for them.
   * Leaving the loop early (`break`, a throw, `onProgress` throwing) stops the batch: no
   * further row starts, the rows in flight are dropped (they run again on a resumed run).
   * Throws `ProfilePhotoError` (`INVALID_PARAMETER`) at once for a bad `shard`.
   */
  importBatch(rows, options = {}) {
    const { onProgress, progressEvery = 1000, shard, ...settings } = options ?? {}
    if (onProgress != null && typeof onProgress !== 'function') {
      throw new TypeError(`onProgress must be a function, not ${typeof onProgress}`)
    }
    let batch
    try {
      batch = this.#native.startBatch({
        ...settings,
        shard: Array.isArray(shard) ? `${shard[0]}/${shard[1]}` : shard,
      })
    } catch (err) {
      throw lift(err)
    }
    return batchResults(batch, rows, onProgress, progressEvery)
  }

  /** `await using client = await Client.open(...)` closes it at the end of the block. */
  [Symbol.asyncDispose]() {
    return this.close()
  }
}

/**
 * The loop of `importBatch`: offer rows while the batch has room, wait for a result or
 * for room, yield. Everything else (row parsing, limits, retries, resumption, counts) is
 * the core's.
 */
async function* batchResults(batch, rows, onProgress, progressEvery) {
  let input = rows?.[Symbol.asyncIterator]?.() ?? rows?.[Symbol.iterator]?.()
  if (!input) {
    await batch.close()
    throw new TypeError('rows must be an iterable or an async iterable')
  }
  let full = false
  let finished = false
  let last = Date.now()
  let reported
  const report = () => {
    reported = batch.progress()
    last = Date.now()
    onProgress(reported)
  }
  try {
    for (;;) {
      // One row per wait(): it hands over finished rows before room, so results come out
      // as rows finish, even from a slow input.
      if (input && !full) {
        const step = await input.next()
        if (step.done) {
          input = undefined
          batch.endInput()
        } else {
          full = !batch.offer(toJson(step.value))
        }
      }
      let got
      try {
        got = await batch.wait()
      } catch (err) {
        throw lift(err)
      }
      if (got.room) {
        full = false
      } else if (got.end) {
        break
      } else {
        if (onProgress && Date.now() - last >= progressEvery) report()
        yield JSON.parse(got.result)
      }
    }
    finished = true
    if (onProgress && reported?.done !== batch.progress().done) report()
  } finally {
    if (!finished) {
      await batch.close()
      // The caller's iterator is left early too, as `for...of` would.
      await input?.return?.()
    }
  }
}

/** `client.accounts`: one method per Gigya method; each takes `(params, options?)`. */
class Accounts {
  #client

  constructor(client) {
    this.#client = client
  }

  /** One method per name of the core's table (`native.methods()`), aliases included. */
  static {
    for (const method of native.methods()) {
      // `accounts.`: the full name without the short one.
      const namespace = method.name.slice(0, method.name.length - method.shortName.length)
      for (const name of [method.shortName, ...method.aliases]) {
        Object.defineProperty(Accounts.prototype, name, {
          value: {
            [name](params, options) {
              return this.#invoke(namespace + name, params, options)
            },
          }[name],
          writable: true,
          configurable: true,
        })
      }
    }
  }

  /**
   * Run `fullName` (e.g. `accounts.importProfilePhoto`). With `params.callback`: calls `callback(response)` exactly once
   * with the envelope, error or not, and returns undefined (the Gigya Web SDK style; a
   * `signal` is not used then). Without: a Promise of the envelope that rejects with
   * `ProfilePhotoError` when `errorCode` is not 0, or with the signal's reason when aborted.
   */
  #invoke(fullName, params, options) {
    let callback
    let rest = params ?? {}
    if (isPlainObject(rest) && 'callback' in rest) {
      ;({ callback, ...rest } = rest)
      if (callback != null && typeof callback !== 'function') {
        throw new TypeError(`callback must be a function, not ${typeof callback}`)
      }
    }
    const response = this.#client.call(fullName, rest, callback ? undefined : options)
    if (!callback) {
      return response.then((r) => {
        if (r.errorCode !== 0) throw ProfilePhotoError.fromResponse(r)
        return r
      })
    }
    response
      .catch(envelopeOf)
      .then((r) => {
        try {
          callback(r)
        } catch (err) {
          // The caller's own exception: surface it as an uncaught exception, as a Node
          // callback API would, without calling the callback again.
          process.nextTick(() => {
            throw err
          })
        }
      })
    return undefined
  }
}

/** The engine's methods: `{name, shortName, aliases}` (the core's table). */
const methods = Object.freeze(
  native.methods().map((m) => Object.freeze({ ...m, aliases: Object.freeze([...m.aliases]) })),
)
const version = native.version()

// Names only: Node's ESM loader finds CommonJS named exports by reading this literal, and
// stops at the first value that is not a plain name.
module.exports = { Client, methods, ProfilePhotoError, version }
