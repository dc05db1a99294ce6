import {
  asBytes,
  asRecord,
  asString,
  concat,
  decode,
  derive,
  encode,
  FreeholdError,
  fromHex,
  isRejectReason,
  newDeviceKeys,
  open,
  possessionProof,
  randomBytes,
  reject,
  seal,
  toHex,
  utf8,
  type Device,
  type DeviceKeys,
} from '@freehold/core';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { post, signedFor } from './http.js';

/**
 * Linking a new device to an account, confirmed by the person who holds both devices. An entry of its own
 * (`@freehold/client/pairing`): its fingerprints are words of the BIP39 list, which a screen that links no device,
 * such as the web app's timeline, need not load.
 *
 * 1. A device of the account makes a code (13 Crockford base32 characters: 65 random bits) and opens a pairing
 *    at its provider with a signed `pair` request: the mailbox id and an *offer* box holding the account id.
 * 2. The new device, given the code, reads the offer, puts a *request* box (its public keys, a name, and its
 *    signature agreeing to join that account, without which no identity log can list its key) and shows a
 *    fingerprint: four words from a hash over the code, the account id and its keys.
 * 3. The device of the account reads the request and shows the four words it computes from what it received.
 *    Only once the person confirms that both screens show the same words does it add the new device to the
 *    identity log and put the *answer* box, which tells the new device that it is in.
 *
 * The mailbox id and one key per slot are derived from the code under their own labels (`pairing/mailbox`,
 * `pairing/offer`, `pairing/request`, `pairing/answer`), so a box fits only its own slot. The provider sees the
 * id; finding the code from it takes 2^64 HKDF evaluations on average (millennia on 64 cores), while a code
 * lives ten minutes, so a slow KDF would only slow phones down. Whoever learns the code anyway and puts their own
 * request instead carries other keys, so the two screens show different words.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Characters in a linking code; each carries 5 bits. */
export const CODE_LENGTH = 13;
/** How long a device polls for the other side: the provider keeps a pairing this long. */
const PAIRING_MS = 10 * 60_000;
const POLL_MS = 1000;

/** A fresh code, grouped for reading aloud and typing: `7K3Q-PXMA-9TZ2R`. */
export function newPairingCode(): string {
  // Each byte's low five bits are uniform, so every character is an unbiased pick from the 32.
  const c = Array.from(randomBytes(CODE_LENGTH), (b) => ALPHABET[b & 31]).join('');
  return `${c.slice(0, 4)}-${c.slice(4, 8)}-${c.slice(8)}`;
}

/** A code as typed: case, spaces and dashes do not matter, and O, I and L read as 0, 1 and 1. */
export function parsePairingCode(code: string): string {
  const c = code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (c.length !== CODE_LENGTH || [...c].some((ch) => !ALPHABET.includes(ch))) {
    reject('invalid-argument', `a linking code has ${CODE_LENGTH} letters and digits, like 7K3Q-PXMA-9TZ2R`);
  }
  return c;
}

function keysOf(code: string) {
  const secret = utf8(parsePairingCode(code));
  return {
    secret,
    id: toHex(derive(secret, 'pairing/mailbox')),
    offer: derive(secret, 'pairing/offer'),
    request: derive(secret, 'pairing/request'),
    answer: derive(secret, 'pairing/answer'),
  };
}

/** The four words both screens show: 44 bits of a hash over the code, the account and the new device's keys. */
export function linkFingerprint(code: string, account: Uint8Array, device: { sign: Uint8Array; box: Uint8Array }): string {
  const { secret } = keysOf(code);
  const h = derive(concat(secret, asBytes(account, 'account', 32), asBytes(device.sign, 'sign', 32), asBytes(device.box, 'box', 32)), 'pairing/fingerprint', 6);
  const n = h.reduce((acc, b) => acc * 256 + b, 0);
  return [0, 1, 2, 3].map((i) => wordlist[Math.floor(n / 2 ** (11 * i)) % 2048]).join(' ');
}

async function refused(res: Response): Promise<never> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  const reason = isRejectReason(body.error ?? '') ? (body.error as never) : 'unavailable';
  throw new FreeholdError(reason, body.message ?? `the provider answered ${res.status}`);
}

async function fetchOr(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return reject('unavailable', `cannot reach ${new URL(url).origin}`);
  }
}

async function put(provider: string, id: string, slot: string, box: Uint8Array): Promise<void> {
  const res = await fetchOr(`${provider}/v1/pair/${id}/${slot}`, { method: 'PUT', body: box.slice().buffer as ArrayBuffer });
  if (!res.ok) await refused(res);
}

async function take(provider: string, id: string, slot: string): Promise<Uint8Array | undefined> {
  const res = await fetchOr(`${provider}/v1/pair/${id}/${slot}`);
  if (res.status === 404) return undefined;
  if (!res.ok) await refused(res);
  return new Uint8Array(await res.arrayBuffer());
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });

/** Waits for the other device to fill a slot; a dropped connection is retried until the pairing expires. */
async function poll(provider: string, id: string, slot: string, signal?: AbortSignal): Promise<Uint8Array> {
  const deadline = Date.now() + PAIRING_MS;
  for (;;) {
    if (signal?.aborted) reject('invalid-argument', 'linking cancelled');
    if (Date.now() > deadline) reject('not-found', 'the linking code expired; show a new one');
    const box = await take(provider, id, slot).catch((e: unknown) => {
      if (e instanceof FreeholdError && e.reason === 'unavailable') return undefined;
      throw e;
    });
    if (box) return box;
    await sleep(POLL_MS, signal);
  }
}

function unseal(key: Uint8Array, box: Uint8Array, what: string): Record<string, unknown> {
  try {
    return asRecord(decode(open(key, box), what), what);
  } catch {
    return reject('decrypt-failed', `the ${what} does not open with this code (another device wrote it); start again with a new code`);
  }
}

export interface LinkRequest {
  /** The keys, name and possession proof the new device sent. */
  device: { sign: Uint8Array; box: Uint8Array; name: string; proof: Uint8Array };
  /** Four words the new device shows too: the person compares them before `accept`. */
  fingerprint: string;
  /** Tells the new device it is in: call once it is in the identity log the provider holds. */
  accept(): Promise<void>;
  /** Tells the new device that the person did not confirm the link. */
  refuse(): Promise<void>;
}

export interface LinkOffer {
  /** Shown to the person, who types it on the new device. */
  code: string;
  /** Waits for the new device's request (it has not been added to anything yet). */
  request(signal?: AbortSignal): Promise<LinkRequest>;
}

/** On a device of the account: opens a pairing at `provider` (where the account is registered) under a new code. */
export async function offerLink(provider: string, device: Device): Promise<LinkOffer> {
  const code = newPairingCode();
  const k = keysOf(code);
  const payload = { id: fromHex(k.id), offer: seal(k.offer, encode({ account: device.account })) };
  await post(`${provider}/v1/pair`, await signedFor(provider, 'pair', payload, device));
  return {
    code,
    async request(signal) {
      const req = unseal(k.request, await poll(provider, k.id, 'request', signal), 'linking request');
      const sent = {
        sign: asBytes(req.sign, 'sign', 32),
        box: asBytes(req.box, 'box', 32),
        name: asString(req.name, 'name', 100),
        proof: asBytes(req.proof, 'proof', 64),
      };
      const answer = (accepted: boolean) => put(provider, k.id, 'answer', seal(k.answer, encode({ accepted })));
      return {
        device: sent,
        fingerprint: linkFingerprint(code, device.account, sent),
        accept: () => answer(true),
        refuse: () => answer(false),
      };
    },
  };
}

export interface PendingLink {
  account: Uint8Array;
  keys: DeviceKeys;
  /** Four words to show; the other device shows the same ones if nobody came between. */
  fingerprint: string;
  /** Resolves once the other device has added this one; rejects if the person refused there. */
  accepted(signal?: AbortSignal): Promise<void>;
}

/** On the new device: offers fresh device keys under the code shown on a device of the account. */
export async function requestLink(provider: string, code: string, name: string): Promise<PendingLink> {
  const k = keysOf(code);
  const offer = await take(provider, k.id, 'offer');
  if (!offer) reject('not-found', 'no device is showing that code: check it, or show a new one');
  const account = asBytes(unseal(k.offer, offer, 'linking offer').account, 'account', 32);
  const keys = newDeviceKeys();
  const mine = { sign: keys.sign.publicKey, box: keys.box.publicKey };
  const proof = possessionProof(account, keys);
  await put(provider, k.id, 'request', seal(k.request, encode({ ...mine, name: name.slice(0, 100), proof })));
  return {
    account,
    keys,
    fingerprint: linkFingerprint(code, account, mine),
    async accepted(signal) {
      const answer = unseal(k.answer, await poll(provider, k.id, 'answer', signal), 'linking answer');
      if (answer.accepted !== true) reject('invalid-argument', 'the link was not confirmed on the other device');
    },
  };
}
