import { describe, expect, it } from 'vitest';
import {
  addDevice,
  createAccount,
  decodeCard,
  encodeCard,
  isFreeholdError,
  liveDevices,
  logBytes,
  MAX_DEVICE_NAME,
  nameDevice,
  newDeviceKeys,
  possessionProof,
  revokeDevice,
  verifyLog,
  type RejectReason,
} from '@freehold/core';

const now = () => Date.now();

/** An account with a laptop (its first device) and a phone. */
function account() {
  const acct = createAccount('laptop', now());
  const phone = newDeviceKeys();
  addDevice(acct.state, acct.device.sign, acct.accountSecret, { sign: phone.sign.publicKey, box: phone.box.publicKey, name: 'phone', proof: possessionProof(acct.state.account, phone) }, now());
  return { ...acct, phone };
}

const names = (records: Uint8Array[]) => liveDevices(verifyLog(records)).map((d) => d.name);

function refused(f: () => unknown, reason: RejectReason, message: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(isFreeholdError(e, reason), String(e)).toBe(true);
    expect((e as Error).message).toMatch(message);
    return;
  }
  expect.fail(`expected a ${reason} refusal`);
}

describe('name-device records', () => {
  it('rename a live device for every reader of the log, while the log before them still verifies', () => {
    const { state, device, phone } = account();
    const before = logBytes(state);
    nameDevice(state, device.sign, phone.sign.publicKey, 'Work phone', now());
    // A device may rename itself too.
    nameDevice(state, phone.sign, device.sign.publicKey, 'Old laptop', now());
    expect(names(logBytes(state))).toEqual(['Old laptop', 'Work phone']);
    // Through a contact card, as another account's replica reads it.
    expect(liveDevices(decodeCard(encodeCard(state))).map((d) => d.name)).toEqual(['Old laptop', 'Work phone']);
    expect(names(before)).toEqual(['laptop', 'phone']);
  });

  it('refuses a record by a stranger, by a revoked device, for a revoked or unknown device, or with a bad name', () => {
    const { state, device, phone, accountSecret } = account();
    const stranger = newDeviceKeys();
    const copy = () => verifyLog(logBytes(state));
    refused(() => nameDevice(copy(), stranger.sign, phone.sign.publicKey, 'mine now', now()), 'unknown-author', /live device/);
    refused(() => nameDevice(copy(), device.sign, stranger.sign.publicKey, 'ghost', now()), 'bad-chain', /not a live device/);
    refused(() => nameDevice(copy(), device.sign, phone.sign.publicKey, '  ', now()), 'malformed', /cannot be empty/);
    refused(() => nameDevice(copy(), device.sign, phone.sign.publicKey, 'x'.repeat(MAX_DEVICE_NAME + 1), now()), 'malformed', /op\.name/);
    expect(() => nameDevice(copy(), device.sign, phone.sign.publicKey, 'x'.repeat(MAX_DEVICE_NAME), now())).not.toThrow();

    const revoked = copy();
    revokeDevice(revoked, device.sign, accountSecret, phone.sign.publicKey, 0, now());
    refused(() => nameDevice(verifyLog(logBytes(revoked)), phone.sign, device.sign.publicKey, 'hijacked', now()), 'unknown-author', /live device/);
    refused(() => nameDevice(verifyLog(logBytes(revoked)), device.sign, phone.sign.publicKey, 'back again', now()), 'bad-chain', /not a live device/);
  });

  it('a record whose name was changed after signing breaks the log', () => {
    const { state, device, phone } = account();
    const record = nameDevice(state, device.sign, phone.sign.publicKey, 'Work phone', now());
    const forged = Buffer.from(record);
    const at = forged.indexOf('Work phone');
    expect(at).toBeGreaterThan(0);
    forged.write('Evil phone', at, 'latin1');
    const records = logBytes(state);
    refused(() => verifyLog([...records.slice(0, -1), new Uint8Array(forged)]), 'bad-signature', /signature/);
  });
});
