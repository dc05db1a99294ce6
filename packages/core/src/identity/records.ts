import { asArray, asBytes, asRecord, asString, asUint, decode } from '../codec.js';
import { reject } from '../errors.js';
import { SUITE } from '../crypto/suite.js';

/** The account key: an X25519 key shared by the account's devices, to which spaces seal their epoch keys. */
export interface AccountKeyGrant {
  version: number;
  publicKey: Uint8Array;
  /** The account secret sealed to each recipient (device box keys and the recovery box key). */
  seals: { to: Uint8Array; box: Uint8Array }[];
  /** The previous version's secret, encrypted under this one, so one secret unlocks the whole history. */
  prev?: Uint8Array;
}

export type IdentityOp =
  | { t: 'genesis'; recoverySign: Uint8Array; recoveryBox: Uint8Array }
  /**
   * `proof` is the added device's own signature over (account, device, box keys): no log can list a key whose
   * holder did not agree to join that account. A record the device signs itself needs no separate proof.
   */
  | { t: 'add-device'; device: Uint8Array; box: Uint8Array; name: string; key: AccountKeyGrant; claim?: Uint8Array; proof?: Uint8Array }
  | { t: 'revoke-device'; device: Uint8Array; cut: number; key: AccountKeyGrant }
  /** Renames a live device: the name shown for it from then on (the one `add-device` gave is kept in the log). */
  | { t: 'name-device'; device: Uint8Array; name: string }
  | { t: 'rotate-recovery'; recoverySign: Uint8Array; recoveryBox: Uint8Array; key: AccountKeyGrant }
  /** The providers that are home to this account's spaces, as base URLs (the whole list each time). */
  | { t: 'set-providers'; providers: string[] }
  /** The handles (name@host) this account claims; a provider's directory must agree with this list. */
  | { t: 'set-handles'; handles: string[] };

/** A device's name, in `add-device` and `name-device` alike, is at most this many UTF-16 units. */
export const MAX_DEVICE_NAME = 200;

export interface IdentityBody {
  v: 1;
  suite: number;
  /** Empty for the genesis record: the account id is the genesis record's id. */
  account: Uint8Array;
  seq: number;
  prev: Uint8Array;
  time: number;
  op: IdentityOp;
}

function readGrant(v: unknown, field: string): AccountKeyGrant {
  const r = asRecord(v, field);
  const grant: AccountKeyGrant = {
    version: asUint(r.version, `${field}.version`),
    publicKey: asBytes(r.publicKey, `${field}.publicKey`, 32),
    seals: asArray(r.seals, `${field}.seals`, 1000).map((s, i) => {
      const sr = asRecord(s, `${field}.seals[${i}]`);
      return { to: asBytes(sr.to, `${field}.seals[${i}].to`, 32), box: asBytes(sr.box, `${field}.seals[${i}].box`) };
    }),
  };
  if (r.prev !== undefined) grant.prev = asBytes(r.prev, `${field}.prev`);
  return grant;
}

export function readIdentityBody(bytes: Uint8Array): IdentityBody {
  const r = asRecord(decode(bytes, 'identity record'), 'identity record');
  if (r.v !== 1) reject('unsupported-version', `identity record version ${String(r.v)} is not supported`);
  if (r.suite !== SUITE) reject('unsupported-version', `crypto suite ${String(r.suite)} is not supported`);
  const o = asRecord(r.op, 'op');
  const t = asString(o.t, 'op.t');
  let op: IdentityOp;
  switch (t) {
    case 'genesis':
      op = { t, recoverySign: asBytes(o.recoverySign, 'op.recoverySign', 32), recoveryBox: asBytes(o.recoveryBox, 'op.recoveryBox', 32) };
      break;
    case 'add-device':
      op = {
        t,
        device: asBytes(o.device, 'op.device', 32),
        box: asBytes(o.box, 'op.box', 32),
        name: asString(o.name, 'op.name', MAX_DEVICE_NAME),
        key: readGrant(o.key, 'op.key'),
      };
      if (o.claim !== undefined) op.claim = asBytes(o.claim, 'op.claim', 64);
      if (o.proof !== undefined) op.proof = asBytes(o.proof, 'op.proof', 64);
      break;
    case 'revoke-device':
      op = { t, device: asBytes(o.device, 'op.device', 32), cut: asUint(o.cut, 'op.cut'), key: readGrant(o.key, 'op.key') };
      break;
    case 'name-device':
      op = { t, device: asBytes(o.device, 'op.device', 32), name: asString(o.name, 'op.name', MAX_DEVICE_NAME) };
      break;
    case 'rotate-recovery':
      op = {
        t,
        recoverySign: asBytes(o.recoverySign, 'op.recoverySign', 32),
        recoveryBox: asBytes(o.recoveryBox, 'op.recoveryBox', 32),
        key: readGrant(o.key, 'op.key'),
      };
      break;
    case 'set-providers':
      op = { t, providers: asArray(o.providers, 'op.providers', 32).map((u, i) => asString(u, `op.providers[${i}]`, 512)) };
      break;
    case 'set-handles':
      op = { t, handles: asArray(o.handles, 'op.handles', 32).map((h, i) => asString(h, `op.handles[${i}]`, 320)) };
      break;
    default:
      return reject('malformed', `unknown identity operation "${t}"`);
  }
  return {
    v: 1,
    suite: SUITE,
    account: asBytes(r.account, 'account'),
    seq: asUint(r.seq, 'seq'),
    prev: asBytes(r.prev, 'prev'),
    time: asUint(r.time, 'time'),
    op,
  };
}
