import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-conversations-'));
const { fh, ok, eventually } = cli(root);

interface MessageJson {
  from: string;
  to: string;
  mine: boolean;
  text: string;
}
interface ConversationJson {
  with: string;
  handle: string | null;
  unread: number;
  last: MessageJson;
  messages?: MessageJson[];
}
const conversations = (home: string) => JSON.parse(ok(['conversations', '--json'], home)) as ConversationJson[];

describe('direct messages as conversations from the CLI, read state shared by the devices of an account', () => {
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let host: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    server = await spawnServer(['--port', '0', '--data', join(root, 'srv')]);
    host = new URL(server.url).host;
    const phrase = join(root, 'alice.phrase');
    ok(['init', '--name', 'alice', '--phrase-file', phrase], 'alice');
    ok(['init', '--name', 'bob'], 'bob');
    for (const who of ['alice', 'bob']) {
      ok(['provider', 'add', server.url], who);
      ok(['handle', 'claim', who], who);
      ok(['profile', '--name', who], who);
    }
    // A second device of Alice's, from her phrase.
    ok(['recover', '--provider', server.url, '--phrase-file', phrase], 'alice-laptop');
    alice = accountOf(ok, 'alice');
    bob = accountOf(ok, 'bob');
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('groups messages both ways into one conversation per person, apart from notifications', async () => {
    ok(['dm', `bob@${host}`, 'Hi Bob, lunch?'], 'alice');
    await eventually(['conversations', '--json'], 'bob', /Hi Bob, lunch/);
    ok(['dm', `alice@${host}`, 'Sure, at noon'], 'bob');
    ok(['dm', `alice@${host}`, 'The usual place'], 'bob');
    ok(['follow', `alice@${host}`], 'bob');

    await eventually(['conversations', '--json'], 'alice', /The usual place/);
    const mine = conversations('alice');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ with: bob, handle: `bob@${host}`, unread: 2, last: { from: bob, to: alice, mine: false, text: 'The usual place' } });
    // The follow request is a notification, not part of any conversation.
    expect(ok(['inbox'], 'alice')).toMatch(/asked to follow you/);
    expect(ok(['conversations'], 'alice')).toMatch(new RegExp(`^bob@${host.replace(/\./g, '\\.')}  \\(2 unread\\)  .+  The usual place$`));

    // Bob's side: his own messages are his, Alice's unread; the recipient is named on what he sent.
    const his = conversations('bob');
    expect(his).toHaveLength(1);
    expect(his[0]).toMatchObject({ with: alice, handle: `alice@${host}`, unread: 1, last: { from: bob, to: alice, mine: true } });
  }, 120_000);

  it('reads one conversation, both ways in order, and marks it read for every device of the account', async () => {
    expect((await eventually(['conversations', '--json'], 'alice-laptop', /"unread": 2/)).match(/"unread": 2/)).not.toBeNull();

    const read = ok(['conversations', `bob@${host}`], 'alice').split('\n');
    expect(read.map((l) => l.replace(/^.*? {2}/, ''))).toEqual([`you to bob@${host}: Hi Bob, lunch?`, `bob@${host}: Sure, at noon`, `bob@${host}: The usual place`]);
    expect(conversations('alice')[0]!.unread).toBe(0);
    // The read mark lives in Alice's private space: her other device sees the conversation read.
    const laptop = JSON.parse(await eventually(['conversations', '--json'], 'alice-laptop', /"unread": 0/)) as ConversationJson[];
    expect(laptop[0]).toMatchObject({ with: bob, unread: 0 });

    // A new message is unread again, everywhere; reading it on the laptop clears it for the first device too.
    ok(['dm', `alice@${host}`, 'Running late'], 'bob');
    await eventually(['conversations', '--json'], 'alice-laptop', /Running late/);
    expect(conversations('alice-laptop')[0]!.unread).toBe(1);
    const one = JSON.parse(ok(['conversations', bob.slice(0, 8), '--json'], 'alice-laptop')) as ConversationJson;
    expect(one.messages!.map((m) => [m.mine, m.text])).toEqual([
      [true, 'Hi Bob, lunch?'],
      [false, 'Sure, at noon'],
      [false, 'The usual place'],
      [false, 'Running late'],
    ]);
    await eventually(['conversations', '--json'], 'alice', /Running late/);
    expect(JSON.parse(await eventually(['conversations', '--json'], 'alice', /"unread": 0/))[0]).toMatchObject({ unread: 0 });
    // Bob's read state is his own: reading hers did not touch his.
    expect(conversations('bob')[0]!.unread).toBe(1);
  }, 120_000);

  it('says so when there is no conversation yet, and refuses what is not an account', () => {
    ok(['init', '--name', 'carol'], 'carol');
    ok(['provider', 'add', server.url], 'carol');
    expect(ok(['conversations'], 'carol')).toBe('no conversations yet: `freehold dm NAME@host TEXT`');
    expect(ok(['conversations', `alice@${host}`], 'carol')).toBe(`no messages with alice@${host} yet: \`freehold dm alice@${host} TEXT\``);
    const bad = fh(['conversations', 'not/an/account'], 'carol');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/^freehold: .* \[(invalid-argument|not-found)\]$/);
  }, 60_000);
});
