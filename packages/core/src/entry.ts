import { asArray, asBytes, asUint, decode, encode } from './codec.js';
import { FreeholdError, reject } from './errors.js';
import { sign, SUITE, verify, verifyMany, type SigningKey } from './crypto/suite.js';
import { signedId } from './signed.js';

export const Kind = { membership: 0, update: 1, snapshot: 2, blob: 3, append: 4, prune: 5 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
const KINDS = new Set<number>(Object.values(Kind));

export const MAX_PAYLOAD = 1 << 20;
export const MAX_ENTRY = MAX_PAYLOAD + 1024;

export interface Header {
  kind: Kind;
  space: Uint8Array;
  /** 16-byte document id; empty for membership entries. */
  doc: Uint8Array;
  device: Uint8Array;
  /** Per-device counter across all spaces, with the id of that device's previous entry. */
  seq: number;
  prev: Uint8Array;
  /** The membership operation this entry was written under: it fixes the author's role and the epoch key. */
  basis: Uint8Array;
  time: number;
}

export interface Entry extends Header {
  id: Uint8Array;
  header: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

const u32 = (n: number): Uint8Array => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);

/** The entry id: SHA-256 over the exact header and payload bytes. The device signs this id. */
export const entryId = (header: Uint8Array, payload: Uint8Array): Uint8Array => signedId('entry', u32(header.length), header, payload);

export function encodeHeader(h: Header, payloadSize: number): Uint8Array {
  return encode([1, SUITE, h.kind, h.space, h.doc, h.device, h.seq, h.prev, h.basis, h.time, payloadSize]);
}

/**
 * Builds and signs an entry. `seal` turns the plaintext into the payload with the exact header bytes as AAD;
 * the payload size is in the header, so ciphertext length is fixed before encryption.
 */
export function createEntry(
  h: Header,
  key: SigningKey,
  payloadSize: number,
  makePayload: (header: Uint8Array) => Uint8Array,
): Entry {
  if (payloadSize > MAX_PAYLOAD) reject('too-large', `payload of ${payloadSize} bytes exceeds ${MAX_PAYLOAD}`);
  const header = encodeHeader(h, payloadSize);
  const payload = makePayload(header);
  if (payload.length !== payloadSize) throw new Error('payload size does not match its header');
  const id = entryId(header, payload);
  const signature = sign(id, key.seed);
  return { ...h, id, header, payload, signature, bytes: encode([header, payload, signature]) };
}

/** Decodes and checks an entry's structure and signature. Membership and keys are checked by the replica. */
export function readEntry(bytes: Uint8Array): Entry {
  const e = decodeEntry(bytes);
  if (!verify(e.signature, e.id, e.device)) reject('bad-signature', 'entry signature does not verify');
  return e;
}

/**
 * An entry read back from this replica's own store: its id is the row's, hashed when it was validated and stored
 * (reading a timeline decodes hundreds).
 */
export function storedEntry(row: { id: Uint8Array; bytes: Uint8Array }): Entry {
  const e = decodeUnhashed(row.bytes) as Entry;
  e.id = row.id;
  return e;
}

/** Decodes and checks an entry's structure; the caller still has to verify its signature (see readEntries). */
export function decodeEntry(bytes: Uint8Array): Entry {
  const e = decodeUnhashed(bytes) as Entry;
  // Set on the decoded object rather than spread into a copy: a provider decodes every entry it is sent.
  e.id = entryId(e.header, e.payload);
  return e;
}

/**
 * decodeEntry without the id, which costs a hash of the whole entry: for a side that only routes entries it
 * already holds (which space an outgoing entry is in) and hashes the few it needs the id of.
 */
export function decodeUnhashed(bytes: Uint8Array): Omit<Entry, 'id'> {
  if (bytes.length > MAX_ENTRY) reject('too-large', `entry of ${bytes.length} bytes exceeds ${MAX_ENTRY}`);
  const outer = asArray(decode(bytes, 'entry'), 'entry', 3);
  if (outer.length !== 3) reject('malformed', 'entry: expected [header, payload, signature]');
  const header = asBytes(outer[0], 'entry.header');
  const payload = asBytes(outer[1], 'entry.payload');
  const signature = asBytes(outer[2], 'entry.signature', 64);
  const f = asArray(decode(header, 'header'), 'header', 11);
  if (f.length !== 11) reject('malformed', 'header: expected 11 fields');
  if (f[0] !== 1) reject('unsupported-version', `entry version ${String(f[0])} is not supported`);
  if (f[1] !== SUITE) reject('unsupported-version', `crypto suite ${String(f[1])} is not supported`);
  const kind = asUint(f[2], 'header.kind');
  if (!KINDS.has(kind)) reject('malformed', `header.kind ${kind} is unknown`);
  // Built once, in its final shape: a provider decodes every entry it is sent.
  const h: Omit<Entry, 'id'> = {
    kind: kind as Kind,
    space: asBytes(f[3], 'header.space', 32),
    doc: asBytes(f[4], 'header.doc'),
    device: asBytes(f[5], 'header.device', 32),
    seq: asUint(f[6], 'header.seq'),
    prev: asBytes(f[7], 'header.prev'),
    basis: asBytes(f[8], 'header.basis'),
    time: asUint(f[9], 'header.time'),
    header,
    payload,
    signature,
    bytes,
  };
  const size = asUint(f[10], 'header.size');
  if (size !== payload.length) reject('malformed', 'header.size does not match the payload');
  if (size > MAX_PAYLOAD) reject('too-large', `payload of ${size} bytes exceeds ${MAX_PAYLOAD}`);
  if (h.seq < 1) reject('malformed', 'header.seq starts at 1');
  if (h.prev.length !== (h.seq === 1 ? 0 : 32)) reject('malformed', 'header.prev must be empty for seq 1, else 32 bytes');
  const isMembership = h.kind === Kind.membership;
  if (h.doc.length !== (isMembership ? 0 : 16)) reject('malformed', 'header.doc must be 16 bytes (empty for membership)');
  if (h.basis.length !== (isMembership ? 0 : 32)) reject('malformed', 'header.basis must be 32 bytes (empty for membership)');
  return h;
}

/** Decodes and verifies a batch, verifying signatures in parallel where the platform can. */
export async function readEntries(batch: Uint8Array[]): Promise<({ entry: Entry } | { error: unknown })[]> {
  const out: ({ entry: Entry } | { error: unknown })[] = batch.map((b) => {
    try {
      return { entry: decodeEntry(b) };
    } catch (error) {
      return { error };
    }
  });
  const decoded = out.flatMap((o, i) => ('entry' in o ? [{ i, e: o.entry }] : []));
  const ok = await verifyMany(decoded.map(({ e }) => ({ signature: e.signature, message: e.id, publicKey: e.device })));
  decoded.forEach(({ i }, k) => {
    if (!ok[k]) out[i] = { error: new FreeholdError('bad-signature', 'entry signature does not verify') };
  });
  return out;
}

