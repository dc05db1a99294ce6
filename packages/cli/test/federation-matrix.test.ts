import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromId, toId } from '@freehold/core';
import { spacesOf } from '@freehold/microblog';
import { ProviderNode } from '../../server/test/provider-node.js';

/*
 * The microblog across three real providers, driven only through the real `freehold` binary: P1 and P2 on
 * SQLite, P3 on PostgreSQL; Alice lives at P1 and P2, Bob at P3, Carol at P2. Every client links only to its own
 * providers (each provider's log shows sessions of its own accounts and of peer providers only, and everything
 * still works with the others stopped). The one request that leaves a person's providers is the directory
 * lookup of a handle at its host when first following someone there (an HTTP GET, no session); later commands
 * take a followed handle from the account's log.
 */
const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));
/** FREEHOLD_MATRIX_DEBUG=1 prints every command with its duration and keeps the providers' logs. */
const DEBUG = Boolean(process.env.FREEHOLD_MATRIX_DEBUG);
const T0 = Date.now();
const root = mkdtempSync(join(tmpdir(), 'freehold-matrix-'));

interface Run {
  code: number;
  out: string;
  err: string;
}

interface FeedItem {
  id: string;
  author: string;
  text: string;
  audience: 'public' | 'friends';
  likes: number;
  replies: string[];
}

interface InboxItem {
  type: string;
  from: string;
  text?: string;
}

interface OutboxItem {
  space: string;
  delivery: { state: string };
}

/** One person: a `freehold` profile of their own, driven through the real binary, one command at a time. */
class Person {
  account = '';
  handle = '';
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly homes: ProviderNode[],
  ) {}

  /** Runs a command once the person's previous one has finished (one person, one terminal). */
  run(args: string[]): Promise<Run> {
    const next = this.queue.then(
      () =>
        new Promise<Run>((resolve) => {
          const child = spawn(process.execPath, [BIN, ...args, '--home', join(root, this.name)], { cwd: root, env: { ...process.env, FREEHOLD_HOME: '' } });
          let out = '';
          let err = '';
          const t0 = Date.now();
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('close', (code) => {
            if (DEBUG) console.log(`${((Date.now() - T0) / 1000).toFixed(1)} s  ${this.name}: freehold ${args.join(' ').slice(0, 60)} (${Date.now() - t0} ms)`);
            resolve({ code: code ?? -1, out: out.trim(), err: err.trim() });
          });
        }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A command that must succeed without a word on stderr: every provider of this person answered. */
  async ok(args: string[]): Promise<string> {
    const r = await this.run(args);
    expect(r.err, `${this.name}: freehold ${args.join(' ')}`).toBe('');
    expect(r.code, `${this.name}: freehold ${args.join(' ')}`).toBe(0);
    return r.out;
  }

  async json<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.ok([...args, '--json'])) as T;
  }

  feed = () => this.json<FeedItem[]>(['feed', '--limit', '100']);

  /** Delivery is asynchronous: asks again, as a person would, until `want` holds of what the command shows. */
  async until<T>(args: string[], want: (v: T) => boolean, ms = 30_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.json<T>(args);
      if (want(v)) return v;
      if (Date.now() > end) throw new Error(`${this.name}: freehold ${args.join(' ')} never showed what was expected:\n${JSON.stringify(v, null, 1)}`);
    }
  }

  sees = (want: (f: FeedItem[]) => boolean) => this.until<FeedItem[]>(['feed', '--limit', '100'], want);
  seesPost = (text: string) => this.sees((f) => f.some((i) => i.text === text));
  gets = (text: string) => this.until<InboxItem[]>(['inbox'], (ms) => ms.some((m) => m.type === 'dm' && m.text === text));
}

const texts = (feed: FeedItem[]) => feed.map((i) => i.text);
const spaceId = (p: Person, which: 'public' | 'friends' | 'inbox') => toId(spacesOf(fromId(p.account, 'account'))[which]);
const hostOf = (node: ProviderNode) => new URL(node.url).host;
const peersOf = async (n: ProviderNode) => ((await (await fetch(`${n.directUrl}/healthz`)).json()) as { peers: { url: string; state: string }[] }).peers;

/** Waits until `f` holds, checking every 50 ms. */
async function until(f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${f.toString().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let p1: ProviderNode;
let p2: ProviderNode;
let p3: ProviderNode;
let alice: Person;
let bob: Person;
let carol: Person;
/** What each person's feed showed last. */
const feeds = new Map<Person, FeedItem[]>();

beforeAll(async () => {
  const schema = `matrix_${process.pid}_${Date.now()}`;
  [p1, p2, p3] = await Promise.all([
    ProviderNode.create('P1', { dir: join(root, 'p1') }, Math.random),
    ProviderNode.create('P2', { dir: join(root, 'p2') }, Math.random),
    ProviderNode.create('P3', { schema }, Math.random),
  ]);
  await Promise.all([p1.start(), p2.start(), p3.start()]);
  alice = new Person('alice', [p1, p2]);
  bob = new Person('bob', [p3]);
  carol = new Person('carol', [p2]);
});

// On a failure the providers' logs outlive the test's folder, for the post-mortem.
afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail' && !DEBUG) return;
  const dir = mkdtempSync(join(tmpdir(), 'freehold-matrix-logs-'));
  for (const n of [p1, p2, p3]) writeFileSync(join(dir, `${n.name}.log`), n.output());
  console.log(`providers' logs in ${dir} (${[p1, p2, p3].map((n) => `${n.name} ${n.url}`).join(', ')})`);
});

afterAll(async () => {
  await Promise.allSettled([p1?.dispose(), p2?.dispose(), p3?.dispose()]);
  rmSync(root, { recursive: true, force: true });
});

/** A new account at the person's providers, with a handle at each, a public post and a friends-only one. */
async function setUp(p: Person): Promise<void> {
  p.account = /^account (\S+)$/m.exec(await p.ok(['init', '--name', p.name]))![1]!;
  for (const node of p.homes) await p.ok(['provider', 'add', node.url]);
  for (const node of p.homes) await p.ok(['handle', 'claim', p.name, '--provider', node.url]);
  p.handle = `${p.name}@${hostOf(p.homes[0]!)}`;
  await p.ok(['post', `${p.name} public`]);
  await p.ok(['post', `${p.name} friends`, '--friends']);
}

describe('the microblog across three providers, each person talking only to their own', () => {
  it('follow, and approve into the friends space: friends-only posts reach exactly the approved', async () => {
    await Promise.all([alice, bob, carol].map(setUp));
    // Everyone follows everyone else, by the handle at a provider of theirs (Carol finds Alice at her own).
    await Promise.all([
      alice.ok(['follow', bob.handle]).then(() => alice.ok(['follow', carol.handle])),
      bob.ok(['follow', alice.handle]).then(() => bob.ok(['follow', carol.handle])),
      carol.ok(['follow', `alice@${hostOf(p2)}`]).then(() => carol.ok(['follow', bob.handle])),
    ]);
    const pending = (p: Person, from: Person[]) =>
      p.until<{ account: string; status: string }[]>(['followers'], (l) => from.every((f) => l.some((x) => x.account === f.account && x.status === 'pending')));
    await Promise.all([pending(alice, [bob, carol]), pending(bob, [alice, carol]), pending(carol, [alice, bob])]);

    // Public posts reach every follower; friends-only ones nobody yet.
    const before = await Promise.all([alice, bob, carol].map((p) => p.until<FeedItem[]>(['feed', '--limit', '100'], (f) => f.filter((i) => i.text.endsWith(' public')).length === 3)));
    for (const [i, feed] of before.entries()) {
      const me = [alice, bob, carol][i]!.name;
      expect(texts(feed).sort()).toEqual(['alice public', 'bob public', 'carol public', `${me} friends`].sort());
    }

    // Alice lets Bob in, not Carol: Bob reads her friends-only post, Carol (on one of Alice's providers) does not.
    await alice.ok(['followers', 'approve', bob.account]);
    await bob.seesPost('alice friends');
    expect(texts(await carol.feed())).not.toContain('alice friends');
    await alice.ok(['followers', 'approve', carol.account]);
    await carol.seesPost('alice friends');
    // The others approve everyone too; a friends-only post written afterwards reaches both of each one's friends.
    await Promise.all([
      bob.ok(['followers', 'approve', alice.account]).then(() => bob.ok(['followers', 'approve', carol.account])),
      carol.ok(['followers', 'approve', alice.account]).then(() => carol.ok(['followers', 'approve', bob.account])),
    ]);
    await Promise.all([alice, bob, carol].map((p) => p.ok(['post', `${p.name} friends 2`, '--friends'])));
    const all = [alice, bob, carol].flatMap((p) => [`${p.name} public`, `${p.name} friends`, `${p.name} friends 2`]).sort();
    await Promise.all([alice, bob, carol].map(async (p) => feeds.set(p, await p.sees((f) => all.every((t) => texts(f).includes(t))))));
    for (const f of feeds.values()) expect(texts(f).sort()).toEqual(all);
  }, 240_000);

  it('replies and likes, on public and friends-only posts, reach the author and every reader sees the counts', async () => {
    // Each acts on the posts as their own feed showed them.
    const act = async (p: Person, replies: [string, string][], likes: string[]) => {
      const id = (text: string) => feeds.get(p)!.find((i) => i.text === text)!.id;
      for (const [to, text] of replies) await p.ok(['post', text, '--reply-to', id(to)]);
      for (const text of likes) await p.ok(['like', id(text)]);
    };
    // Each replies to one post of each other person and likes another, public and friends-only alike.
    await Promise.all([
      act(alice, [['bob friends', 'alice replies to bob'], ['carol public', 'alice replies to carol']], ['bob public', 'carol friends']),
      act(bob, [['carol friends', 'bob replies to carol'], ['alice public', 'bob replies to alice']], ['carol public', 'alice friends']),
      act(carol, [['alice friends', 'carol replies to alice'], ['bob public', 'carol replies to bob']], ['alice public', 'bob friends']),
    ]);
    // The authors' clients fold what arrives in their inboxes into their posts; every reader then sees the same.
    const expected: Record<string, { likes: number; replies: string[] }> = {
      'alice public': { likes: 1, replies: ['bob replies to alice'] },
      'alice friends': { likes: 1, replies: ['carol replies to alice'] },
      'bob public': { likes: 1, replies: ['carol replies to bob'] },
      'bob friends': { likes: 1, replies: ['alice replies to bob'] },
      'carol public': { likes: 1, replies: ['alice replies to carol'] },
      'carol friends': { likes: 1, replies: ['bob replies to carol'] },
    };
    const shows = (f: FeedItem[]) =>
      Object.entries(expected).every(([text, want]) => {
        const item = f.find((i) => i.text === text);
        const replies = item?.replies.map((r) => f.find((i) => i.id === r)?.text);
        return item?.likes === want.likes && JSON.stringify(replies) === JSON.stringify(want.replies);
      });
    await Promise.all([alice, bob, carol].map((p) => p.sees(shows)));
  }, 240_000);

  it('direct messages in all six directions, each read only by its recipient', async () => {
    const people = [alice, bob, carol];
    await Promise.all(people.map(async (from) => {
      for (const to of people) if (to !== from) await from.ok(['dm', to.handle, `${from.name} to ${to.name}`]);
    }));
    for (const to of people) {
      const want = people.filter((p) => p !== to).map((from) => `${from.name} to ${to.name}`);
      const inbox = await to.until<InboxItem[]>(['inbox'], (ms) => want.every((t) => ms.some((m) => m.type === 'dm' && m.text === t)));
      // Its own copies of what it sent, and what was sent to it: nothing between the other two.
      const dms = inbox.filter((m) => m.type === 'dm').map((m) => m.text!).sort();
      expect(dms).toEqual([...want, ...people.filter((p) => p !== to).map((p) => `${to.name} to ${p.name}`)].sort());
    }
  }, 240_000);

  it('with the providers a person does not use stopped, they still read everything and write to everyone', async () => {
    // Bob's provider down: Alice and Carol read his posts and message him through their own.
    await p3.stop();
    await Promise.all(
      [alice, carol].map(async (p) => {
        expect(texts(await p.feed())).toEqual(expect.arrayContaining(['bob public', 'bob friends', 'bob friends 2']));
        await p.ok(['dm', bob.handle, `${p.name} to bob while P3 is down`]);
      }),
    );
    // Only Bob's provider up: he reads Alice's and Carol's posts and messages both.
    await p3.start();
    await Promise.all([p1.stop(), p2.stop()]);
    expect(texts(await bob.feed())).toEqual(expect.arrayContaining(['alice public', 'alice friends 2', 'carol public', 'carol friends 2']));
    for (const to of [alice, carol]) await bob.ok(['dm', to.handle, `bob to ${to.name} while P1 and P2 are down`]);
    // His provider holds them for delivery.
    const inboxes = [alice, carol].map((p) => spaceId(p, 'inbox'));
    const newest = (await bob.json<OutboxItem[]>(['outbox'])).filter((i) => inboxes.includes(i.space)).slice(0, 2);
    expect(newest.map((i) => i.delivery.state)).toEqual(['pending', 'pending']);
    // All back: the providers deliver what waits in their outboxes, with no client's help.
    await Promise.all([p1.start(), p2.start()]);
    await Promise.all([
      bob.gets('alice to bob while P3 is down').then(() => bob.gets('carol to bob while P3 is down')),
      alice.gets('bob to alice while P1 and P2 are down'),
      carol.gets('bob to carol while P1 and P2 are down'),
    ]);
  }, 240_000);

  // Issue 10, point 4. Delivery state is recorded only from the acknowledgements of entries a provider's own link
  // sends. When the recipient's provider takes a message by leading the reconciliation itself (it came back
  // before the sender's provider retried), it asks for the entry with `want` and `lead()` drops the `ack` it
  // then makes, so the sender's provider never learns the message arrived: its outbox says pending for good.
  it('a message its recipient’s provider takes by reconciling with the sender’s provider shows delivered', async () => {
    await p2.stop();
    await bob.ok(['dm', carol.handle, 'bob to carol, taken by reconciliation']);
    const carolInbox = spaceId(carol, 'inbox');
    const sent = (await bob.json<(OutboxItem & { entry: string })[]>(['outbox'])).find((i) => i.space === carolInbox)!;
    expect(sent.delivery.state).toBe('pending');
    // P2 comes back and reconciles with P3 on its own link, while P3's link cannot reach it yet.
    p2.proxy.set({ refuse: true });
    await p2.start();
    await until(async () => (await p2.peek(fromId(carolInbox, 'space'))).has(sent.entry));
    p2.proxy.set({ refuse: false });
    await until(async () => (await peersOf(p3)).some((l) => l.url === p2.url && l.state === 'up'));
    const now = (await bob.json<(OutboxItem & { entry: string })[]>(['outbox'])).find((i) => i.entry === sent.entry)!;
    expect(now.delivery.state, 'P2 holds the message, yet P3 says').toBe('delivered');
  }, 240_000);

  it('with P1 down Alice writes through P2 (one warning a command); P1 back, it converges with no client online', async () => {
    await p1.stop();
    const writes = [
      ['post', 'alice while P1 is down'],
      ['post', 'alice friends while P1 is down', '--friends'],
      ['dm', carol.handle, 'alice to carol while P1 is down'],
    ];
    for (const args of writes) {
      const r = await alice.run(args);
      expect(r.code, r.err).toBe(0);
      expect(r.err.split('\n')).toEqual([expect.stringMatching(new RegExp(`^freehold: warning: .*${hostOf(p1).replace(/\./g, '\\.')}.*; going on without it$`))]);
    }
    // Readers have it meanwhile from P2 (Carol directly, Bob through his provider's mirror).
    await Promise.all([carol.seesPost('alice friends while P1 is down'), bob.seesPost('alice friends while P1 is down')]);
    await p1.start();
    // Every space of Alice's holds the same entries at both (so the reconciliation fingerprints agree).
    const spaces = Object.values(spacesOf(fromId(alice.account, 'account')));
    const ids = (node: ProviderNode) => Promise.all(spaces.map(async (s) => [...(await node.peek(s))].sort()));
    await until(async () => JSON.stringify(await ids(p1)) === JSON.stringify(await ids(p2))).catch(() => undefined);
    const [at1, at2] = await Promise.all([ids(p1), ids(p2)]);
    expect(at1.map((l) => l.length)).toEqual(at2.map((l) => l.length));
    expect(at1).toEqual(at2);
  }, 240_000);

  it('every provider saw sessions of its own accounts and of peer providers only', async () => {
    // Stopped, so every session has ended and is in the log.
    await Promise.all([p1, p2, p3].map((n) => n.stop()));
    const hosted: [ProviderNode, Person[]][] = [
      [p1, [alice]],
      [p2, [alice, carol]],
      [p3, [bob]],
    ];
    const names = new Map([alice, bob, carol].map((p) => [p.account, p.name]));
    for (const [node, people] of hosted) {
      const sessions = node
        .output()
        .split('\n')
        .flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as { event?: string; account?: string | null; peer?: string; frames?: number }] : []))
        // A connection cut before it said anything (a peer's link as the providers stop) got the challenge only.
        .filter((l) => l.event === 'auth' || (l.event === 'session' && l.frames! > 0));
      const who = new Set(sessions.map((s) => (s.peer ? 'a peer provider' : s.account ? (names.get(s.account) ?? s.account) : 'anonymous')));
      expect(who, node.name).toEqual(new Set([...people.map((p) => p.name), 'a peer provider']));
    }
  }, 240_000);
});
