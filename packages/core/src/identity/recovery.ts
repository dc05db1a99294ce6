import { equal } from '../bytes.js';
import { reject } from '../errors.js';
import { boxKeyFromSecret } from '../crypto/suite.js';
import { recoveryKeys } from '../crypto/phrase.js';
import type { Replica } from '../replica.js';
import { accountOfRecovery, addDevice, newDeviceKeys, openAccountKeys, recoveryClaim, type DeviceKeys } from './account.js';
import { accountKey, deviceOf, type IdentityState } from './state.js';

/**
 * A device being recovered from the phrase alone. The phrase names the account and signs a claim for this
 * device's new keys; the claim is added to the identity log as soon as the replica holds that log (after an
 * import or a sync). Until then the recovery box key is kept to open the account key; it is dropped after.
 */
export interface PendingRecovery {
  account: Uint8Array;
  device: DeviceKeys;
  name: string;
  claim: Uint8Array;
  recoveryBoxSecret: Uint8Array;
}

export function beginRecovery(recoverySecret: Uint8Array, name: string, account?: Uint8Array): PendingRecovery {
  const rk = recoveryKeys(recoverySecret);
  const acct = account ?? accountOfRecovery(rk);
  const device = newDeviceKeys();
  return { account: acct, device, name, claim: recoveryClaim(rk, acct, device), recoveryBoxSecret: rk.box.secretKey };
}

/** Refuses a phrase that a `recovery rotate` replaced: its claim would not be accepted in the log. */
export function requireCurrentPhrase(state: IdentityState, p: PendingRecovery): void {
  if (!equal(boxKeyFromSecret(p.recoveryBoxSecret).publicKey, state.recoveryBox)) {
    reject('bad-phrase', 'this recovery phrase was replaced by a newer one: recover with the current phrase');
  }
}

/** Adds the recovered device to the account's log once the replica has it. Returns false while it does not. */
export async function completeRecovery(replica: Replica, p: PendingRecovery): Promise<boolean> {
  const state = replica.contact(p.account);
  if (!state) return false;
  if (deviceOf(state, p.device.sign.publicKey)) return true;
  requireCurrentPhrase(state, p);
  const secrets = openAccountKeys(state, boxKeyFromSecret(p.recoveryBoxSecret));
  const current = [...secrets.values()].find((s) => equal(boxKeyFromSecret(s).publicKey, accountKey(state).publicKey))!;
  addDevice(state, p.device.sign, current, { sign: p.device.sign.publicKey, box: p.device.box.publicKey, name: p.name, claim: p.claim }, replica.now());
  await replica.commitIdentity(state);
  return true;
}
