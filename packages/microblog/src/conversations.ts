import * as z from 'zod/mini';
import { reject } from '@freehold/core';
import type { InboxItem, Microblog } from './microblog.js';
import { parse, PostRef, type Message } from './schema.js';

/**
 * How far the account has read: one conversation (keyed by the other account's id) or its notifications (keyed
 * `notifications`), up to and including the message time `at`. Kept in the `read` document of the account's
 * private space, so every device of the account sees the same unread counts and no follower sees them at all.
 */
export const ReadMark = z.object({ schema: z.literal('microblog.read@1'), at: z.int().check(z.nonnegative()) });
export type ReadMark = z.infer<typeof ReadMark>;

const READ_DOC = 'read';
const NOTIFICATIONS = 'notifications';
const accountId = PostRef.shape.account;

export type Dm = Extract<Message, { type: 'dm' }>;
export type Notice = Exclude<Message, { type: 'dm' }>;

export interface DmItem {
  id: string;
  message: Dm;
  /** Sent by this account (its own copy), to `message.to`. */
  mine: boolean;
}

/** The direct messages between this account and one other, both ways. */
export interface Conversation {
  with: string;
  /** Oldest first, as a conversation reads. */
  messages: DmItem[];
  last: DmItem;
  /** Messages from the other person newer than the read mark. */
  unread: number;
}

export interface NoticeItem {
  id: string;
  message: Notice;
  unread: boolean;
}

/**
 * Direct messages grouped by the other person, apart from notifications, with what is unread. Both come from
 * the account's inbox: what others sent, and the copies of what this account sent (see Microblog.dm).
 */
export class Conversations {
  constructor(private readonly mb: Microblog) {}

  /** Every conversation, the one with the newest message first. */
  async list(): Promise<Conversation[]> {
    const marks = await this.marks();
    const by = new Map<string, DmItem[]>();
    // The inbox is newest first; read backwards, each conversation comes out oldest first.
    for (const item of (await this.mb.inbox()).reverse()) {
      const dm = this.asDm(item);
      if (!dm) continue;
      const other = dm.mine ? dm.message.to : dm.message.from;
      const list = by.get(other) ?? [];
      list.push(dm);
      by.set(other, list);
    }
    const out: Conversation[] = [];
    for (const [other, messages] of by) {
      const seen = marks.get(other) ?? -1;
      out.push({ with: other, messages, last: messages[messages.length - 1]!, unread: messages.filter((m) => !m.mine && m.message.at > seen).length });
    }
    return out.sort((a, b) => b.last.message.at - a.last.message.at);
  }

  /** The conversation with one account; empty when none was had yet. */
  async with(account: string): Promise<Conversation | undefined> {
    parse(accountId, account, 'account');
    return (await this.list()).find((c) => c.with === account);
  }

  /** How many messages from others are unread, over all conversations. */
  async unread(): Promise<number> {
    return (await this.list()).reduce((n, c) => n + c.unread, 0);
  }

  /** Marks the conversation with `account` read up to its newest message from them; writes only when that moves the mark. */
  async markRead(account: string): Promise<void> {
    const c = await this.with(account);
    const newest = c?.messages.filter((m) => !m.mine).at(-1)?.message.at;
    if (newest !== undefined) await this.advance(account, newest);
  }

  /** Notifications (follow requests, replies, mentions, likes, reposts, removals), newest first, each marked unread or not; a muted account's are left out. */
  async notifications(): Promise<NoticeItem[]> {
    const seen = (await this.marks()).get(NOTIFICATIONS) ?? -1;
    const out: NoticeItem[] = [];
    for (const { id, message } of await this.mb.moderation.notifications(await this.mb.inbox())) {
      if (message.type !== 'dm' && message.from !== this.mb.me) out.push({ id, message, unread: message.at > seen });
    }
    return out;
  }

  /** Marks every notification up to the newest read. */
  async markNotificationsRead(): Promise<void> {
    const newest = (await this.notifications())[0]?.message.at;
    if (newest !== undefined) await this.advance(NOTIFICATIONS, newest);
  }

  /** A DM of this conversation's shape: from this account to someone else, or from someone else to it. */
  private asDm({ id, message: m }: InboxItem): DmItem | undefined {
    if (m.type !== 'dm') return undefined;
    const mine = m.from === this.mb.me;
    if (mine ? m.to === this.mb.me : m.to !== this.mb.me) return undefined;
    return { id, message: m, mine };
  }

  private async marks(): Promise<Map<string, number>> {
    const raw = (await this.mb.read(this.mb.spaces.private, READ_DOC)) ?? {};
    const out = new Map<string, number>();
    for (const [k, v] of Object.entries(raw)) {
      const r = ReadMark.safeParse(v);
      if (r.success && (k === NOTIFICATIONS || accountId.safeParse(k).success)) out.set(k, r.data.at);
    }
    return out;
  }

  /** Moves a mark forward only: a device that read less, later, does not bring messages back as unread. */
  private async advance(key: string, at: number): Promise<void> {
    if (((await this.marks()).get(key) ?? -1) >= at) return;
    if (!(await this.mb.device.replica.graph(this.mb.spaces.private)).created) reject('unavailable', 'this account’s private space is not here yet (sync first)');
    const mark = parse(ReadMark, { schema: 'microblog.read@1', at }, 'read mark');
    await this.mb.edit(this.mb.spaces.private, READ_DOC, { [key]: mark });
  }
}
