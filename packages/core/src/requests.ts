import { asBytes, asRecord, asString, asUint, decode, encode } from './codec.js';
import { reject } from './errors.js';
import type { SigningKey } from './crypto/suite.js';
import { readRecord, signRecord } from './signed.js';
import { decodeCard, deviceOf, type IdentityState } from './identity/state.js';

/** How far a signed request's time may be from the provider's clock. */
export const REQUEST_WINDOW_MS = 5 * 60_000;

/**
 * A request to a provider (register, claim a handle) signed by a live device of the account, bound to the
 * provider's host and to a time, and carrying the account's card so the provider can check it from genesis.
 */
export function signRequest(kind: string, host: string, payload: Record<string, unknown>, card: Uint8Array, key: SigningKey, time: number): Uint8Array {
  const request = signRecord('request', { kind, host, time, payload }, key);
  return encode({ card, request: request.bytes });
}

export interface VerifiedRequest {
  account: IdentityState;
  card: Uint8Array;
  device: Uint8Array;
  payload: Record<string, unknown>;
}

export function verifyRequest(bytes: Uint8Array, kind: string, host: string, now: number): VerifiedRequest {
  const outer = asRecord(decode(bytes, 'request'), 'request');
  const card = asBytes(outer.card, 'request.card');
  const account = decodeCard(card);
  const rec = readRecord('request', asBytes(outer.request, 'request.request'), 'request');
  const body = asRecord(decode(rec.body, 'request body'), 'request body');
  if (asString(body.kind, 'request.kind', 64) !== kind) reject('invalid-argument', `expected a ${kind} request`);
  const forHost = asString(body.host, 'request.host', 256);
  if (forHost !== host) reject('invalid-argument', `request is for ${forHost}, this provider is ${host}`);
  const time = asUint(body.time, 'request.time');
  if (Math.abs(time - now) > REQUEST_WINDOW_MS) reject('clock-skew', 'request time is too far from the provider’s clock (check your clock)');
  const device = deviceOf(account, rec.signer);
  if (!device || device.revoked) reject('unknown-author', 'request is not signed by a live device of the account');
  return { account, card, device: rec.signer, payload: asRecord(body.payload, 'request.payload') };
}
