// Typings of the avatarium Web SDK (`/sdk.js?apiKey=…`): `window.avatarium.accounts`,
// and `window.gigya.accounts` when the page had no `gigya` of its own.

export interface Response {
  errorCode: number;
  errorMessage?: string;
  errorDetails?: string;
  statusCode: number;
  statusReason: string;
  callId: string;
  time: string;
  apiVersion: number;
  /** Echoed from the call's `context`. */
  context?: unknown;
  UID?: string;
  photoURL?: string;
  thumbnailURL?: string;
  isRegistered?: boolean;
  profile?: { photoURL?: string; thumbnailURL?: string };
  regToken?: string;
  [field: string]: unknown;
}

export interface BaseParams {
  /** Called exactly once with the response; without it, the method returns a Promise. */
  callback?: (response: Response) => void;
  /** Any value: echoed in the response. */
  context?: unknown;
  /** A registration's token: the call is about that new account instead of the session. */
  regToken?: string;
  /** The session cookie's name (default `glt_<apiKey>`). */
  cookieName?: string;
}

export interface ImportParams extends BaseParams {
  URL: string;
  publish?: boolean;
}

export interface SetPhotoParams extends BaseParams {
  /** The file as base64, as Gigya takes it. */
  photoBytes?: string;
  /** The file itself, e.g. from `<input type=file>`. */
  photo?: Blob;
  publish?: boolean;
}

type Method<P> = {
  (params: P & { callback: (response: Response) => void }): void;
  (params?: P): Promise<Response>;
};

export interface Accounts {
  importProfilePhoto: Method<ImportParams>;
  setProfilePhoto: Method<SetPhotoParams>;
  uploadProfilePhoto: Method<SetPhotoParams>;
  publishProfilePhoto: Method<BaseParams>;
  getAccountInfo: Method<BaseParams>;
  removeProfilePhoto: Method<BaseParams>;
  initRegistration: Method<BaseParams>;
  finalizeRegistration: Method<BaseParams & { regToken: string }>;
  logout: Method<BaseParams>;
}

export interface Sdk {
  accounts: Accounts;
  apiKey: string;
  /** The server's origin, from the script's own URL. */
  server: string;
}

declare global {
  interface Window {
    avatarium: Sdk;
    gigya: Sdk;
  }
}
