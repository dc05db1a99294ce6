import { concat } from '@freehold/core';
import { ascii, malformed as damaged, u32be } from './bytes.js';
import { orientationOnly } from './orientation.js';

const malformed = (what: string) => damaged('PNG', what);

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Text (where editors and phones write captions, authors, places) and the time it was last changed. */
const DROPPED = new Set(['tEXt', 'iTXt', 'zTXt', 'tIME']);

let table: Uint32Array | undefined;

/** CRC-32 as PNG defines it (ISO 3309), for the one chunk written anew. */
function crc32(b: Uint8Array): number {
  table ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (const x of b) c = table[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let k = 0; k < 4; k++) out[4 + k] = type.charCodeAt(k);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** One chunk of a PNG: its type, and where it starts (its length field) and ends (after its CRC). */
export interface PngChunk {
  type: string;
  start: number;
  end: number;
  data: Uint8Array;
}

/** The chunks of a PNG up to IEND, each length checked against the file; a damaged file is refused. */
export function* pngChunks(b: Uint8Array): Generator<PngChunk> {
  if (!SIGNATURE.every((x, k) => b[k] === x)) malformed('it does not start with the PNG signature');
  for (let i = 8; ; ) {
    if (i + 12 > b.length) return malformed('it ends before its IEND chunk');
    const type = ascii(b, i + 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) return malformed(`a chunk at byte ${i} has no valid type`);
    if (i === 8 && type !== 'IHDR') return malformed('its first chunk is not IHDR');
    const end = i + 12 + u32be(b, i);
    if (end > b.length) return malformed(`the ${type} chunk at byte ${i} runs past the end of the file`);
    yield { type, start: i, end, data: b.subarray(i + 8, end - 4) };
    if (type === 'IEND') return;
    i = end;
  }
}

/**
 * The PNG without its text chunks, its modification time and its Exif (but for orientation, see orientation.ts);
 * anything after IEND is dropped.
 */
export function stripPng(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [b.subarray(0, 8)];
  for (const c of pngChunks(b)) {
    if (c.type === 'eXIf') {
      const tiff = orientationOnly(c.data);
      if (tiff) parts.push(chunk('eXIf', tiff));
    } else if (!DROPPED.has(c.type)) parts.push(b.subarray(c.start, c.end));
  }
  return concat(...parts);
}
