import { chooseLog, decodeCard, equal, reject, type IdentityState } from '@freehold/core';
import { fetchCard } from './http.js';

/** What one provider of the account holds of it now, as far as its served identity log tells. */
export interface ProviderState {
  url: string;
  status: 'current' | 'behind' | 'ahead' | 'missing' | 'unreachable';
  error?: string;
}

/** A provider URL as typed (`https://host`, a trailing path ignored), or a typed error saying what is wrong. */
export function providerUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return reject('invalid-argument', `"${text}" is not a URL (e.g. http://localhost:8787)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') reject('invalid-argument', 'a provider URL starts with http:// or https://');
  return u.origin;
}

/** Asks one provider for the account's log and compares it with this device's. */
export async function probeProvider(url: string, me: IdentityState): Promise<ProviderState> {
  try {
    const card = await fetchCard(url, me.account);
    if (!card) return { url, status: 'missing' };
    const theirs = decodeCard(card);
    if (equal(theirs.head, me.head)) return { url, status: 'current' };
    return { url, status: chooseLog(me, theirs) === me ? 'behind' : 'ahead' };
  } catch (e) {
    return { url, status: 'unreachable', error: (e as Error).message };
  }
}

/** Every provider the account's log names, probed at once. */
export function providerStates(me: IdentityState): Promise<ProviderState[]> {
  return Promise.all(me.providers.map((url) => probeProvider(url, me)));
}

/** Whether a provider other than `url` holds the account and answers (so losing `url` loses nothing). */
export const othersServe = (list: ProviderState[], url: string): boolean =>
  list.some((x) => x.url !== url && x.status !== 'unreachable' && x.status !== 'missing');
