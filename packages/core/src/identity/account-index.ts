import { LRUCache } from 'lru-cache';
import { toHex } from '../bytes.js';
import { deviceOf, type DeviceInfo, type IdentityState } from './state.js';

/** Identity logs held in memory only (not stored) are kept within this many bytes of encoded log. */
export const TRANSIENT_LOG_BUDGET = 32 << 20;

/**
 * The identity logs a replica knows and which account owns each device key. A key is owned by the account
 * whose log added it first, judged by the time in the adding record and then by account id, so every replica
 * that knows the same logs picks the same owner whatever order it learnt them in. Every add-device record
 * carries the key holder's own signature, so only that holder can make a key appear in two logs.
 *
 * Logs are `kept` (the replica stores them) or `transient`: a provider holds logs that arrive with sessions in
 * a bounded cache until something it stores needs them, so strangers cannot make it keep their logs.
 */
export class AccountIndex {
  private readonly kept = new Map<string, IdentityState>();
  private readonly transient: LRUCache<string, IdentityState>;
  private readonly owners = new Map<string, IdentityState>();

  constructor(budget = TRANSIENT_LOG_BUDGET) {
    this.transient = new LRUCache<string, IdentityState>({
      maxSize: budget,
      sizeCalculation: (s) => Math.max(1, s.records.reduce((n, r) => n + r.signed.bytes.length, 0)),
      dispose: (s, key, why) => {
        if (why !== 'set') this.disown(s, key);
      },
    });
  }

  get(account: string): IdentityState | undefined {
    return this.kept.get(account) ?? this.transient.get(account);
  }

  isKept(account: string): boolean {
    return this.kept.has(account);
  }

  /** Every log the replica stores. */
  keptStates(): IterableIterator<IdentityState> {
    return this.kept.values();
  }

  set(s: IdentityState, keep: boolean): void {
    const k = toHex(s.account);
    if (keep || this.kept.has(k)) {
      if (this.transient.has(k)) this.transient.delete(k);
      this.kept.set(k, s);
    } else {
      this.transient.set(k, s);
      // A log larger than the whole budget is not held at all.
      if (!this.transient.has(k)) return;
    }
    this.own(s);
  }

  /** The account that owns a device key, if any known log lists it. */
  owner(device: Uint8Array): IdentityState | undefined {
    return this.owners.get(toHex(device));
  }

  private own(s: IdentityState): void {
    const account = toHex(s.account);
    for (const d of s.devices.values()) {
      const k = toHex(d.device);
      const cur = this.owners.get(k);
      if (cur && toHex(cur.account) !== account && !claimsFirst(d, account, deviceOf(cur, d.device)!, toHex(cur.account))) continue;
      this.owners.set(k, s);
    }
  }

  private disown(s: IdentityState, account: string): void {
    for (const d of s.devices.values()) {
      const k = toHex(d.device);
      if (this.owners.get(k) && toHex(this.owners.get(k)!.account) === account) this.owners.delete(k);
    }
  }
}

function claimsFirst(a: DeviceInfo, aAccount: string, b: DeviceInfo, bAccount: string): boolean {
  return a.addedTime < b.addedTime || (a.addedTime === b.addedTime && aAccount < bAccount);
}
