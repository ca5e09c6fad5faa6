// ESM entry: the same objects as `require('avatarium')` (one addon instance).
import cjs from './index.js'

export const { Client, ProfilePhotoError, version } = cjs
export default cjs
