import { concat } from '@freehold/core';
import { ascii, malformed as damaged, startsWith, u32le } from './bytes.js';
import { orientationOnly } from './orientation.js';

const malformed = (what: string) => damaged('WebP', what);

/** VP8X flags that announce the metadata chunks. */
const EXIF_FLAG = 0x08;
const XMP_FLAG = 0x04;

function chunk(fourcc: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length + (data.length & 1));
  for (let k = 0; k < 4; k++) out[k] = fourcc.charCodeAt(k);
  new DataView(out.buffer).setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

/** One chunk of a WebP file: its FourCC and its data. */
export interface RiffChunk {
  fourcc: string;
  data: Uint8Array;
}

/** The chunks of a WebP file, each size checked against the RIFF size and the file; a damaged file is refused. */
export function* webpChunks(b: Uint8Array): Generator<RiffChunk> {
  if (!startsWith(b, 0, 'RIFF') || !startsWith(b, 8, 'WEBP')) malformed('it is not a RIFF WEBP file');
  const end = 8 + u32le(b, 4);
  if (end > b.length || end < 20) malformed('its RIFF size does not fit the file');
  for (let i = 12; i < end; ) {
    if (i + 8 > end) return malformed(`a chunk header at byte ${i} runs past the end`);
    const fourcc = ascii(b, i, 4);
    const size = u32le(b, i + 4);
    if (i + 8 + size > end) return malformed(`the ${fourcc} chunk at byte ${i} runs past the end of the file`);
    if (i === 12 && !['VP8 ', 'VP8L', 'VP8X'].includes(fourcc)) return malformed('its first chunk is not VP8, VP8L or VP8X');
    if (fourcc === 'VP8X' && size < 10) return malformed('its VP8X chunk is too short');
    yield { fourcc, data: b.subarray(i + 8, i + 8 + size) };
    // The last chunk's padding byte is sometimes left out.
    i = Math.min(i + 8 + size + (size & 1), end);
  }
}

/** A WebP EXIF chunk's TIFF block: some writers put the JPEG-style "Exif\0\0" before it. */
export const webpTiff = (data: Uint8Array): Uint8Array => (startsWith(data, 0, 'Exif\0\0') ? data.subarray(6) : data);

/**
 * The WebP without its XMP chunk and its Exif (but for orientation, see orientation.ts), with the VP8X flags saying
 * what is left and the RIFF size of what is.
 */
export function stripWebp(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let vp8x: Uint8Array | undefined;
  let exif = false;
  for (const { fourcc, data } of webpChunks(b)) {
    if (fourcc === 'VP8X') {
      vp8x = chunk(fourcc, data);
      parts.push(vp8x);
    } else if (fourcc === 'EXIF') {
      const tiff = orientationOnly(webpTiff(data));
      if (tiff && !exif) parts.push(chunk(fourcc, tiff));
      exif ||= tiff !== undefined;
    } else if (fourcc !== 'XMP ') parts.push(chunk(fourcc, data));
  }
  if (vp8x) vp8x[8] = (vp8x[8]! & ~(EXIF_FLAG | XMP_FLAG)) | (exif ? EXIF_FLAG : 0);
  const body = concat(...parts);
  const head = new Uint8Array(12);
  head.set([0x52, 0x49, 0x46, 0x46], 0);
  new DataView(head.buffer).setUint32(4, 4 + body.length, true);
  head.set([0x57, 0x45, 0x42, 0x50], 8);
  return concat(head, body);
}
