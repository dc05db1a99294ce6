import { Encoder } from 'cbor-x';
import { reject } from './errors.js';

/**
 * One CBOR codec for everything that is signed or sent. Maps decode as plain objects, byte strings stay byte
 * strings (no typed-array tags), and records/structures are off so the bytes mean the same to any CBOR reader.
 */
const codec = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  pack: false,
  variableMapSize: true,
  bundleStrings: false,
  structuredClone: false,
});

/** The object without its undefined fields: CBOR would encode them as `undefined`, which no reader expects. */
export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function encode(value: unknown): Uint8Array {
  const b = codec.encode(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes exactly one CBOR item; anything unreadable or trailing is a typed `malformed` error. */
export function decode(bytes: Uint8Array, what: string): unknown {
  let v: unknown;
  try {
    const items = codec.decodeMultiple(bytes) as unknown[];
    if (!Array.isArray(items) || items.length !== 1) reject('malformed', `${what}: expected one CBOR item`);
    v = items[0];
  } catch (e) {
    if (e instanceof Error && e.name === 'FreeholdError') throw e;
    return reject('malformed', `${what}: not valid CBOR (${(e as Error).message})`);
  }
  return v;
}

// Small structural readers used by every decoder; each failure names the field.
export function asBytes(v: unknown, field: string, len?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) return reject('malformed', `${field}: expected bytes`);
  if (len !== undefined && v.length !== len) return reject('malformed', `${field}: expected ${len} bytes`);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export function asUint(v: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    return reject('malformed', `${field}: expected an unsigned integer`);
  }
  return v;
}

export function asString(v: unknown, field: string, maxLen = 1024): string {
  if (typeof v !== 'string' || v.length > maxLen) return reject('malformed', `${field}: expected a string`);
  return v;
}

export function asArray(v: unknown, field: string, maxLen = 100_000): unknown[] {
  if (!Array.isArray(v)) return reject('malformed', `${field}: expected an array`);
  if (v.length > maxLen) return reject('too-large', `${field}: ${v.length} items, at most ${maxLen} allowed`);
  return v;
}

export function asRecord(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    return reject('malformed', `${field}: expected a map`);
  }
  return v as Record<string, unknown>;
}
