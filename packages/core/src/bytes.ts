import { base58, base64, hex } from '@scure/base';
import { reject } from './errors.js';

export const toBase64 = (b: Uint8Array): string => base64.encode(b);

export function fromBase64(s: string, what = 'base64 text'): Uint8Array {
  try {
    return base64.decode(s.replace(/\s+/g, ''));
  } catch {
    return reject('malformed', `${what} is not valid base64`);
  }
}

const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef');
const latin1 = new TextDecoder('latin1');

/**
 * Lower-case hex, as one flat string: hex ids are kept by the thousand as map keys, and a string built up with
 * `+=` stays a rope of one piece per byte (about 870 bytes for a 32-byte id instead of about 90).
 */
export function toHex(b: Uint8Array): string {
  const out = new Uint8Array(b.length * 2);
  for (let i = 0; i < b.length; i++) {
    out[2 * i] = HEX_DIGITS[b[i]! >> 4]!;
    out[2 * i + 1] = HEX_DIGITS[b[i]! & 15]!;
  }
  return latin1.decode(out);
}
export const fromHex = (s: string): Uint8Array => hex.decode(s);

/** Ids shown to people (accounts, devices, spaces) are base58: short, unambiguous, copy-pastable. */
export const toId = (b: Uint8Array): string => base58.encode(b);

export function fromId(s: string, what = 'id'): Uint8Array {
  try {
    const b = base58.decode(s);
    if (b.length !== 32) reject('invalid-argument', `${what} ${s} is not a 32-byte id`);
    return b;
  } catch (e) {
    if (e instanceof Error && e.name === 'FreeholdError') throw e;
    return reject('invalid-argument', `${what} "${s}" is not a valid id`);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Lexicographic byte order, the tie-breaker everywhere an order must be deterministic. */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const encoder = new TextEncoder();
export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(b);
