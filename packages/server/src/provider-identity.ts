import { FRAME_LIMITS, MAX_FRAME, MAX_PAYLOAD, PROTOCOL, randomBytes, signingKeyFromSeed, toId, type SigningKey, type Store } from '@freehold/core';

const KEY_META = 'provider-key';

/** What `GET /.well-known/freehold/provider` answers: who this provider is, under its canonical name. */
export interface ProviderDocument {
  /** The canonical base URL: what identity logs list and what signed requests and sessions name. */
  url: string;
  host: string;
  /** The provider's Ed25519 public key, base58. */
  key: string;
  protocols: string[];
  limits: Record<string, number>;
}

/**
 * The provider's own signing key, made on first start and kept in its store: what other providers will know it
 * by. It never signs anything of a user's.
 */
export async function providerKey(store: Store): Promise<SigningKey> {
  let seed = await store.getMeta(KEY_META);
  if (!seed) {
    seed = randomBytes(32);
    await store.setMeta(KEY_META, seed);
  }
  return signingKeyFromSeed(seed);
}

export function providerDocument(publicUrl: string, key: SigningKey): ProviderDocument {
  return {
    url: publicUrl,
    host: new URL(publicUrl).host,
    key: toId(key.publicKey),
    protocols: [PROTOCOL],
    limits: { frame: MAX_FRAME, payload: MAX_PAYLOAD, ...FRAME_LIMITS },
  };
}
