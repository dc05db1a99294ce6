import { createPrivateKey, createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { useCryptoBackend, type CryptoBackend } from '@freehold/core';

// DER prefixes that wrap a raw 32-byte Ed25519 key as SPKI (public) and PKCS#8 (private seed).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Bounded so a flood of distinct authors cannot grow memory without limit. */
class Cache<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly max: number) {}
  get(raw: Uint8Array, make: () => T): T {
    const k = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
    let v = this.map.get(k);
    if (v === undefined) {
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
      v = make();
      this.map.set(k, v);
    }
    return v;
  }
}

/**
 * A public key as OpenSSL will use it, or null if core's strict verifier would reject every signature under it
 * (non-canonical or small-order points), so native and pure replicas accept exactly the same signatures.
 */
const publicKeys = new Cache<KeyObject | null>(10_000);
const privateKeys = new Cache<KeyObject>(64);

function publicKeyObject(raw: Uint8Array): KeyObject | null {
  return publicKeys.get(raw, () => {
    try {
      if (ed25519.Point.fromBytes(raw).isSmallOrder()) return null;
      return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    } catch {
      return null;
    }
  });
}

// Group order L of Ed25519, little-endian; a signature's S must be below it (no malleable signatures).
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');
function isCanonicalS(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = L[i]!;
    if (s !== l) return s < l;
  }
  return false;
}

/** OpenSSL's Ed25519 and SHA-256 through node:crypto: the same results as core's pure code, several times faster. */
export const nodeBackend: CryptoBackend = {
  sign(message, seed) {
    const key = privateKeys.get(seed, () => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
    return new Uint8Array(sign(null, message, key));
  },
  verify(signature, message, publicKey) {
    const key = publicKeyObject(publicKey);
    return key !== null && isCanonicalS(signature) && verify(null, message, key, signature);
  },
  verifyMany(items) {
    // The callback form runs on libuv's thread pool: every core verifies while the main thread goes on.
    return Promise.all(
      items.map(
        (c) =>
          new Promise<boolean>((resolve) => {
            const key = publicKeyObject(c.publicKey);
            if (key === null || c.signature.length !== 64 || !isCanonicalS(c.signature)) return resolve(false);
            verify(null, c.message, key, c.signature, (err, ok) => resolve(!err && ok));
          }),
      ),
    );
  },
  // One-shot: no Hash object per call, which was a third of the cost of hashing an entry.
  sha256: (data) => new Uint8Array(hash('sha256', data, 'buffer')),
};

export function installNativeCrypto(): void {
  useCryptoBackend(nodeBackend);
}
