import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromId, toId } from '@freehold/core';
import { spacesOf } from '@freehold/microblog';
import { spawnServer } from '../../server/test/process.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-moderation-'));
const { fh, ok, eventually } = cli(root);

interface FeedJson {
  id: string;
  author: string;
  text?: string;
  likes?: number;
}
interface ListsJson {
  blocked: { account: string; handle: string | null }[];
  muted: { account: string; handle: string | null }[];
}
const feed = (home: string) => JSON.parse(ok(['feed', '--json'], home)) as FeedJson[];
const followersOf = (home: string) => JSON.parse(ok(['followers', '--json'], home)) as { account: string; status: string }[];
const lists = (home: string) => JSON.parse(ok(['blocked', '--json'], home)) as ListsJson;

describe('block and mute from the CLI, over a real provider, kept in the private space every device of the account has', () => {
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let host: string;
  let bob: string;
  let carol: string;

  beforeAll(async () => {
    server = await spawnServer(['--port', '0', '--data', join(root, 'srv')]);
    host = new URL(server.url).host;
    const phrase = join(root, 'alice.phrase');
    ok(['init', '--name', 'alice', '--phrase-file', phrase], 'alice');
    for (const who of ['bob', 'carol']) ok(['init', '--name', who], who);
    for (const who of ['alice', 'bob', 'carol']) {
      ok(['provider', 'add', server.url], who);
      ok(['handle', 'claim', who], who);
      ok(['profile', '--name', who], who);
    }
    ok(['recover', '--provider', server.url, '--phrase-file', phrase], 'alice-laptop');
    bob = accountOf(ok, 'bob');
    carol = accountOf(ok, 'carol');
    // Bob is an approved follower of Alice; Alice follows both.
    ok(['follow', `alice@${host}`], 'bob');
    await eventually(['followers', '--json'], 'alice', new RegExp(bob));
    ok(['followers', 'approve', `bob@${host}`], 'alice');
    ok(['follow', `bob@${host}`], 'alice');
    ok(['follow', `carol@${host}`], 'alice');
    ok(['follow', `alice@${host}`], 'carol');
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a blocked account leaves the friends space and nothing it sends shows, on any device of the blocker', async () => {
    const before = ok(['post', 'Friends only, before the block', '--friends'], 'alice');
    await eventually(['feed'], 'bob', /before the block/);
    ok(['dm', `alice@${host}`, 'First message'], 'bob');
    await eventually(['conversations'], 'alice', /First message/);

    expect(ok(['block', `bob@${host}`], 'alice')).toBe(`blocked bob@${host}`);
    expect(lists('alice').blocked).toEqual([expect.objectContaining({ account: bob, handle: `bob@${host}` })]);
    // Out of the friends space (the key rotated, so Bob cannot read what Alice posts to friends from now on), and
    // his requests are dropped with the rest of what he sent.
    expect(ok(['space', 'members', toId(spacesOf(fromId(accountOf(ok, 'alice'), 'account')).friends)], 'alice')).not.toMatch(bob);
    expect(followersOf('alice').some((f) => f.account === bob)).toBe(false);
    const after = ok(['post', 'Friends only, after the block', '--friends'], 'alice');
    ok(['sync'], 'bob');
    expect(ok(['feed'], 'bob')).not.toMatch(/after the block/);
    expect(after).not.toBe(before);

    // What Bob sends now: a message, a like, a reply, a new follow request. None of it reaches Alice's views.
    ok(['dm', `alice@${host}`, 'Second message, blocked'], 'bob');
    const pub = ok(['post', 'Alice public post'], 'alice').split('/')[1]!;
    expect(await eventually(['feed'], 'bob', /Alice public post/)).toMatch(/Alice public post/);
    expect(await eventually(['feed'], 'carol', /Alice public post/)).toMatch(/Alice public post/);
    ok(['like', pub.slice(0, 8)], 'bob');
    ok(['unfollow', `alice@${host}`], 'bob');
    ok(['follow', `alice@${host}`], 'bob');
    // Carol's like in the same inbox arrives, so the inbox has been read past Bob's.
    ok(['like', pub.slice(0, 8)], 'carol');
    await eventually(['inbox'], 'alice', /carol@\S+ {2}liked/);
    for (const home of ['alice', 'alice-laptop']) {
      await eventually(['blocked'], home, /blocked {2}bob@/);
      ok(['sync'], home);
      expect(ok(['conversations'], home)).not.toMatch(/Second message/);
      expect(ok(['inbox'], home)).not.toMatch(/bob@/);
      expect(feed(home).find((p) => p.id.endsWith(pub))?.likes).toBe(1);
      expect(followersOf(home).some((f) => f.account === bob)).toBe(false);
      // And Bob's posts are out of the timeline although Alice still follows him.
      expect(feed(home).some((p) => p.author === bob)).toBe(false);
    }

    // Unblocked: what he sends shows again; he is not a follower again until approved.
    expect(ok(['unblock', `bob@${host}`], 'alice')).toBe(`unblocked bob@${host}`);
    expect(ok(['conversations'], 'alice')).toMatch(/Second message, blocked/);
    expect(lists('alice').blocked).toEqual([]);
    expect(followersOf('alice').find((f) => f.account === bob)?.status).toBe('pending');
  }, 240_000);

  it('mute hides posts and notifications, and leaves direct messages and the follow as they are', async () => {
    ok(['post', 'Carol says something loud'], 'carol');
    await eventually(['feed'], 'alice', /something loud/);
    expect(ok(['mute', `carol@${host}`], 'alice')).toBe(`muted carol@${host}`);
    expect(ok(['feed'], 'alice')).not.toMatch(/something loud/);
    expect(ok(['inbox'], 'alice')).not.toMatch(/carol@/);
    ok(['dm', `alice@${host}`, 'Muted but still talking'], 'carol');
    await eventually(['conversations'], 'alice', /Muted but still talking/);
    expect(ok(['blocked'], 'alice')).toMatch(new RegExp(`^muted {2}carol@${host.replace(/\./g, '\\.')} {2}since `, 'm'));
    await eventually(['blocked'], 'alice-laptop', /muted {2}carol@/);
    ok(['sync'], 'alice-laptop');
    expect(ok(['feed'], 'alice-laptop')).not.toMatch(/something loud/);

    expect(ok(['unmute', carol.slice(0, 10)], 'alice')).toBe(`unmuted ${carol.slice(0, 10)}`);
    expect(ok(['feed'], 'alice')).toMatch(/something loud/);
  }, 180_000);

  it('refuses to block oneself, to take back what was never set, and what is not an account', () => {
    const self = fh(['block', `alice@${host}`], 'alice');
    expect(self.code).toBe(2);
    expect(self.err).toMatch(/^freehold: you cannot block yourself \[invalid-argument\]$/);
    const never = fh(['unmute', `bob@${host}`], 'alice');
    expect(never.code).toBe(1);
    expect(never.err).toMatch(/is not muted \[not-found\]$/);
    const bad = fh(['mute', 'not/an/account'], 'alice');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/^freehold: .* \[(invalid-argument|not-found)\]$/);
    expect(fh(['block'], 'alice').code).toBe(2);
  }, 60_000);
});
