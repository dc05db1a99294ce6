import {
  asBytes,
  asRecord,
  asString,
  decode,
  derive,
  encode,
  newDeviceKeys,
  open,
  randomBytes,
  reject,
  seal,
  sha256,
  toHex,
  utf8,
  type DeviceKeys,
} from '@freehold/core';
import { base32crockford } from '@scure/base';

/**
 * Linking a browser to an existing account with a one-time code shown on a device already in it. The code keys
 * the two boxes the provider relays, so the provider can neither read nor forge them.
 */
export const newPairingCode = (): string => base32crockford.encode(randomBytes(5)).replace(/(.{4})(.{4})/, '$1-$2');

function keysOf(code: string): { id: string; key: Uint8Array } {
  const c = code.toUpperCase().replace(/[^0-9A-Z]/g, '');
  if (c.length !== 8) reject('invalid-argument', 'a linking code has 8 letters and digits, like K7QP-3XMA');
  const secret = utf8(`freehold-pairing:${c}`);
  return { id: toHex(sha256(secret)), key: derive(sha256(secret), 'pairing') };
}

async function put(provider: string, id: string, slot: string, body: Uint8Array): Promise<void> {
  const res = await fetch(`${provider}/v1/pair/${id}/${slot}`, { method: 'PUT', body: body.slice().buffer as ArrayBuffer });
  if (res.status === 409) reject('invalid-argument', 'that code was already used');
  if (!res.ok) reject('unavailable', `the provider answered ${res.status}`);
}

async function poll(provider: string, id: string, slot: string, signal?: AbortSignal): Promise<Uint8Array> {
  for (;;) {
    if (signal?.aborted) reject('invalid-argument', 'linking cancelled');
    const res = await fetch(`${provider}/v1/pair/${id}/${slot}`);
    if (res.ok) return new Uint8Array(await res.arrayBuffer());
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** On the new device: offer fresh device keys under the code and wait for the account to take them. */
export async function requestLink(provider: string, code: string, name: string, signal?: AbortSignal): Promise<{ account: Uint8Array; keys: DeviceKeys }> {
  const { id, key } = keysOf(code);
  const keys = newDeviceKeys();
  await put(provider, id, 'request', seal(key, encode({ sign: keys.sign.publicKey, box: keys.box.publicKey, name })));
  const answer = asRecord(decode(open(key, await poll(provider, id, 'answer', signal)), 'pairing answer'), 'pairing answer');
  return { account: asBytes(answer.account, 'account', 32), keys };
}

export interface LinkRequest {
  device: { sign: Uint8Array; box: Uint8Array; name: string };
  /** Tells the new device which account it joined: call once it is in the identity log the provider holds. */
  answer(account: Uint8Array): Promise<void>;
}

/** On the device already in the account: wait for the new device's keys (then add it and answer). */
export async function awaitLinkRequest(provider: string, code: string, signal?: AbortSignal): Promise<LinkRequest> {
  const { id, key } = keysOf(code);
  const req = asRecord(decode(open(key, await poll(provider, id, 'request', signal)), 'pairing request'), 'pairing request');
  return {
    device: { sign: asBytes(req.sign, 'sign', 32), box: asBytes(req.box, 'box', 32), name: asString(req.name, 'name', 200) },
    answer: (account) => put(provider, id, 'answer', seal(key, encode({ account }))),
  };
}
