/**
 * The one Exif field kept: orientation (TIFF tag 0x0112). A phone stores a photo as its sensor saw it and says in
 * this tag how to turn it; without it a portrait photo shows sideways wherever the browser honours the tag (every
 * one does for JPEG, and the thumbnail the web app draws from the original file is turned by it too). Keeping the
 * tag, not turning the pixels, keeps this pure and the image bytes as they were.
 */

const ORIENTATION = 0x0112;
const SHORT = 3;

/** The orientation a TIFF block (an Exif payload) names, 1 to 8; undefined if it names none or cannot be read. */
export function readOrientation(tiff: Uint8Array): number | undefined {
  if (tiff.length < 8) return undefined;
  const order = String.fromCharCode(tiff[0]!, tiff[1]!);
  if (order !== 'II' && order !== 'MM') return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const le = order === 'II';
  const ifd = view.getUint32(4, le);
  if (ifd + 2 > tiff.length) return undefined;
  const count = view.getUint16(ifd, le);
  // Bounded by the block: a hostile count cannot make this read past it.
  for (let k = 0, at = ifd + 2; k < count && at + 12 <= tiff.length; k++, at += 12) {
    if (view.getUint16(at, le) !== ORIENTATION) continue;
    const value = view.getUint16(at + 8, le);
    return view.getUint16(at + 2, le) === SHORT && value >= 1 && value <= 8 ? value : undefined;
  }
  return undefined;
}

/** A TIFF block holding orientation alone (big-endian, one IFD of one entry), or undefined for none to keep. */
export function orientationOnly(tiff: Uint8Array): Uint8Array | undefined {
  const o = readOrientation(tiff);
  if (o === undefined || o === 1) return undefined;
  return new Uint8Array([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, SHORT, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0]);
}
