import type { EntryRow } from '@freehold/core';

/**
 * How a SQL store keeps an entry's bytes without the header fields it already holds as columns.
 *
 * An entry is `[header, payload, signature]` and its header `[1, suite, kind, space, doc, device, seq, prev,
 * basis, time, size]` (core's entry.ts). Space, doc, device and seq sit side by side, and so do basis and time:
 * the store cuts those two runs out of the bytes and, on reading, writes them back from its columns. Nothing is
 * re-encoded from a decoded entry: a run is cut only where its bytes are exactly what this module writes from the
 * columns, so putting it back gives the signed bytes again whatever encoder made them. Any other entry (another
 * encoder's choices, a malformed one a test stores) is kept whole.
 */

/** Where the first run starts: after the entry's array head, the header's byte-string head, and version, suite and kind. */
const FIRST = 7;

type Columns = Pick<EntryRow, 'space' | 'doc' | 'device' | 'seq' | 'time'>;

/** Bytes of a CBOR head in its shortest form (what core's encoder writes for lengths and integers); 0 past 32 bits. */
const headSize = (n: number) => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffffffff ? 5 : 0);

function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const size = headSize(n);
  out[at] = (major << 5) | [n, 24, 25, 0, 26][size - 1]!;
  for (let i = size - 1; i > 0; i--, n = Math.floor(n / 256)) out[at + i] = n & 0xff;
  return at + size;
}

function writeBytes(out: Uint8Array, at: number, b: Uint8Array): number {
  at = writeHead(out, at, 2, b.length);
  out.set(b, at);
  return at + b.length;
}

const bytesSize = (b: Uint8Array) => headSize(b.length) + b.length;

/** A time as core's encoder writes it: an integer past 32 bits as a float64. */
const timeSize = (t: number) => (t <= 0xffffffff ? headSize(t) : 9);

function writeTime(out: Uint8Array, at: number, t: number): number {
  if (t <= 0xffffffff) return writeHead(out, at, 0, t);
  out[at] = 0xfb;
  new DataView(out.buffer, out.byteOffset + at + 1, 8).setFloat64(0, t);
  return at + 9;
}

/** Length of the run after kind (space, doc, device, seq); 0 for a sequence number a head cannot write in 5 bytes. */
const firstSize = (r: Columns) => (headSize(r.seq) ? bytesSize(r.space) + bytesSize(r.doc) + bytesSize(r.device) + headSize(r.seq) : 0);
const writeFirst = (out: Uint8Array, at: number, r: Columns) => writeHead(out, writeBytes(out, writeBytes(out, writeBytes(out, at, r.space), r.doc), r.device), 0, r.seq);

const secondSize = (basis: Uint8Array, t: number) => bytesSize(basis) + timeSize(t);
const writeSecond = (out: Uint8Array, at: number, basis: Uint8Array, t: number) => writeTime(out, writeBytes(out, at, basis), t);

/** Where the second run starts in the packed bytes: prev is empty at sequence 1 and 32 bytes after. */
const secondAt = (seq: number) => FIRST + (seq === 1 ? 1 : 34);

function matches(bytes: Uint8Array, at: number, size: number, write: (out: Uint8Array, at: number) => void): boolean {
  if (at + size > bytes.length) return false;
  const run = new Uint8Array(size);
  write(run, 0);
  for (let i = 0; i < size; i++) if (bytes[at + i] !== run[i]) return false;
  return true;
}

export interface Packed {
  /** The bytes without the two runs. */
  body: Uint8Array;
  /** The basis the second run held (empty for membership entries). */
  basis: Uint8Array;
  /** Bytes cut out: the whole entry is `body.length + cut` long. */
  cut: number;
}

/** The entry's bytes packed, or undefined where they must be kept whole. */
export function pack(r: EntryRow): Packed | undefined {
  const b = r.bytes;
  const one = firstSize(r);
  if (!one || !matches(b, FIRST, one, (out, at) => writeFirst(out, at, r))) return undefined;
  const at = secondAt(r.seq) + one;
  // Empty for membership entries, else 32 bytes; a short read fails the match below.
  const basis = b[at] === 0x40 ? new Uint8Array(0) : b[at] === 0x58 && b[at + 1] === 32 ? b.subarray(at + 2, at + 34) : undefined;
  if (!basis) return undefined;
  const two = secondSize(basis, r.time);
  if (!matches(b, at, two, (out, i) => writeSecond(out, i, basis, r.time))) return undefined;
  const body = new Uint8Array(b.length - one - two);
  body.set(b.subarray(0, FIRST), 0);
  body.set(b.subarray(FIRST + one, at), FIRST);
  body.set(b.subarray(at + two), at - one);
  return { body, basis: basis.slice(), cut: one + two };
}

/** The entry's bytes again, from what pack left and the row's columns. */
export function unpack(body: Uint8Array, r: Columns, basis: Uint8Array): Uint8Array {
  const at = secondAt(r.seq);
  const out = new Uint8Array(body.length + firstSize(r) + secondSize(basis, r.time));
  out.set(body.subarray(0, FIRST), 0);
  let i = writeFirst(out, FIRST, r);
  out.set(body.subarray(FIRST, at), i);
  i = writeSecond(out, i + at - FIRST, basis, r.time);
  out.set(body.subarray(at), i);
  return out;
}
