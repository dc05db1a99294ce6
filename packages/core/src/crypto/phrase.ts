import { entropyToMnemonic, mnemonicToEntropy, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { reject } from '../errors.js';
import { boxKeyFromSecret, derive, randomBytes, signingKeyFromSeed, type BoxKey, type SigningKey } from './suite.js';

/** The 256-bit recovery secret, shown to the user once as 24 BIP39 words. */
export function newRecoverySecret(): Uint8Array {
  return randomBytes(32);
}

export const secretToPhrase = (secret: Uint8Array): string => entropyToMnemonic(secret, wordlist);

export function phraseToSecret(phrase: string): Uint8Array {
  const normalized = phrase.trim().toLowerCase().split(/\s+/).join(' ');
  if (normalized.split(' ').length !== 24) reject('bad-phrase', 'the recovery phrase must have 24 words');
  if (!validateMnemonic(normalized, wordlist)) {
    reject('bad-phrase', 'the recovery phrase is not valid (a word is misspelt or out of order)');
  }
  return mnemonicToEntropy(normalized, wordlist);
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
