import { boxKeyFromSecret, decode, encode, signingKeyFromSeed, asBytes, asRecord, asString, type DeviceKeys, type PendingRecovery } from '@freehold/core';
import { keyStore as db } from './keystore.js';

/**
 * This browser's device keys. The secrets are stored encrypted under an AES-GCM key that WebCrypto created as
 * non-extractable: script can use it to unwrap at start-up, but the raw wrapping key can never be read out.
 */
export interface StoredIdentity {
  account: Uint8Array;
  keys: DeviceKeys;
  name: string;
  recovery?: PendingRecovery;
}

async function wrappingKey(): Promise<CryptoKey> {
  const d = await db();
  let key = (await d.get('keys', 'wrap')) as CryptoKey | undefined;
  if (!key) {
    key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await d.put('keys', key, 'wrap');
  }
  return key;
}

export async function saveIdentity(id: StoredIdentity): Promise<void> {
  const body: Record<string, unknown> = { account: id.account, sign: id.keys.sign.seed, signPublic: id.keys.sign.publicKey, box: id.keys.box.secretKey, boxPublic: id.keys.box.publicKey, name: id.name };
  if (id.recovery) body.recovery = { claim: id.recovery.claim, box: id.recovery.recoveryBoxSecret, name: id.recovery.name };
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await wrappingKey(), encode(body) as Uint8Array<ArrayBuffer>));
  await (await db()).put('keys', { iv, sealed }, 'device');
}

export async function loadIdentity(): Promise<StoredIdentity | undefined> {
  const stored = (await (await db()).get('keys', 'device')) as { iv: Uint8Array<ArrayBuffer>; sealed: Uint8Array<ArrayBuffer> } | undefined;
  if (!stored) return undefined;
  const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: stored.iv }, await wrappingKey(), stored.sealed));
  const r = asRecord(decode(plain, 'stored identity'), 'stored identity');
  const seed = asBytes(r.sign, 'sign', 32);
  const secretKey = asBytes(r.box, 'box', 32);
  // Deriving the public keys costs the page's first base-point multiplications (tens of ms cold) before the first
  // screen; they are stored beside the secrets, under the same seal. Identities saved before they were are derived.
  const keys: DeviceKeys = {
    sign: r.signPublic === undefined ? signingKeyFromSeed(seed) : { seed, publicKey: asBytes(r.signPublic, 'signPublic', 32) },
    box: r.boxPublic === undefined ? boxKeyFromSecret(secretKey) : { secretKey, publicKey: asBytes(r.boxPublic, 'boxPublic', 32) },
  };
  const account = asBytes(r.account, 'account', 32);
  const id: StoredIdentity = { account, keys, name: asString(r.name, 'name') };
  if (r.recovery) {
    const rec = asRecord(r.recovery, 'recovery');
    id.recovery = { account, device: keys, claim: asBytes(rec.claim, 'claim'), recoveryBoxSecret: asBytes(rec.box, 'box'), name: asString(rec.name, 'name') };
  }
  return id;
}

export async function forgetIdentity(): Promise<void> {
  await (await db()).delete('keys', 'device');
}
