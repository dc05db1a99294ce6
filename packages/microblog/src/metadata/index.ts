import { reject } from '@freehold/core';
import { MAX_IMAGE } from '../schema.js';
import { startsWith } from './bytes.js';
import { stripGif } from './gif.js';
import { stripJpeg } from './jpeg.js';
import { readOrientation } from './orientation.js';
import { pngChunks, stripPng } from './png.js';
import { stripWebp, webpChunks, webpTiff } from './webp.js';

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

/**
 * The Exif orientation of a PNG or WebP (1 to 8), which image-size reads of JPEG only; undefined for none. Browsers
 * turn these too (Chromium does), so a post gives the size they are shown at.
 */
export function orientationOf(bytes: Uint8Array): number | undefined {
  if (bytes[0] === 0x89 && startsWith(bytes, 1, 'PNG')) {
    for (const c of pngChunks(bytes)) if (c.type === 'eXIf') return readOrientation(c.data);
  } else if (startsWith(bytes, 0, 'RIFF')) {
    for (const c of webpChunks(bytes)) if (c.fourcc === 'EXIF') return readOrientation(webpTiff(c.data));
  }
  return undefined;
}
