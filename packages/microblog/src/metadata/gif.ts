import { concat } from '@freehold/core';
import { ascii, malformed as damaged, startsWith } from './bytes.js';

const malformed = (what: string) => damaged('GIF', what);

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;
const COMMENT = 0xfe;
const APPLICATION = 0xff;
/** Application extensions kept: looping (NETSCAPE2.0, and ANIMEXTS1.0 which means the same) and the ICC profile. */
const KEPT_APPLICATIONS = new Set(['NETSCAPE2.0', 'ANIMEXTS1.0', 'ICCRGBG1012']);

/** Where the data sub-blocks starting at `at` end (after their zero-length terminator). */
function subBlocksEnd(b: Uint8Array, at: number): number {
  let j = at;
  for (;;) {
    const size = b[j];
    if (size === undefined) return malformed('it ends inside a block of data');
    j += 1 + size;
    if (size === 0) return j;
  }
}

const colourTable = (flags: number) => (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);

/**
 * The GIF without comments and application extensions other than looping and colour (XMP is one: "XMP DataXMP"),
 * walked block by block with every size checked; anything after the trailer is dropped.
 */
export function stripGif(b: Uint8Array): Uint8Array {
  if (!startsWith(b, 0, 'GIF87a') && !startsWith(b, 0, 'GIF89a')) malformed('it does not start with a GIF header');
  if (b.length < 13) malformed('it ends inside its header');
  const start = 13 + colourTable(b[10]!);
  const parts: Uint8Array[] = [b.subarray(0, start)];
  for (let i = start; ; ) {
    const kind = b[i];
    if (kind === TRAILER) {
      parts.push(b.subarray(i, i + 1));
      return concat(...parts);
    }
    if (kind === EXTENSION) {
      if (i + 2 > b.length) return malformed('it ends inside an extension');
      const label = b[i + 1]!;
      const end = subBlocksEnd(b, i + 2);
      const app = label === APPLICATION && b[i + 2] === 11 ? ascii(b, i + 3, 11) : undefined;
      if (label !== COMMENT && (label !== APPLICATION || (app !== undefined && KEPT_APPLICATIONS.has(app)))) parts.push(b.subarray(i, end));
      i = end;
    } else if (kind === IMAGE) {
      if (i + 11 > b.length) return malformed('it ends inside an image descriptor');
      // Descriptor, local colour table, the LZW code size byte, then the image data.
      const end = subBlocksEnd(b, i + 10 + colourTable(b[i + 9]!) + 1);
      parts.push(b.subarray(i, end));
      i = end;
    } else if (kind === undefined) return malformed('it ends before its trailer');
    else return malformed(`an unknown block at byte ${i}`);
  }
}
