import { equal } from '../bytes.js';
import { reject } from '../errors.js';
import {
  boxKeyFromSecret,
  derive,
  newBoxKey,
  newSigningKey,
  open,
  openSealed,
  seal,
  sealTo,
  sign,
  SUITE,
  type BoxKey,
  type SigningKey,
} from '../crypto/suite.js';
import { newRecoverySecret, recoveryKeys, type RecoveryKeys } from '../crypto/phrase.js';
import { signRecord } from '../signed.js';
import type { AccountKeyGrant, IdentityOp } from './records.js';
import {
  accountKey,
  appendVerified,
  claimMessage,
  IDENTITY_DOMAIN,
  liveDevices,
  MAX_CARD_BYTES,
  possessionMessage,
  verifyLog,
  type IdentityState,
} from './state.js';

/** What a device keeps to itself: its keys never leave it. */
export interface DeviceKeys {
  sign: SigningKey;
  box: BoxKey;
}

export const newDeviceKeys = (): DeviceKeys => ({ sign: newSigningKey(), box: newBoxKey() });

const SEAL_LABEL = 'account-key';

function body(state: IdentityState | undefined, op: IdentityOp, time: number) {
  return {
    v: 1,
    suite: SUITE,
    account: state ? state.account : new Uint8Array(0),
    seq: state ? state.records.length : 0,
    prev: state ? state.head : new Uint8Array(0),
    time,
    op,
  };
}

function appendNew(state: IdentityState, op: IdentityOp, signer: SigningKey, time: number): Uint8Array {
  const rec = signRecord(IDENTITY_DOMAIN, body(state, op, time), signer);
  const size = state.records.reduce((n, r) => n + r.signed.bytes.length + 8, rec.bytes.length);
  if (size > MAX_CARD_BYTES) reject('too-large', `the identity log would pass ${MAX_CARD_BYTES} bytes`);
  appendVerified(state, rec.bytes);
  return rec.bytes;
}

function grantFor(version: number, secret: Uint8Array, recipients: Uint8Array[], prevSecret?: Uint8Array): AccountKeyGrant {
  const grant: AccountKeyGrant = {
    version,
    publicKey: boxKeyFromSecret(secret).publicKey,
    seals: recipients.map((to) => ({ to, box: sealTo(to, secret, SEAL_LABEL) })),
  };
  if (prevSecret) grant.prev = seal(derive(secret, 'account-key/chain'), prevSecret);
  return grant;
}

export interface NewAccount {
  state: IdentityState;
  recoverySecret: Uint8Array;
  device: DeviceKeys;
  accountSecret: Uint8Array;
}

/**
 * A new account: genesis (which depends only on the recovery keys, so the phrase alone names the account) and
 * the first device, added by the recovery key with the first account key sealed to the device and the recovery key.
 */
export function createAccount(deviceName: string, time: number): NewAccount {
  const recoverySecret = newRecoverySecret();
  const rk = recoveryKeys(recoverySecret);
  const state = verifyLog([genesisRecord(rk)]);
  const device = newDeviceKeys();
  const accountSecret = newBoxKey().secretKey;
  appendNew(
    state,
    {
      t: 'add-device',
      device: device.sign.publicKey,
      box: device.box.publicKey,
      name: deviceName,
      key: grantFor(1, accountSecret, [device.box.publicKey, rk.box.publicKey]),
      proof: possessionProof(state.account, device),
    },
    rk.sign,
    time,
  );
  return { state, recoverySecret, device, accountSecret };
}

export function genesisRecord(rk: RecoveryKeys): Uint8Array {
  const op: IdentityOp = { t: 'genesis', recoverySign: rk.sign.publicKey, recoveryBox: rk.box.publicKey };
  return signRecord(IDENTITY_DOMAIN, body(undefined, op, 0), rk.sign).bytes;
}

/** The account id a recovery phrase names (for accounts whose recovery key was never rotated). */
export const accountOfRecovery = (rk: RecoveryKeys): Uint8Array => verifyLog([genesisRecord(rk)]).account;

/** A device's agreement to join this account, signed with its own key (see possessionMessage). */
export const possessionProof = (account: Uint8Array, device: DeviceKeys): Uint8Array =>
  sign(possessionMessage(account, device.sign.publicKey, device.box.publicKey), device.sign.seed);

/** A device asking to join: its public keys and, unless it signs the record itself, its possession proof. */
export interface NewDevice {
  sign: Uint8Array;
  box: Uint8Array;
  name: string;
  proof?: Uint8Array;
  claim?: Uint8Array;
}

export function addDevice(state: IdentityState, signer: SigningKey, accountSecret: Uint8Array, newDevice: NewDevice, time: number): Uint8Array {
  const cur = accountKey(state);
  const op: IdentityOp = {
    t: 'add-device',
    device: newDevice.sign,
    box: newDevice.box,
    name: newDevice.name,
    key: { version: cur.version, publicKey: cur.publicKey, seals: [{ to: newDevice.box, box: sealTo(newDevice.box, accountSecret, SEAL_LABEL) }] },
  };
  if (newDevice.claim) op.claim = newDevice.claim;
  if (newDevice.proof) op.proof = newDevice.proof;
  return appendNew(state, op, signer, time);
}

/** A recovery key's permission for a specific new device to join; checked against the recovery key current at use. */
export const recoveryClaim = (rk: RecoveryKeys, account: Uint8Array, device: DeviceKeys): Uint8Array =>
  sign(claimMessage(account, device.sign.publicKey, device.box.publicKey), rk.sign.seed);

/** Revokes a device and rotates the account key so the revoked device cannot open anything sealed later. */
export function revokeDevice(
  state: IdentityState,
  signer: SigningKey,
  accountSecret: Uint8Array,
  device: Uint8Array,
  cut: number,
  time: number,
): { record: Uint8Array; accountSecret: Uint8Array } {
  const next = newBoxKey().secretKey;
  const remaining = liveDevices(state).filter((d) => !equal(d.device, device)).map((d) => d.box);
  const key = grantFor(state.keys.length + 1, next, [...remaining, state.recoveryBox], accountSecret);
  const record = appendNew(state, { t: 'revoke-device', device, cut, key }, signer, time);
  return { record, accountSecret: next };
}

export function rotateRecovery(
  state: IdentityState,
  signer: SigningKey,
  accountSecret: Uint8Array,
  time: number,
): { record: Uint8Array; recoverySecret: Uint8Array } {
  const recoverySecret = newRecoverySecret();
  const rk = recoveryKeys(recoverySecret);
  const cur = accountKey(state);
  const key = { version: cur.version, publicKey: cur.publicKey, seals: [{ to: rk.box.publicKey, box: sealTo(rk.box.publicKey, accountSecret, SEAL_LABEL) }] };
  const record = appendNew(state, { t: 'rotate-recovery', recoverySign: rk.sign.publicKey, recoveryBox: rk.box.publicKey, key }, signer, time);
  return { record, recoverySecret };
}

/**
 * Opens every account key version this box key can reach: the newest one sealed to it, then back along the
 * chain. Returns secrets by version.
 */
export function openAccountKeys(state: IdentityState, box: BoxKey): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let i = state.keys.length - 1; i >= 0; i--) {
    const grant = state.keys[i]!;
    const s = grant.seals.find((x) => equal(x.to, box.publicKey));
    if (!s) continue;
    let secret = openSealed(box, s.box, SEAL_LABEL);
    out.set(grant.version, secret);
    for (let j = i; j > 0; j--) {
      const g = state.keys[j]!;
      if (!g.prev) break;
      secret = open(derive(secret, 'account-key/chain'), g.prev);
      out.set(state.keys[j - 1]!.version, secret);
    }
    return out;
  }
  return reject('no-key', 'no account key of this account is sealed to this key (was the device revoked?)');
}

export function setProviders(state: IdentityState, signer: SigningKey, providers: string[], time: number): Uint8Array {
  return appendNew(state, { t: 'set-providers', providers }, signer, time);
}

export function setHandles(state: IdentityState, signer: SigningKey, handles: string[], time: number): Uint8Array {
  return appendNew(state, { t: 'set-handles', handles }, signer, time);
}

/** Gives a live device of the account a new name (see the `name-device` record). */
export function nameDevice(state: IdentityState, signer: SigningKey, device: Uint8Array, name: string, time: number): Uint8Array {
  return appendNew(state, { t: 'name-device', device, name }, signer, time);
}
