import type { EntryRow } from '@freehold/core';

/**
 * How a SQL store keeps an entry's bytes without the header fields it already holds as columns.
 *
 * An entry is `[header, payload, signature]` and its header `[1, suite, kind, space, doc, device, seq, prev,
 * basis, time, size]` (core's entry.ts). Space, doc, device and seq sit side by side, and so do basis and time:
 * the store cuts those two runs out of the bytes and, on reading, writes them back from its columns. Nothing is
 * re-encoded from a decoded entry: a run is cut only where its bytes are exactly what `run` writes from the
 * columns, so putting it back gives the signed bytes again whatever encoder made them. Any other entry (another
 * encoder's choices, a malformed one a test stores) is kept whole.
 */

/** Where the first run starts: after the entry's array head, the header's byte-string head, and version, suite and kind. */
const FIRST = 7;

/** A CBOR head in its shortest form: what core's encoder writes for lengths and integers. */
function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  if (n <= 0xffffffff) return [m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return [];
}

const bstr = (b: Uint8Array): number[] => [...head(2, b.length), ...b];

/** A time as core's encoder writes it: an integer past 32 bits as a float64. */
function time(t: number): number[] {
  if (t <= 0xffffffff) return head(0, t);
  const b = new Uint8Array(9);
  b[0] = 0xfb;
  new DataView(b.buffer).setFloat64(1, t);
  return [...b];
}

/** The run after kind (space, doc, device, seq), or undefined for a sequence number a head cannot write in 5 bytes. */
function first(r: Pick<EntryRow, 'space' | 'doc' | 'device' | 'seq'>): number[] | undefined {
  const seq = head(0, r.seq);
  return seq.length ? [...bstr(r.space), ...bstr(r.doc), ...bstr(r.device), ...seq] : undefined;
}

/** Where the second run starts in the packed bytes: prev is empty at sequence 1 and 32 bytes after. */
const secondAt = (seq: number) => FIRST + (seq === 1 ? 1 : 34);

const second = (basis: Uint8Array, t: number) => [...bstr(basis), ...time(t)];

function matches(bytes: Uint8Array, at: number, run: number[]): boolean {
  if (at + run.length > bytes.length) return false;
  return run.every((b, i) => bytes[at + i] === b);
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
  const one = first(r);
  if (!one || !matches(b, FIRST, one)) return undefined;
  const at = secondAt(r.seq) + one.length;
  // Empty for membership entries, else 32 bytes; a short read fails the match below.
  const basis = b[at] === 0x40 ? new Uint8Array(0) : b[at] === 0x58 && b[at + 1] === 32 ? b.subarray(at + 2, at + 34) : undefined;
  if (!basis) return undefined;
  const two = second(basis, r.time);
  if (!matches(b, at, two)) return undefined;
  const body = new Uint8Array(b.length - one.length - two.length);
  body.set(b.subarray(0, FIRST), 0);
  body.set(b.subarray(FIRST + one.length, at), FIRST);
  body.set(b.subarray(at + two.length), at - one.length);
  return { body, basis: basis.slice(), cut: one.length + two.length };
}

/** The entry's bytes again, from what pack left and the row's columns. */
export function unpack(body: Uint8Array, r: Pick<EntryRow, 'space' | 'doc' | 'device' | 'seq' | 'time'>, basis: Uint8Array): Uint8Array {
  const one = first(r)!;
  const two = second(basis, r.time);
  const at = secondAt(r.seq);
  const out = new Uint8Array(body.length + one.length + two.length);
  out.set(body.subarray(0, FIRST), 0);
  out.set(one, FIRST);
  out.set(body.subarray(FIRST, at), FIRST + one.length);
  out.set(two, at + one.length);
  out.set(body.subarray(at), at + one.length + two.length);
  return out;
}
