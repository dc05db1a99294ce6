import { reject } from '@freehold/core';
import { MAX_IMAGE } from '../schema.js';
import { startsWith } from './bytes.js';
import { stripGif } from './gif.js';
import { stripJpeg } from './jpeg.js';
import { stripPng } from './png.js';
import { stripWebp } from './webp.js';

/**
 * An image's bytes without what they say beyond the picture (where and when a photo was taken, with what, by whom),
 * so that publishing a photo does not publish its place. Run on every image before it is hashed and stored, by
 * every client (the web app and the CLI go through `Microblog.post` and `storeAvatar`). Each format keeps what
 * decoding needs and the orientation (see orientation.ts). A file that is not well formed is refused
 * (`malformed`); the work is one pass over the bytes, whatever their length fields claim.
 */
export function stripMetadata(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_IMAGE) reject('too-large', `an image of ${bytes.length} bytes is over the ${MAX_IMAGE / 2 ** 20} MiB it may take`);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return stripJpeg(bytes);
  if (bytes[0] === 0x89 && startsWith(bytes, 1, 'PNG')) return stripPng(bytes);
  if (startsWith(bytes, 0, 'RIFF')) return stripWebp(bytes);
  if (startsWith(bytes, 0, 'GIF8')) return stripGif(bytes);
  return reject('invalid-argument', 'image is not a PNG, JPEG, WebP or GIF image');
}
