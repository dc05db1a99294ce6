import { definedOnly, fromId, reject, toHex } from '@freehold/core';
import type { InboxItem, Microblog } from './microblog.js';
import { Block, Mute, parse } from './schema.js';

/** Enough for anyone; a list past it is most likely a script, and every read of the inbox reads the list. */
export const MAX_RESTRICTED = 10_000;

export interface Restrictions {
  blocked: Map<string, Block>;
  muted: Map<string, Mute>;
}

const LISTS = {
  block: { doc: 'blocked', schema: Block, name: 'microblog.block@1' },
  mute: { doc: 'muted', schema: Mute, name: 'microblog.mute@1' },
} as const;
type Kind = keyof typeof LISTS;

/**
 * The account's block and mute lists. They live in its private space (only its own devices are members), so they
 * follow the person to every device and app, and followers, who read the friends space, never see them.
 */
export class Moderation {
  constructor(private readonly mb: Microblog) {}

  async lists(): Promise<Restrictions> {
    const [blocked, muted] = await Promise.all([this.list('block'), this.list('mute')]);
    return { blocked: blocked as Map<string, Block>, muted: muted as Map<string, Mute> };
  }

  /** Accounts whose posts and notifications the owner does not see: blocked or muted. */
  async hidden(): Promise<Set<string>> {
    const { blocked, muted } = await this.lists();
    return new Set([...blocked.keys(), ...muted.keys()]);
  }

  /** The inbox as notifications show it: a muted account's are left out, its direct messages stay. */
  async notifications(items: InboxItem[]): Promise<InboxItem[]> {
    const hide = new Set((await this.list('mute')).keys());
    return items.filter((i) => i.message.type === 'dm' || !hide.has(i.message.from));
  }

  async blocked(): Promise<Set<string>> {
    return new Set((await this.list('block')).keys());
  }

  /**
   * Blocks an account: from now on this account's clients drop what it sends, and if it was an approved follower
   * it is removed from the friends space (the key rotates, so it reads nothing posted after). It is not told.
   */
  async block(account: string, handle?: string): Promise<Block> {
    const block = (await this.add('block', account, handle)) as Block;
    const friends = this.mb.spaces.friends;
    const role = (await this.mb.device.replica.graph(friends)).current().roles.get(toHex(fromId(account, 'account')));
    if (role) {
      await this.mb.device.remove(friends, fromId(account, 'account'));
      // As a removal: unblocked later, it is a removed follower to allow again, not one approved in silence.
      await this.mb.edit(friends, 'requests', { [account]: { status: 'removed', at: block.since } });
    }
    return block;
  }

  /** Takes a block back: what it sends shows again. It stays out of the friends space until approved again. */
  unblock(account: string): Promise<void> {
    return this.drop('block', account);
  }

  mute(account: string, handle?: string): Promise<Mute> {
    return this.add('mute', account, handle) as Promise<Mute>;
  }

  unmute(account: string): Promise<void> {
    return this.drop('mute', account);
  }

  private async list(kind: Kind): Promise<Map<string, Block | Mute>> {
    const { doc, schema } = LISTS[kind];
    const raw = (await this.mb.read(this.mb.spaces.private, doc)) ?? {};
    const out = new Map<string, Block | Mute>();
    for (const [k, v] of Object.entries(raw)) {
      const r = schema.safeParse(v);
      if (r.success && r.data.account === k) out.set(k, r.data);
    }
    return out;
  }

  private async add(kind: Kind, account: string, handle?: string): Promise<Block | Mute> {
    const { doc, schema, name } = LISTS[kind];
    if (account === this.mb.me) reject('invalid-argument', `you cannot ${kind} yourself`);
    const entry = parse<Block | Mute>(schema, { schema: name, account, handle: handle?.toLowerCase(), since: Date.now() }, kind);
    const current = await this.list(kind);
    const had = current.get(account);
    if (had) return had;
    if (current.size >= MAX_RESTRICTED) reject('quota-exceeded', `at most ${MAX_RESTRICTED} accounts can be ${kind === 'block' ? 'blocked' : 'muted'}`);
    await this.writable();
    await this.mb.edit(this.mb.spaces.private, doc, { [account]: definedOnly(entry) });
    return entry;
  }

  private async drop(kind: Kind, account: string): Promise<void> {
    if (!(await this.list(kind)).has(account)) reject('not-found', `${account} is not ${kind === 'block' ? 'blocked' : 'muted'}`);
    await this.mb.edit(this.mb.spaces.private, LISTS[kind].doc, { [account]: null });
  }

  /** The private space is created by Microblog.ensure after a sync; writing before it would fork it. */
  private async writable(): Promise<void> {
    if (!(await this.mb.device.replica.graph(this.mb.spaces.private)).created) {
      reject('unavailable', 'this device has not synced its account yet: try again once it is online');
    }
  }
}
