import { chooseLog, decodeCard, encodeCard, FreeholdError, fromBase64, fromId, isRejectReason, reject, signRequest, toId, type Device, type IdentityState } from '@freehold/core';
import { boundedFetch } from './bounded-fetch.js';
import { providerInfo } from './provider-info.js';

/** POSTs a signed request; a refusal becomes the FreeholdError the provider named. */
export async function post(url: string, body: Uint8Array): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body: body.slice().buffer as ArrayBuffer, headers: { 'content-type': 'application/cbor' } });
  } catch {
    return reject('unavailable', `cannot reach ${new URL(url).origin} (is it running?)`);
  }
  const json = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok) throw new FreeholdError(isRejectReason(json.error ?? '') ? (json.error as never) : 'unavailable', `${new URL(url).host}: ${json.message ?? res.statusText}`);
  return json;
}

export const hostOf = (provider: string): string => new URL(provider).host;

/** A request signed by this device for the provider at `provider`, bound to the provider's canonical name. */
export async function signedFor(provider: string, kind: string, payload: Record<string, unknown>, device: Device): Promise<Uint8Array> {
  const { host } = await providerInfo(provider);
  return signRequest(kind, host, payload, encodeCard(device.identity()), device.keys.sign, Date.now());
}

/** Registers this account with a provider; the caller has already listed the provider's canonical URL in the log. */
export async function register(provider: string, device: Device): Promise<{ quota: number; used: number }> {
  return (await post(`${provider}/v1/accounts`, await signedFor(provider, 'register', {}, device))) as { quota: number; used: number };
}

export async function claimHandle(provider: string, device: Device, name: string): Promise<string> {
  return ((await post(`${provider}/v1/handles`, await signedFor(provider, 'claim-handle', { name }, device))) as { handle: string }).handle;
}

/**
 * An inbox owner's settings at one provider: `cap` bounds what senders the provider does not host may leave
 * (bytes), `purge` deletes what others left so far. Answers the cap in force and how many entries went.
 */
export async function inboxSettings(
  provider: string,
  device: Device,
  space: Uint8Array,
  change: { cap?: number; purge?: boolean },
): Promise<{ cap: number; purged: number }> {
  const payload: Record<string, unknown> = { space };
  if (change.cap !== undefined) payload.cap = change.cap;
  if (change.purge) payload.purge = true;
  return (await post(`${provider}/v1/inbox`, await signedFor(provider, 'inbox', payload, device))) as { cap: number; purged: number };
}

/** Local hosts speak plain HTTP; everything else HTTPS. */
export function handleUrl(handle: string): { name: string; host: string; url: string } {
  const m = /^([a-z0-9][a-z0-9_-]{0,31})@([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d+)?$/i.exec(handle.trim());
  if (!m) return reject('invalid-argument', `"${handle}" is not a handle like name@host`);
  const host = `${m[2]}${m[3] ?? ''}`.toLowerCase();
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(m[2]!.toLowerCase());
  return { name: m[1]!.toLowerCase(), host, url: `${local ? 'http' : 'https'}://${host}/.well-known/freehold/handles/${m[1]!.toLowerCase()}` };
}

/**
 * Resolves name@host and verifies the answer: the card must verify from its genesis, be the account the
 * directory names, and list this very handle in its own signed log, so a provider cannot redirect a handle.
 */
export async function resolveHandle(handle: string): Promise<IdentityState> {
  const { name, host, url } = handleUrl(handle);
  let res: Response;
  try {
    res = await fetch(url);
  } catch {
    return reject('unavailable', `cannot reach ${host}`);
  }
  if (res.status === 404) reject('not-found', `${name}@${host} does not exist`);
  if (!res.ok) reject('unavailable', `${host} answered ${res.status}`);
  const body = (await res.json()) as { account?: string; card?: string };
  if (typeof body.account !== 'string' || typeof body.card !== 'string') reject('malformed', `${host} sent an invalid directory entry`);
  const state = decodeCard(fromBase64(body.card, 'directory card'));
  if (toId(state.account) !== toId(fromId(body.account, 'account'))) reject('bad-signature', `${host} names an account that its card does not prove`);
  if (!state.handles.includes(`${name}@${host}`)) reject('bad-signature', `the account's own signed log does not claim ${name}@${host}: the provider's directory is wrong`);
  return state;
}

/** An account's identity log as a provider holds it (verified here from its genesis). */
export async function fetchCard(provider: string, account: Uint8Array): Promise<Uint8Array | undefined> {
  const res = await boundedFetch(`${provider}/.well-known/freehold/accounts/${toId(account)}`).catch((e: Error) =>
    reject('unavailable', e instanceof FreeholdError ? e.message : `cannot reach ${provider}`),
  );
  if (res.status === 404) return undefined;
  if (!res.ok) reject('unavailable', `${new URL(provider).host} answered ${res.status}`);
  const card = fromBase64(((await res.json()) as { card: string }).card, 'card');
  decodeCard(card);
  return card;
}

/**
 * Refreshes what this replica knows of an account from the first of `providers` that holds its log (its own
 * providers, or this account's, which mirror logs of the accounts they deal with): the newest signed log is the
 * only record of where an account lives, so a client asks again whenever a provider of it does not answer.
 * Returns whether any provider had the log; unreachable ones are skipped.
 */
export async function refreshLog(device: Device, account: Uint8Array, providers: Iterable<string>): Promise<boolean> {
  for (const url of new Set(providers)) {
    const card = await fetchCard(url, account).catch(() => undefined);
    if (!card) continue;
    await device.replica.addCard(card);
    return true;
  }
  return false;
}

/** Where an account's identity log was looked for, and the newest log found. */
export interface FoundLog {
  /** The newest log any provider served (the replicas' fork rule decides between diverging ones). */
  state: IdentityState | undefined;
  /** Providers that served a log of the account. */
  holders: string[];
  /** Providers that answered, whether or not they had the log. */
  answered: string[];
  /** Providers that could not be reached, each with why. */
  unreachable: { url: string; error: string }[];
}

/**
 * Looks for an account's identity log with nothing but its id: asks `first` (any providers: the user's guess, or
 * one that merely deals with the account), then every provider the log names, and those a newer log names in
 * turn, keeping the newest. A provider can serve a stale log but not forge one, so asking every provider the
 * account lists is what finds its current devices, providers and recovery key.
 */
export async function findLog(account: Uint8Array, first: Iterable<string>): Promise<FoundLog> {
  const found: FoundLog = { state: undefined, holders: [], answered: [], unreachable: [] };
  const asked = new Set<string>();
  let queue = [...first];
  while (queue.length) {
    const fresh = [...new Set(queue)].filter((u) => !asked.has(u));
    for (const u of fresh) asked.add(u);
    const cards = await Promise.all(
      fresh.map((url) =>
        fetchCard(url, account).then(
          (card) => {
            found.answered.push(url);
            return card;
          },
          (e: Error) => void found.unreachable.push({ url, error: e.message }),
        ),
      ),
    );
    for (const [i, card] of cards.entries()) {
      if (!card) continue;
      found.holders.push(fresh[i]!);
      const state = decodeCard(card);
      found.state = found.state ? chooseLog(found.state, state) : state;
    }
    queue = found.state?.providers.filter((u) => !asked.has(u)) ?? [];
  }
  return found;
}

export interface OutboxItem {
  entry: string;
  space: string;
  time: number;
  delivery: { state: 'pending' } | { state: 'delivered'; at: number; to: string } | { state: 'failed'; reason: string; message: string; to: string };
}

/** What this account wrote into other accounts' spaces through a provider, and whether it has reached them. */
export async function outbox(provider: string, device: Device): Promise<OutboxItem[]> {
  return ((await post(`${provider}/v1/outbox`, await signedFor(provider, 'outbox', {}, device))) as { items: OutboxItem[] }).items;
}
