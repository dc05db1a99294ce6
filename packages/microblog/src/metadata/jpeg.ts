import { concat, utf8 } from '@freehold/core';
import { malformed as damaged, startsWith, u16be } from './bytes.js';
import { orientationOnly } from './orientation.js';

const malformed = (what: string) => damaged('JPEG', what);

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const COM = 0xfe;
const APP0 = 0xe0;
const APP1 = 0xe1;
const APP2 = 0xe2;
const APP14 = 0xee;
const EXIF = 'Exif\0\0';

/** Markers that stand alone, without a length: restart markers and TEM. */
const standalone = (m: number) => (m >= 0xd0 && m <= 0xd7) || m === 0x01;

function segment(marker: number, body: Uint8Array): Uint8Array {
  return concat(new Uint8Array([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body);
}

/**
 * What of an APPn or COM segment is kept: JFIF (APP0), the ICC colour profile (APP2: without it a wide-gamut photo
 * shows in the wrong colours, and it says nothing of where or who), Adobe's APP14 (how CMYK and YCCK data decode),
 * and of Exif only the orientation. Everything else goes: Exif (GPS position, time, camera serial, its own
 * thumbnail), XMP, Photoshop/IPTC, MPF (further images after this one), maker segments and comments.
 */
function kept(marker: number, body: Uint8Array, exifDone: boolean): Uint8Array | undefined {
  if (marker === APP0) return startsWith(body, 0, 'JFIF\0') ? segment(marker, body) : undefined;
  if (marker === APP2) return startsWith(body, 0, 'ICC_PROFILE\0') ? segment(marker, body) : undefined;
  if (marker === APP14) return startsWith(body, 0, 'Adobe') ? segment(marker, body) : undefined;
  if (marker === APP1 && !exifDone && startsWith(body, 0, EXIF)) {
    const tiff = orientationOnly(body.subarray(EXIF.length));
    return tiff && segment(APP1, concat(utf8(EXIF), tiff));
  }
  return undefined;
}

/** The end of the entropy-coded data that starts at `at`: the next marker that is not a stuffed byte or a restart. */
function scanEnd(b: Uint8Array, at: number): number {
  for (let j = at; j + 1 < b.length; j++) {
    if (b[j] !== 0xff) continue;
    const next = b[j + 1]!;
    if (next !== 0 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) return j;
  }
  return malformed('the image data has no end marker');
}

/**
 * The JPEG without its metadata segments (see `kept`), walked segment by segment with every length checked
 * against the file; anything after the end marker (appended videos, vendor trailers) is dropped too.
 */
export function stripJpeg(b: Uint8Array): Uint8Array {
  if (b[0] !== 0xff || b[1] !== SOI) malformed('it does not start with a JPEG marker');
  const parts: Uint8Array[] = [b.subarray(0, 2)];
  let exifDone = false;
  let scans = 0;
  for (let i = 2; ; ) {
    if (i >= b.length) return malformed('it ends before its end marker');
    if (b[i] !== 0xff) return malformed(`no marker at byte ${i}`);
    let m = i + 1;
    while (m < b.length && b[m] === 0xff) m++;
    const marker = b[m];
    if (marker === undefined) return malformed('it ends inside a marker');
    if (marker === EOI) {
      if (!scans) malformed('it holds no image data');
      parts.push(new Uint8Array([0xff, EOI]));
      return concat(...parts);
    }
    if (standalone(marker)) {
      parts.push(new Uint8Array([0xff, marker]));
      i = m + 1;
      continue;
    }
    if (marker === 0 || marker === SOI) return malformed(`an unexpected marker at byte ${m}`);
    if (m + 3 > b.length) return malformed('it ends inside a segment header');
    const end = m + 1 + u16be(b, m + 1);
    if (end < m + 3 || end > b.length) return malformed(`a segment at byte ${i} runs past the end of the file`);
    const body = b.subarray(m + 3, end);
    if ((marker >= APP0 && marker <= 0xef) || marker === COM) {
      const keep = kept(marker, body, exifDone);
      if (marker === APP1 && startsWith(body, 0, EXIF)) exifDone = true;
      if (keep) parts.push(keep);
      i = end;
      continue;
    }
    parts.push(b.subarray(m - 1, end));
    i = end;
    if (marker === SOS) {
      scans++;
      i = scanEnd(b, end);
      parts.push(b.subarray(end, i));
    }
  }
}
