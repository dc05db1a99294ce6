import { boxKeyFromSecret, derive, randomBytes, signingKeyFromSeed, type BoxKey, type SigningKey } from './suite.js';

/** The 256-bit recovery secret, shown to the user once as 24 BIP39 words. */
export function newRecoverySecret(): Uint8Array {
  return randomBytes(32);
}

export interface RecoveryKeys {
  sign: SigningKey;
  box: BoxKey;
}

export function recoveryKeys(secret: Uint8Array): RecoveryKeys {
  return {
    sign: signingKeyFromSeed(derive(secret, 'recovery/sign')),
    box: boxKeyFromSecret(derive(secret, 'recovery/box')),
  };
}
