import { toHex } from './bytes.js';
import { asArray, asBytes, asUint, decode, encode } from './codec.js';
import { reject } from './errors.js';
import { signedId } from './signed.js';

/** Bytes per chunk: small enough for a sync frame of several, large enough that an image is a few entries. */
export const BLOB_CHUNK = 256 * 1024;
/** The largest blob any replica assembles: an app bounds its own kinds of blob below this. */
export const MAX_BLOB = 64 * 1024 * 1024;

export interface BlobChunk {
  blob: Uint8Array;
  offset: number;
  size: number;
  bytes: Uint8Array;
}

/** A blob's id: SHA-256 of its bytes under the blob domain label. */
export const blobId = (bytes: Uint8Array): Uint8Array => signedId('blob', bytes);

export const blobName = (id: Uint8Array): string => `blob/${toHex(id)}`;

export function encodeBlobChunk(c: BlobChunk): Uint8Array {
  return encode([c.blob, c.offset, c.size, c.bytes]);
}

/** Checked by every replica that can read a blob entry: a chunk lies inside a blob no larger than MAX_BLOB. */
export function decodeBlobChunk(plaintext: Uint8Array): BlobChunk {
  const [blob, offset, size, bytes] = asArray(decode(plaintext, 'blob chunk'), 'blob chunk', 4);
  const c = { blob: asBytes(blob, 'chunk.blob', 32), offset: asUint(offset, 'chunk.offset'), size: asUint(size, 'chunk.size'), bytes: asBytes(bytes, 'chunk.bytes') };
  if (c.size < 1 || c.size > MAX_BLOB) reject('too-large', `a blob of ${c.size} bytes is outside 1 to ${MAX_BLOB}`);
  if (c.bytes.length < 1 || c.bytes.length > BLOB_CHUNK || c.offset + c.bytes.length > c.size) reject('malformed', 'blob chunk does not lie inside its blob');
  return c;
}

