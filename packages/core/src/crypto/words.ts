import { entropyToMnemonic, mnemonicToEntropy, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { reject } from '../errors.js';

/**
 * The recovery secret as the 24 BIP39 words shown to the user. The words are an entry of their own
 * (`@freehold/core/words`), apart from the keys the secret derives (phrase.ts): the word list weighs as much as the
 * signing code, and a screen that shows no phrase, such as the web app's timeline, need not load it.
 */
export const secretToPhrase = (secret: Uint8Array): string => entropyToMnemonic(secret, wordlist);

export function phraseToSecret(phrase: string): Uint8Array {
  const normalized = phrase.trim().toLowerCase().split(/\s+/).join(' ');
  if (normalized.split(' ').length !== 24) reject('bad-phrase', 'the recovery phrase must have 24 words');
  if (!validateMnemonic(normalized, wordlist)) {
    reject('bad-phrase', 'the recovery phrase is not valid (a word is misspelt or out of order)');
  }
  return mnemonicToEntropy(normalized, wordlist);
}
