import { equal, reject, type HandleRow, type Replica, type Store } from '@freehold/core';

export const HANDLE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const DAY_MS = 24 * 3600_000;

export interface HandlePolicy {
  /** Most names one account may hold here, names it dropped included until they are released. */
  maxHandles: number;
  /** How long a dropped name stays reserved, from when this provider first saw its holder's log drop it. */
  graceMs: number;
}

export const DEFAULT_HANDLE_POLICY: HandlePolicy = { maxHandles: 3, graceMs: 30 * DAY_MS };

const days = (ms: number): string => `${+(ms / DAY_MS).toFixed(3)} day${ms === DAY_MS ? '' : 's'}`;

/**
 * A provider's handle directory: `name@host` → account, answered only while the holder's identity log claims the
 * name. A name the holder's log drops stays reserved for the grace period, so people who knew it are not pointed
 * at someone else the moment it is dropped, and is then free for anyone. The provider notices a drop when the
 * holder registers or claims again, or when anyone looks the name up or asks for it.
 */
export class HandleDirectory {
  constructor(
    private readonly replica: Replica,
    private readonly host: string,
    private readonly policy: HandlePolicy,
  ) {}

  private get store(): Store {
    return this.replica.store;
  }

  /** Brings a held name's drop record in line with its holder's log; returns whether the log claims it. */
  private async check(row: HandleRow): Promise<boolean> {
    const claimed = this.replica.contact(row.account)?.handles.includes(`${row.name}@${this.host}`) ?? false;
    if (claimed !== (row.dropped === undefined)) await this.store.markHandleDropped(row.name, row.account, claimed ? null : Date.now());
    return claimed;
  }

  /** Notes which of an account's names its (newer) log has dropped or claims again. */
  async review(account: Uint8Array): Promise<void> {
    for (const row of await this.store.handlesOf(account)) await this.check(row);
  }

  /** Gives `name` to an account whose log claims it, within the cap, unless another account holds it. */
  async claim(name: string, account: Uint8Array): Promise<void> {
    await this.review(account);
    const held = await this.store.handle(name);
    if (held && !equal(held.account, account)) await this.check(held);
    const { maxHandles: max, graceMs } = this.policy;
    const result = await this.store.claimHandle(name, account, { max, releasedBefore: Date.now() - graceMs });
    if (result === 'over-limit') {
      reject('quota-exceeded', `an account may hold at most ${max} handle${max === 1 ? '' : 's'} on ${this.host} (a dropped one counts for ${days(graceMs)})`);
    }
    if (result === 'taken') {
      const dropped = (await this.store.handle(name))?.dropped;
      if (dropped === undefined) reject('forbidden-role', `${name}@${this.host} is already taken`);
      reject('forbidden-role', `${name}@${this.host} was dropped by its holder and is free from ${new Date(dropped + graceMs).toISOString()}`);
    }
  }

  /** The account holding a name here, whether or not its log still claims it. */
  async holder(name: string): Promise<Uint8Array | undefined> {
    return HANDLE_NAME.test(name) ? (await this.store.handle(name))?.account : undefined;
  }

  /** The account a name points to, if its log still claims it. */
  async lookup(name: string): Promise<Uint8Array | undefined> {
    if (!HANDLE_NAME.test(name)) return undefined;
    const row = await this.store.handle(name);
    return row && (await this.check(row)) ? row.account : undefined;
  }
}
