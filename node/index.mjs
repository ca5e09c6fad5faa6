// ESM entry: the same objects as `require('avatarium')` (one addon instance).
import cjs from './index.js'

export const { Client, ProfilePhotoError, methods, version } = cjs
export default cjs
