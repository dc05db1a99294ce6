import { asBytes, asUint, reject, toHex, toId, verifyRequest, type AccountRow, type Replica } from '@freehold/core';
import type { Logger } from 'pino';
import { deleteAccountData, type DeletedAccount } from './deletions.js';
import { HANDLE_NAME, type HandleDirectory } from './handles.js';
import type { InboxPolicy } from './inbox.js';
import type { Registrations } from './registrations.js';

export interface AccountRequestsDeps {
  host: string;
  publicUrl: string;
  defaultQuota: number;
  logger: Logger;
  replica: Replica;
  registered: Registrations;
  handles: HandleDirectory;
  inbox: InboxPolicy;
  hosts(account: Uint8Array): Promise<boolean>;
  /** Links to peer providers again: an account deleted here changes what this provider shares. */
  relink(): void;
}

/**
 * What an account asks of a provider with a request signed by one of its devices (see verifyRequest): to be
 * registered, to have what is held of it deleted, its inbox's settings, a handle.
 */
export class AccountRequests {
  constructor(private readonly d: AccountRequestsDeps) {}

  /**
   * Registers the account that signed the request, which must list this provider in its log. With `check` in the
   * payload nothing is stored and the log need not list it yet: the answer is the quota this provider would
   * give, so a device can see whether its data fits before it names a new provider in its log.
   */
  async register(request: Uint8Array): Promise<AccountRow> {
    const r = verifyRequest(request, 'register', this.d.host, Date.now());
    if (r.payload.check === true) {
      const held = await this.d.replica.store.getAccount(r.account.account);
      return held ?? { account: r.account.account, quota: this.d.defaultQuota, used: 0, created: Date.now() };
    }
    if (!r.account.providers.includes(this.d.publicUrl)) {
      reject('invalid-argument', `the account's identity log does not list ${this.d.publicUrl} as a provider`);
    }
    const held = await this.d.replica.store.getAccount(r.account.account);
    if (!held) {
      await this.d.replica.store.putAccount({ account: r.account.account, quota: this.d.defaultQuota, used: 0, created: Date.now() });
      this.d.logger.info({ event: 'register', account: toId(r.account.account) }, 'account registered');
    }
    this.d.registered.add(r.account.account);
    await this.d.replica.addCard(r.card);
    await this.d.handles.review(r.account.account);
    return (await this.d.replica.store.getAccount(r.account.account))!;
  }

  /**
   * An account deletes what this provider holds of it (see deleteAccountData), at a request from a live device
   * carrying a log that no longer lists this provider: the log that lists it is consent to be hosted here.
   */
  async deleteAccount(request: Uint8Array): Promise<DeletedAccount> {
    const r = verifyRequest(request, 'delete-account', this.d.host, Date.now());
    const account = r.account.account;
    if (!(await this.d.hosts(account))) reject('not-hosted', `account ${toId(account)} is not registered with ${this.d.host}`);
    if (r.account.providers.includes(this.d.publicUrl)) {
      reject('invalid-argument', `the account's identity log still lists ${this.d.publicUrl}: publish one without it first`);
    }
    await this.d.replica.addCard(r.card);
    const deleted = await deleteAccountData(this.d.replica, r.account, Date.now());
    this.d.registered.remove(account);
    this.d.logger.info({ event: 'account-deleted', account: toId(account), ...deleted }, 'account deleted at its request');
    this.d.relink();
    return deleted;
  }

  /**
   * An inbox owner's settings: the cap on what senders this provider does not host may leave (`cap`, bytes),
   * and `purge`, which deletes what non-members left so far and refuses it if a replica offers it again.
   */
  async inboxSettings(request: Uint8Array): Promise<{ cap: number; purged: number }> {
    const r = verifyRequest(request, 'inbox', this.d.host, Date.now());
    const space = asBytes(r.payload.space, 'space', 32);
    const graph = await this.d.replica.graph(space);
    if (!graph.created || !graph.openAppend) reject('not-found', `no inbox ${toId(space)} here`);
    if (graph.current().roles.get(toHex(r.account.account)) !== 'admin') reject('forbidden-role', 'only the inbox’s owner may change it');
    const cap = r.payload.cap === undefined ? await this.d.inbox.cap(space) : await this.d.inbox.setCap(space, asUint(r.payload.cap, 'cap'));
    const purged = r.payload.purge === true ? await this.d.inbox.purge(space, Date.now()) : 0;
    this.d.logger.info({ event: 'inbox', account: toId(r.account.account), space: toId(space), cap, purged }, 'inbox settings');
    return { cap, purged };
  }

  async claimHandle(request: Uint8Array): Promise<string> {
    const r = verifyRequest(request, 'claim-handle', this.d.host, Date.now());
    const name = String(r.payload.name ?? '');
    if (!HANDLE_NAME.test(name)) reject('invalid-argument', 'a handle is 1-32 of a-z, 0-9, _ and -, starting with a letter or digit');
    if (!(await this.d.hosts(r.account.account))) reject('not-hosted', `register with this provider first (\`freehold provider add ${this.d.publicUrl}\`)`);
    const handle = `${name}@${this.d.host}`;
    if (!r.account.handles.includes(handle)) reject('invalid-argument', `the account's identity log does not claim ${handle}`);
    await this.d.replica.addCard(r.card);
    await this.d.handles.claim(name, r.account.account);
    this.d.logger.info({ event: 'handle', handle, account: toId(r.account.account) }, 'handle claimed');
    return handle;
  }
}
