import {
  createAccount,
  IDENTITY_DOMAIN,
  logBytes,
  newBoxKey,
  signRecord,
  SUITE,
  verifyLog,
  type DeviceKeys,
  type IdentityOp,
  type IdentityState,
} from '@freehold/core';

/**
 * An attacker's identity log: its own valid account with records appended as raw signed bytes, skipping every
 * check the honest code path makes, exactly as a script would craft them.
 */
export class ForgedLog {
  readonly records: Uint8Array[];
  readonly device: DeviceKeys;
  readonly account: Uint8Array;
  private head: Uint8Array;

  constructor() {
    const acct = createAccount('attacker', Date.now());
    this.records = logBytes(acct.state);
    this.device = acct.device;
    this.account = acct.state.account;
    this.head = acct.state.head;
  }

  append(op: IdentityOp, time = Date.now()): this {
    const body = { v: 1, suite: SUITE, account: this.account, seq: this.records.length, prev: this.head, time, op };
    const rec = signRecord(IDENTITY_DOMAIN, body, this.device.sign);
    this.records.push(rec.bytes);
    this.head = rec.id;
    return this;
  }

  /** Adds someone else's device key to this account, optionally with a proof lifted from the victim's log. */
  addForeignDevice(victim: IdentityState, device: Uint8Array, withVictimProof: boolean): this {
    const info = [...victim.devices.values()].find((d) => d.device.every((b, i) => b === device[i]))!;
    const lifted = victim.records.map((r) => r.body.op).find((op) => op.t === 'add-device' && op.device.every((b, i) => b === device[i]));
    const op: IdentityOp = {
      t: 'add-device',
      device,
      box: info.box,
      name: 'mine now',
      key: { version: 1, publicKey: verifyLog(this.records).keys[0]!.publicKey, seals: [] },
    };
    if (withVictimProof && lifted?.t === 'add-device' && lifted.proof) op.proof = lifted.proof;
    return this.append(op);
  }

  revoke(device: Uint8Array, cut: number): this {
    const next = newBoxKey();
    return this.append({ t: 'revoke-device', device, cut, key: { version: 2, publicKey: next.publicKey, seals: [], prev: new Uint8Array(40) } });
  }
}
