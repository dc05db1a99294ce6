import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import { concat, utf8 } from '../bytes.js';
import { reject } from '../errors.js';

/** Suite 1: Ed25519 · X25519 · XChaCha20-Poly1305 · SHA-256 · HKDF-SHA256. Carried by every signed structure. */
export const SUITE = 1;

/**
 * The operations a platform may accelerate. Core ships the audited pure-JS implementations; a Node or browser
 * runtime swaps in native ones (see @freehold/node) because native Ed25519 verify is an order of magnitude faster.
 */
export interface CryptoBackend {
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** Verifies many at once; a native backend spreads them over its worker threads. */
  verifyMany?(items: SignatureCheck[]): Promise<boolean[]>;
  sha256(data: Uint8Array): Uint8Array;
}

export interface SignatureCheck {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
}

export const pureBackend: CryptoBackend = {
  sign: (m, seed) => ed25519.sign(m, seed),
  verify: (sig, m, pub) => {
    try {
      return ed25519.verify(sig, m, pub, { zip215: false });
    } catch {
      return false;
    }
  },
  sha256: (d) => nobleSha256(d),
};

let backend: CryptoBackend = pureBackend;

export function useCryptoBackend(b: CryptoBackend): void {
  backend = b;
}

export const sign = (message: Uint8Array, seed: Uint8Array): Uint8Array => backend.sign(message, seed);
export const verify = (sig: Uint8Array, message: Uint8Array, pub: Uint8Array): boolean =>
  sig.length === 64 && pub.length === 32 && backend.verify(sig, message, pub);
export const sha256 = (data: Uint8Array): Uint8Array => backend.sha256(data);

export async function verifyMany(items: SignatureCheck[]): Promise<boolean[]> {
  const wellFormed = (c: SignatureCheck) => c.signature.length === 64 && c.publicKey.length === 32;
  if (backend.verifyMany) {
    const results = await backend.verifyMany(items);
    return results.map((ok, i) => ok && wellFormed(items[i]!));
  }
  return items.map((c) => verify(c.signature, c.message, c.publicKey));
}
export const randomBytes = (n: number): Uint8Array => nobleRandomBytes(n);

export interface SigningKey {
  seed: Uint8Array;
  publicKey: Uint8Array;
}
export interface BoxKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export const signingKeyFromSeed = (seed: Uint8Array): SigningKey => ({ seed, publicKey: ed25519.getPublicKey(seed) });
export const boxKeyFromSecret = (secretKey: Uint8Array): BoxKey => ({
  secretKey,
  publicKey: x25519.getPublicKey(secretKey),
});
export const newSigningKey = (): SigningKey => signingKeyFromSeed(randomBytes(32));
export const newBoxKey = (): BoxKey => boxKeyFromSecret(randomBytes(32));

/** Every derived key names its purpose, so no key can be confused for another. */
export function derive(secret: Uint8Array, label: string, length = 32, salt?: Uint8Array): Uint8Array {
  return hkdf(nobleSha256, secret, salt, utf8(`freehold/v1/${label}`), length);
}

export const NONCE = 24;
export const TAG = 16;

/** XChaCha20-Poly1305 with a random nonce stored in front of the ciphertext. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE);
  return concat(nonce, xchacha20poly1305(key, nonce, aad).encrypt(plaintext));
}

export function open(key: Uint8Array, box: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (box.length < NONCE + TAG) return reject('decrypt-failed', 'ciphertext too short');
  try {
    return xchacha20poly1305(key, box.subarray(0, NONCE), aad).decrypt(box.subarray(NONCE));
  } catch {
    return reject('decrypt-failed', 'ciphertext does not authenticate with this key');
  }
}

/**
 * Anonymous sealing to an X25519 public key: ephemeral key agreement, HKDF over both public keys, then AEAD.
 * Used for epoch keys sealed to members and for appenders writing to an inbox they cannot read.
 */
export function sealTo(recipient: Uint8Array, plaintext: Uint8Array, label: string, aad?: Uint8Array): Uint8Array {
  const eph = newBoxKey();
  const shared = x25519.getSharedSecret(eph.secretKey, recipient);
  const key = derive(shared, `seal/${label}`, 32, concat(eph.publicKey, recipient));
  return concat(eph.publicKey, seal(key, plaintext, aad));
}

export const SEAL_OVERHEAD = 32 + NONCE + TAG;

export function openSealed(box: BoxKey, sealed: Uint8Array, label: string, aad?: Uint8Array): Uint8Array {
  if (sealed.length < 32 + NONCE + TAG) return reject('decrypt-failed', 'sealed box too short');
  const ephPub = sealed.subarray(0, 32);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(box.secretKey, ephPub);
  } catch {
    return reject('decrypt-failed', 'sealed box has an invalid ephemeral key');
  }
  const key = derive(shared, `seal/${label}`, 32, concat(ephPub, box.publicKey));
  return open(key, sealed.subarray(32), aad);
}
