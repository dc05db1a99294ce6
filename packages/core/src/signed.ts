import { concat, utf8 } from './bytes.js';
import { asArray, asBytes, decode, encode } from './codec.js';
import { reject } from './errors.js';
import { sha256, sign, verify, type SigningKey } from './crypto/suite.js';

/**
 * A signed record: the body is encoded once, its id is SHA-256 over a domain label and those exact bytes, and
 * the signature is over the id. Verifiers never re-encode anything; they hash the bytes they received.
 */
export interface Signed {
  id: Uint8Array;
  body: Uint8Array;
  signer: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

const domains = new Map<string, Uint8Array>();

export function signedId(domain: string, ...parts: Uint8Array[]): Uint8Array {
  let prefix = domains.get(domain);
  if (!prefix) domains.set(domain, (prefix = utf8(`freehold/v1/${domain}\0`)));
  return sha256(concat(prefix, ...parts));
}

export function signRecord(domain: string, body: unknown, key: SigningKey): Signed {
  const bodyBytes = encode(body);
  const id = signedId(domain, bodyBytes);
  const signature = sign(id, key.seed);
  return { id, body: bodyBytes, signer: key.publicKey, signature, bytes: encode([bodyBytes, key.publicKey, signature]) };
}

/** Reads a signed record; `trusted` skips the signature (and hashes lazily) for bytes this replica verified before storing them. */
export function readRecord(domain: string, bytes: Uint8Array, what: string, trusted = false): Signed {
  const [body, signer, signature, ...rest] = asArray(decode(bytes, what), what, 3);
  if (rest.length) reject('malformed', `${what}: unexpected fields`);
  const rec = {
    body: asBytes(body, `${what}.body`),
    signer: asBytes(signer, `${what}.signer`, 32),
    signature: asBytes(signature, `${what}.signature`, 64),
    bytes,
  };
  if (trusted) {
    // Verified before it was stored: hashed only when its id is asked for (opening a replica reads every log).
    let id: Uint8Array | undefined;
    return Object.defineProperty(rec, 'id', { get: () => (id ??= signedId(domain, rec.body)), enumerable: true }) as Signed;
  }
  const id = signedId(domain, rec.body);
  if (!verify(rec.signature, id, rec.signer)) reject('bad-signature', `${what}: signature does not verify`);
  return { ...rec, id };
}
