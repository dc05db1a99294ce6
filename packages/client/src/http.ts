import {
  asArray,
  asRecord,
  asString,
  asUint,
  chooseLog,
  compare,
  decodeCard,
  encodeCard,
  FreeholdError,
  fromBase64,
  fromId,
  isRejectReason,
  reject,
  signRequest,
  toId,
  type Device,
  type IdentityState,
} from '@freehold/core';
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

/** Asks a provider to delete everything it holds of this account (see the provider's deleteAccount). */
export async function deleteAccountAt(provider: string, device: Device): Promise<{ spaces: number; entries: number }> {
  return (await post(`${provider}/v1/accounts/delete`, await signedFor(provider, 'delete-account', {}, device))) as { spaces: number; entries: number };
}

/**
 * What a provider would give this account if it registered (nothing is stored, and the log need not list the
 * provider yet): a device checks that its data fits before it names the provider in its log.
 */
export async function registrationTerms(provider: string, device: Device): Promise<{ quota: number; used: number }> {
  return (await post(`${provider}/v1/accounts`, await signedFor(provider, 'register', { check: true }, device))) as { quota: number; used: number };
}

/** What a provider holds of one of the account's spaces: its entry count and reconciliation fingerprint (hex). */
export interface SpaceFingerprint {
  space: string;
  entries: number;
  fingerprint: string;
}

/** The fingerprints of every space the account created, as a provider holds them (it answers a page at a time). */
export async function fingerprints(provider: string, device: Device): Promise<SpaceFingerprint[]> {
  const out: SpaceFingerprint[] = [];
  await holdingPages(provider, device, {}, (r) => out.push({ space: asString(r.space, 'space', 64), entries: asUint(r.entries, 'entries'), fingerprint: asString(r.fingerprint, 'fingerprint', 64) }));
  return out;
}

/** How many entries a provider holds of every space the account created: what watching a copy grow needs. */
export async function entryCounts(provider: string, device: Device): Promise<{ space: string; entries: number }[]> {
  const out: { space: string; entries: number }[] = [];
  await holdingPages(provider, device, { counts: true }, (r) => out.push({ space: asString(r.space, 'space', 64), entries: asUint(r.entries, 'entries') }));
  return out;
}

async function holdingPages(provider: string, device: Device, ask: Record<string, unknown>, each: (r: Record<string, unknown>) => void): Promise<void> {
  let after: Uint8Array | undefined;
  for (;;) {
    const payload = after ? { ...ask, after } : ask;
    const page = asRecord(await post(`${provider}/v1/fingerprints`, await signedFor(provider, 'fingerprints', payload, device)), 'fingerprints');
    for (const [i, item] of asArray(page.spaces, 'fingerprints.spaces', 100_000).entries()) each(asRecord(item, `fingerprints.spaces[${i}]`));
    if (page.next === undefined) return;
    const next = fromId(asString(page.next, 'fingerprints.next', 64), 'space');
    if (after && compare(next, after) <= 0) reject('malformed', `${hostOf(provider)} sent fingerprint pages out of order`);
    after = next;
  }
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

/** Whether an identity log claims a handle now or claimed it in an earlier record. */
const everClaimed = (state: IdentityState, handle: string): boolean =>
  state.handles.includes(handle) || state.records.some((r) => r.body.op.t === 'set-handles' && r.body.op.handles.includes(handle));

/**
 * Resolves name@host and verifies the answer: the card must verify from its genesis, be the account the
 * directory names, and list this very handle in its own signed log, so a provider cannot redirect a handle. For
 * a while after an account moved away, its former provider answers with the newest log, `moved`: that log need
 * only have claimed the handle once (the caller sees the handle missing from `handles`, and where it lives now).
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
  const body = (await res.json()) as { account?: string; card?: string; moved?: boolean };
  if (typeof body.account !== 'string' || typeof body.card !== 'string') reject('malformed', `${host} sent an invalid directory entry`);
  const state = decodeCard(fromBase64(body.card, 'directory card'));
  if (toId(state.account) !== toId(fromId(body.account, 'account'))) reject('bad-signature', `${host} names an account that its card does not prove`);
  const wanted = `${name}@${host}`;
  const claims = body.moved === true ? everClaimed(state, wanted) : state.handles.includes(wanted);
  if (!claims) reject('bad-signature', `the account's own signed log does not claim ${wanted}: the provider's directory is wrong`);
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
  // A provider may answer with anything: only a verified log of this very account is taken.
  if (toId(decodeCard(card).account) !== toId(account)) reject('malformed', `${new URL(provider).host} answered with another account's log`);
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

/** How far an entry written into another account's space got, as the provider that passes it on says. */
export type Delivery =
  | { state: 'pending' }
  | { state: 'delivered'; at: number; to: string }
  | { state: 'failed'; reason: string; message: string; to: string };
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

/**
 * Follows an account's log from provider to provider (see findLog), starting from those the log held here names,
 * and keeps the newest found. Answers whether any provider had it.
 */
export async function followLog(device: Device, account: Uint8Array): Promise<boolean> {
  const found = await findLog(account, device.replica.contact(account)?.providers ?? []);
  if (found.state) await device.replica.addCard(encodeCard(found.state));
  return found.holders.length > 0;
}

export interface OutboxItem {
  /** Hex, like `doc`. */
  entry: string;
  space: string;
  doc: string;
  time: number;
  delivery: Delivery;
}

/**
 * What this account wrote into other accounts' spaces through a provider, and whether it has reached them: the
 * newest entries, or those at `sent` (a space and a document id each, at most 200).
 */
export async function outbox(provider: string, device: Device, sent?: { space: Uint8Array; doc: Uint8Array }[]): Promise<OutboxItem[]> {
  const payload = sent ? { sent: sent.map((s) => [s.space, s.doc]) } : {};
  const answer = asRecord(await post(`${provider}/v1/outbox`, await signedFor(provider, 'outbox', payload, device)), 'outbox');
  return asArray(answer.items, 'outbox items', 1000).map(readOutboxItem);
}

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);

/** One item of a provider's outbox answer, checked field by field (it is shown to people as it is). */
function readOutboxItem(v: unknown, i: number): OutboxItem {
  const r = asRecord(v, `outbox[${i}]`);
  const hex = (x: unknown, field: string, n: number) => {
    const text = asString(x, field, n);
    return HEX(n).test(text) ? text : reject('malformed', `${field}: expected ${n} hex digits`);
  };
  const d = asRecord(r.delivery, `outbox[${i}].delivery`);
  const to = () => {
    const url = asString(d.to, 'delivery.to', 512);
    return /^https?:\/\/[^/\s]+$/.test(url) ? url : reject('malformed', 'delivery.to: expected a provider URL');
  };
  const delivery: Delivery =
    d.state === 'pending'
      ? { state: 'pending' }
      : d.state === 'delivered'
        ? { state: 'delivered', at: asUint(d.at, 'delivery.at'), to: to() }
        : d.state === 'failed'
          ? { state: 'failed', reason: asString(d.reason, 'delivery.reason', 64), message: asString(d.message, 'delivery.message', 1024), to: to() }
          : reject('malformed', `outbox[${i}]: unknown delivery state`);
  return {
    entry: hex(r.entry, 'outbox entry', 64),
    space: toId(fromId(asString(r.space, 'outbox space', 64), 'outbox space')),
    doc: hex(r.doc, 'outbox doc', 32),
    time: asUint(r.time, 'outbox time'),
    delivery,
  };
}
