import { describe, expect, it } from 'vitest';
import {
  addDevice,
  chooseLog,
  createAccount,
  decodeCard,
  encode,
  encodeCard,
  liveDevices,
  logBytes,
  newDeviceKeys,
  openAccountKeys,
  recoveryKeys,
  revokeDevice,
  rotateRecovery,
  toHex,
  verifyLog,
  beginRecovery,
  accountOfRecovery,
  possessionProof,
} from '@freehold/core';
import { secretToPhrase, phraseToSecret } from '@freehold/core/words';

const now = () => Date.now();

describe('identity log', () => {
  it('verifies from genesis; the account id is fixed by the phrase and survives key changes', () => {
    const acct = createAccount('laptop', now());
    const state = decodeCard(encodeCard(acct.state));
    expect(toHex(state.account)).toBe(toHex(acct.state.account));
    expect(toHex(accountOfRecovery(recoveryKeys(phraseToSecret(secretToPhrase(acct.recoverySecret)))))).toBe(toHex(state.account));
    expect(liveDevices(state).map((d) => d.name)).toEqual(['laptop']);
    const phone = newDeviceKeys();
    addDevice(state, acct.device.sign, acct.accountSecret, { sign: phone.sign.publicKey, box: phone.box.publicKey, name: 'phone', proof: possessionProof(acct.state.account, phone) }, now());
    const { accountSecret } = revokeDevice(state, acct.device.sign, acct.accountSecret, phone.sign.publicKey, 0, now());
    const again = verifyLog(logBytes(state));
    expect(toHex(again.account)).toBe(toHex(acct.state.account));
    expect(liveDevices(again).map((d) => d.name)).toEqual(['laptop']);
    expect(again.keys.length).toBe(2);
    // The laptop opens both account key versions; the revoked phone opens only the first.
    const laptopKeys = openAccountKeys(again, acct.device.box);
    expect(toHex(laptopKeys.get(2)!)).toBe(toHex(accountSecret));
    expect(toHex(laptopKeys.get(1)!)).toBe(toHex(acct.accountSecret));
    expect([...openAccountKeys(again, phone.box).keys()]).toEqual([1]);
    // The recovery key opens every version, walking the chain back.
    expect(openAccountKeys(again, recoveryKeys(acct.recoverySecret).box).size).toBe(2);
  });

  it('rejects a tampered record, a record from another account and a record by a stranger', () => {
    const acct = createAccount('laptop', now());
    const other = createAccount('laptop', now());
    const records = logBytes(acct.state);
    const tampered = records[1]!.slice();
    tampered[20]! ^= 1;
    expect(() => verifyLog([records[0]!, tampered])).toThrow();
    expect(() => verifyLog([records[0]!, logBytes(other.state)[1]!])).toThrow(/another account|link/);
    const stranger = newDeviceKeys();
    const copy = verifyLog(records);
    expect(() => addDevice(copy, stranger.sign, acct.accountSecret, { sign: stranger.sign.publicKey, box: stranger.box.publicKey, name: 'x', proof: possessionProof(acct.state.account, stranger) }, now())).toThrow(
      /live device|recovery claim/,
    );
    expect(() => decodeCard(encode(['nonsense']))).toThrow();
  });

  it('a recovery claim adds a device only while its recovery key is current', () => {
    const acct = createAccount('laptop', now());
    const stale = beginRecovery(acct.recoverySecret, 'old-phrase device');
    rotateRecovery(acct.state, acct.device.sign, acct.accountSecret, now());
    const state = verifyLog(logBytes(acct.state));
    const secret = openAccountKeys(state, acct.device.box).get(1)!;
    expect(() =>
      addDevice(state, stale.device.sign, secret, { sign: stale.device.sign.publicKey, box: stale.device.box.publicKey, name: 'x', claim: stale.claim }, now()),
    ).toThrow(/live device|recovery claim/);
  });

  it('forks resolve the same way everywhere, and a revoked device cannot fork its way back', () => {
    const acct = createAccount('laptop', now());
    const phone = newDeviceKeys();
    addDevice(acct.state, acct.device.sign, acct.accountSecret, { sign: phone.sign.publicKey, box: phone.box.publicKey, name: 'phone', proof: possessionProof(acct.state.account, phone) }, now());
    const base = logBytes(acct.state);
    const honest = verifyLog(base);
    revokeDevice(honest, acct.device.sign, acct.accountSecret, phone.sign.publicKey, 0, now());
    // The phone, about to be revoked, signs a competing record at the same position.
    const rogue = verifyLog(base);
    const tablet = newDeviceKeys();
    addDevice(rogue, phone.sign, acct.accountSecret, { sign: tablet.sign.publicKey, box: tablet.box.publicKey, name: 'tablet', proof: possessionProof(acct.state.account, tablet) }, now());
    expect(chooseLog(honest, rogue)).toBe(honest);
    expect(chooseLog(rogue, honest)).toBe(honest);
    // Two honest concurrent additions: both sides pick the same one.
    const a = verifyLog(base);
    const b = verifyLog(base);
    const d1 = newDeviceKeys();
    const d2 = newDeviceKeys();
    addDevice(a, acct.device.sign, acct.accountSecret, { sign: d1.sign.publicKey, box: d1.box.publicKey, name: 'd1', proof: possessionProof(acct.state.account, d1) }, now());
    addDevice(b, phone.sign, acct.accountSecret, { sign: d2.sign.publicKey, box: d2.box.publicKey, name: 'd2', proof: possessionProof(acct.state.account, d2) }, now());
    expect(toHex(chooseLog(a, b).head)).toBe(toHex(chooseLog(b, a).head));
    // A longer log that extends the other wins.
    expect(chooseLog(verifyLog(base), honest)).toBe(honest);
  });
});
