import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../bytes.js';
import { boxKeyFromSecret, derive, open, randomBytes, seal, sealTo, type BoxKey } from '../crypto/suite.js';
import type { EpochKey, Seal } from './ops.js';

/**
 * Epoch secrets: each derives the content key (XChaCha20-Poly1305 for entries), a box key (so appenders can
 * write to an inbox they cannot read) and the chain key that lets a newer epoch unlock older ones.
 */
export const EPOCH_SEAL = 'epoch';
export const contentKey = (secret: Uint8Array): Uint8Array => derive(secret, 'epoch/content');
export const epochBoxKey = (secret: Uint8Array): BoxKey => boxKeyFromSecret(derive(secret, 'epoch/box'));
const chainKey = (secret: Uint8Array): Uint8Array => derive(secret, 'epoch/chain');
/** Document ids are keyed by the space's first epoch so a provider cannot confirm a guessed document name. */
export const namesKey = (genesisSecret: Uint8Array): Uint8Array => derive(genesisSecret, 'doc-names');

export interface Recipient {
  account: Uint8Array;
  accountKey: Uint8Array;
}

export function sealEpoch(secret: Uint8Array, r: Recipient): Seal {
  return { account: r.account, to: r.accountKey, box: sealTo(r.accountKey, secret, EPOCH_SEAL) };
}

export function newEpoch(readers: Recipient[], previous: { epoch: Uint8Array; secret: Uint8Array }[]): { secret: Uint8Array; key: EpochKey } {
  const secret = randomBytes(32);
  return {
    secret,
    key: {
      publicKey: epochBoxKey(secret).publicKey,
      seals: readers.map((r) => sealEpoch(secret, r)),
      prev: previous.map((p) => ({ epoch: p.epoch, box: seal(chainKey(secret), p.secret) })),
    },
  };
}

export const openChained = (laterSecret: Uint8Array, box: Uint8Array): Uint8Array => open(chainKey(laterSecret), box);

/** In a public space anyone may compute document ids: they are keyed by the space id itself. */
export const publicDocId = (space: Uint8Array, name: string): Uint8Array => hmac(sha256, space, utf8(name)).subarray(0, 16);

export const privateDocId = (names: Uint8Array, name: string): Uint8Array => hmac(sha256, names, utf8(name)).subarray(0, 16);
