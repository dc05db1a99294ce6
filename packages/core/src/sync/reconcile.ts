import { compare } from '../bytes.js';
import { asArray, asBytes, decode, encode } from '../codec.js';
import { reject } from '../errors.js';
import { sha256 } from '../crypto/suite.js';
import type { EntryKey } from '../store.js';

/**
 * Range-based set reconciliation over a space's entries ordered by (time, id). Each side answers a range's
 * fingerprint with "same" (skip), its own ids when the range is small, or fingerprints of sub-ranges. Two
 * replicas in sync settle in one exchange of a few dozen bytes whatever they hold; a difference of d entries
 * costs O(d · log n) fingerprints. No cursors: restored backups and third-party replicas just work.
 */
export const BRANCH = 8;
export const LEAF = 12;
const FP_BYTES = 12;
const SKIP = 0;
const FINGERPRINT = 1;
const IDS = 2;

interface Bound {
  time: number;
  prefix: Uint8Array;
}
const INFINITY: Bound = { time: Number.POSITIVE_INFINITY, prefix: new Uint8Array(0) };

type Range = { bound: Bound; mode: typeof SKIP } | { bound: Bound; mode: typeof FINGERPRINT; fp: Uint8Array } | { bound: Bound; mode: typeof IDS; ids: Uint8Array[] };

const below = (k: EntryKey, b: Bound): boolean => k.time < b.time || (k.time === b.time && compare(k.id, b.prefix) < 0);

/** The shortest bound that separates `prev` from `next`. */
function boundBetween(prev: EntryKey, next: EntryKey): Bound {
  if (prev.time !== next.time) return { time: next.time, prefix: new Uint8Array(0) };
  let i = 0;
  while (i < next.id.length && prev.id[i] === next.id[i]) i++;
  return { time: next.time, prefix: next.id.subarray(0, i + 1) };
}

/** Sum of ids in eight 32-bit lanes, with the count, hashed: order-independent and cheap to recompute. */
export function fingerprint(keys: EntryKey[], from: number, to: number): Uint8Array {
  const lanes = new Uint32Array(9);
  for (let i = from; i < to; i++) {
    const id = keys[i]!.id;
    for (let l = 0; l < 8; l++) {
      const o = l * 4;
      lanes[l] = (lanes[l]! + (id[o]! | (id[o + 1]! << 8) | (id[o + 2]! << 16) | (id[o + 3]! << 24))) >>> 0;
    }
  }
  lanes[8] = to - from;
  return sha256(new Uint8Array(lanes.buffer)).subarray(0, FP_BYTES);
}

function encodeMessage(ranges: Range[]): Uint8Array {
  let last = 0;
  const out: unknown[] = [];
  for (const r of ranges) {
    const finite = Number.isFinite(r.bound.time);
    out.push(finite ? r.bound.time - last : -1, r.bound.prefix, r.mode);
    if (finite) last = r.bound.time;
    if (r.mode === FINGERPRINT) out.push(r.fp);
    else if (r.mode === IDS) out.push(r.ids);
  }
  return encode(out);
}

function decodeMessage(bytes: Uint8Array): Range[] {
  const flat = asArray(decode(bytes, 'reconcile message'), 'reconcile message', 1_000_000);
  const ranges: Range[] = [];
  let last = 0;
  let prevBound: Bound | undefined;
  for (let i = 0; i < flat.length; ) {
    const dt = flat[i++];
    if (typeof dt !== 'number' || !Number.isSafeInteger(dt) || dt < -1) reject('malformed', 'reconcile bound: bad time');
    const prefix = asBytes(flat[i++], 'reconcile bound prefix');
    if (prefix.length > 32) reject('malformed', 'reconcile bound prefix too long');
    const mode = flat[i++];
    const bound: Bound = dt === -1 ? INFINITY : { time: (last += dt), prefix };
    if (prevBound && !Number.isFinite(prevBound.time)) reject('malformed', 'reconcile ranges continue past the end');
    if (prevBound && (bound.time < prevBound.time || (bound.time === prevBound.time && compare(bound.prefix, prevBound.prefix) <= 0))) {
      reject('malformed', 'reconcile bounds must increase');
    }
    prevBound = bound;
    if (mode === SKIP) ranges.push({ bound, mode });
    else if (mode === FINGERPRINT) ranges.push({ bound, mode, fp: asBytes(flat[i++], 'fingerprint', FP_BYTES) });
    else if (mode === IDS) ranges.push({ bound, mode, ids: asArray(flat[i++], 'ids', 100_000).map((x) => asBytes(x, 'id', 32)) });
    else reject('malformed', `reconcile mode ${String(mode)} is unknown`);
  }
  if (prevBound && Number.isFinite(prevBound.time)) reject('malformed', 'reconcile message must end at infinity');
  return ranges;
}

export interface ReconcileStep {
  /** The next message for the other side, or undefined when this space is settled. */
  reply: Uint8Array | undefined;
  /** Ids this side holds that the other lacks: send those entries. */
  have: Uint8Array[];
  /** Ids the other side holds that this one lacks: ask for them. */
  need: Uint8Array[];
}

export class Reconciler {
  constructor(private readonly keys: EntryKey[]) {}

  initiate(): Uint8Array {
    const n = this.keys.length;
    return encodeMessage([n <= LEAF ? { bound: INFINITY, mode: IDS, ids: this.keys.map((k) => k.id) } : { bound: INFINITY, mode: FINGERPRINT, fp: fingerprint(this.keys, 0, n) }]);
  }

  process(message: Uint8Array): ReconcileStep {
    const ranges = decodeMessage(message);
    const out: Range[] = [];
    const have: Uint8Array[] = [];
    const need: Uint8Array[] = [];
    const keys = this.keys;
    let lo = 0;
    const skip = (bound: Bound) => {
      const last = out[out.length - 1];
      if (last && last.mode === SKIP) last.bound = bound;
      else out.push({ bound, mode: SKIP });
    };
    for (const r of ranges) {
      let hi = lo;
      while (hi < keys.length && below(keys[hi]!, r.bound)) hi++;
      if (r.mode === SKIP) skip(r.bound);
      else if (r.mode === IDS) {
        const theirs = new Set(r.ids.map(idKey));
        const mine = new Set<string>();
        for (let i = lo; i < hi; i++) {
          const k = idKey(keys[i]!.id);
          mine.add(k);
          if (!theirs.has(k)) have.push(keys[i]!.id);
        }
        for (const id of r.ids) if (!mine.has(idKey(id))) need.push(id);
        skip(r.bound);
      } else if (equalFp(fingerprint(keys, lo, hi), r.fp)) skip(r.bound);
      else if (hi - lo <= LEAF) out.push({ bound: r.bound, mode: IDS, ids: keys.slice(lo, hi).map((k) => k.id) });
      else {
        const per = Math.ceil((hi - lo) / BRANCH);
        for (let s = lo; s < hi; s += per) {
          const e = Math.min(s + per, hi);
          const bound = e < hi ? boundBetween(keys[e - 1]!, keys[e]!) : r.bound;
          out.push({ bound, mode: FINGERPRINT, fp: fingerprint(keys, s, e) });
        }
      }
      lo = hi;
    }
    const settled = out.every((r) => r.mode === SKIP);
    return { reply: settled ? undefined : encodeMessage(out), have, need };
  }
}

const idKey = (id: Uint8Array): string => String.fromCharCode(...id);
const equalFp = (a: Uint8Array, b: Uint8Array): boolean => compare(a, b) === 0;
