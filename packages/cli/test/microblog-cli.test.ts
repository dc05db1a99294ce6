import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-mb-'));
const { fh, ok, eventually } = cli(root);

interface FeedJson {
  id: string;
  author: string;
  text?: string;
  likes?: number;
  reposts?: number;
  repostOf?: string | null;
  quoteOf?: string | null;
  editedAt?: string | null;
  deleted?: boolean;
}
interface FollowerJson {
  account: string;
  status: string;
}
const feed = (home: string) => JSON.parse(ok(['feed', '--json'], home)) as FeedJson[];
const followers = (home: string) => JSON.parse(ok(['followers', '--json'], home)) as FollowerJson[];

describe('the microblog from the CLI: edits, deletions, likes taken back, requests that wait, names over ids', () => {
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let host: string;

  /** A profile with an account at the provider; with a handle and a microblog unless told otherwise. */
  function person(name: string, opts: { handle?: boolean; microblog?: boolean } = {}): string {
    ok(['init', '--name', name], name);
    ok(['provider', 'add', server.url], name);
    if (opts.handle !== false) ok(['handle', 'claim', name], name);
    if (opts.microblog !== false) ok(['profile', '--name', name], name);
    return accountOf(ok, name);
  }

  beforeAll(async () => {
    server = await spawnServer(['--port', '0', '--data', join(root, 'srv')]);
    host = new URL(server.url).host;
    person('alice');
    person('bob');
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('sends a follow request once the followed account has set up its microblog', async () => {
    person('dave', { microblog: false });
    const out = ok(['follow', `dave@${host}`], 'alice');
    expect(out).toMatch(/dave@.* has not set up a microblog yet: .* request .* goes out when they have/);
    expect(followers('dave')).toEqual([]);
    // Dave's microblog exists now (the command above created it); Alice's next command delivers the request.
    ok(['feed'], 'alice');
    const list = JSON.parse(await eventually(['followers', '--json'], 'dave', /pending/)) as FollowerJson[];
    expect(list.map((f) => [f.account, f.status])).toEqual([[accountOf(ok, 'alice'), 'pending']]);
    // Sent once: later commands do not ask again.
    ok(['feed'], 'alice');
    expect(ok(['inbox'], 'dave').match(/asked to follow you/g)).toHaveLength(1);
  }, 120_000);

  it('takes a unique start of a post id, likes once, unlikes, edits and deletes, and feed --json carries it', async () => {
    const ref = ok(['post', 'A post to change'], 'alice');
    const id = ref.split('/')[1]!;
    ok(['follow', `alice@${host}`], 'bob');
    await eventually(['feed'], 'bob', /A post to change/);
    expect(ok(['like', id.slice(0, 6)], 'bob')).toBe(`liked ${ref}`);
    expect(ok(['like', id.slice(0, 6)], 'bob')).toBe(`liked ${ref}`);
    const liked = async (n: number) => {
      await eventually(['feed', '--json'], 'alice', new RegExp(`"likes": ${n}`));
      expect(feed('alice').find((p) => p.id === ref)?.likes).toBe(n);
    };
    await liked(1);
    // The second like told Alice nothing.
    expect(ok(['inbox'], 'alice').match(/liked /g)).toHaveLength(1);
    expect(ok(['unlike', id.slice(0, 6)], 'bob')).toBe(`unliked ${ref}`);
    await liked(0);
    expect(fh(['unlike', id], 'bob').err).toMatch(/you have not liked/);

    // Edits: a new revision, marked.
    expect(ok(['edit', id.slice(0, 5), 'A post, changed'], 'alice')).toBe(`edited ${ref}`);
    const edited = JSON.parse(await eventually(['feed', '--json'], 'bob', /A post, changed/)) as FeedJson[];
    const e = edited.find((p) => p.id === ref)!;
    expect(e.text).toBe('A post, changed');
    expect(e.editedAt).toMatch(/^\d{4}-/);
    expect(ok(['feed'], 'bob')).toMatch(/· edited/);
    // Only the author changes a post.
    expect(fh(['delete', ref], 'bob').err).toMatch(/is not your post/);
    expect(fh(['edit', ref, 'hijacked'], 'bob').code).not.toBe(0);

    // Deletion: gone from the text feed, a tombstone in --json, gone from the public page.
    expect(ok(['delete', id.slice(0, 7)], 'alice')).toBe(`deleted ${ref}`);
    const gone = JSON.parse(await eventually(['feed', '--json'], 'bob', /"deleted": true/)) as FeedJson[];
    expect(gone.find((p) => p.id === ref)).toMatchObject({ deleted: true });
    expect(gone.find((p) => p.id === ref)?.text).toBeUndefined();
    expect(ok(['feed'], 'bob')).not.toMatch(/A post/);
    const page = await (await fetch(`${server.url}/@alice`)).text();
    expect(page).not.toMatch(/A post/);
    expect(fh(['edit', ref, 'back again'], 'alice').err).toMatch(/was deleted/);
  }, 180_000);

  it('refuses a start of an id that is too short or unknown, in one line', () => {
    const short = fh(['like', 'ab'], 'bob');
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/^freehold: "ab" is not a post id or the start of one \(at least 4 characters\) \[invalid-argument\]$/);
    expect(fh(['like', 'zzzzzzzz'], 'bob').err).toMatch(/no post id starting with "zzzzzzzz"/);
  }, 60_000);

  it('shows whoever has no handle by a whole id that commands take, or by its start', async () => {
    const carol = person('carol', { handle: false });
    ok(['follow', `alice@${host}`], 'carol');
    const inbox = await eventually(['inbox'], 'alice', new RegExp(carol));
    // The whole id, never a cut-off one; Bob, with a handle, by his handle.
    expect(inbox).toMatch(new RegExp(`  ${carol}  asked to follow you`));
    expect(inbox).toMatch(new RegExp(`  bob@${host.replace(/\./g, '\\.')}  asked to follow you`));
    expect(ok(['followers', 'approve', carol.slice(0, 8)], 'alice')).toBe(`approved ${carol.slice(0, 8)}`);
    expect(followers('alice').find((f) => f.account === carol)?.status).toBe('approved');
  }, 120_000);

  it('tells a removed follower, and a new request after the removal is pending again', async () => {
    const bob = accountOf(ok, 'bob');
    ok(['followers', 'approve', `bob@${host}`], 'alice');
    ok(['followers', 'remove', `bob@${host}`], 'alice');
    expect(followers('alice').find((f) => f.account === bob)?.status).toBe('removed');
    expect(await eventually(['inbox'], 'bob', /removed you from their followers/)).toMatch(/alice@\S+ {2}removed you from their followers/);
    ok(['unfollow', `alice@${host}`], 'bob');
    ok(['follow', `alice@${host}`], 'bob');
    await eventually(['followers', '--json'], 'alice', new RegExp(`"account": "${bob}",[^}]*"status": "pending"`));
    expect(followers('alice').find((f) => f.account === bob)?.status).toBe('pending');
  }, 120_000);

  it('reposts a public post once, counts it at its author, quotes it, and takes the repost back', async () => {
    const ref = ok(['post', 'Worth passing on'], 'alice');
    const id = ref.split('/')[1]!;
    await eventually(['feed'], 'bob', /Worth passing on/);
    const repost = ok(['repost', id.slice(0, 6)], 'bob');
    expect(ok(['repost', id.slice(0, 6)], 'bob')).toBe(repost);
    const reposts = async (n: number) => {
      await eventually(['feed', '--json'], 'alice', new RegExp(`"text": "Worth passing on",[^}]*"reposts": ${n}`));
      return feed('alice').find((p) => p.id === ref)?.reposts;
    };
    expect(await reposts(1)).toBe(1);
    // Bob's feed shows what he passed on; his followers read it there.
    expect(feed('bob').find((p) => p.id === repost)).toMatchObject({ repostOf: ref, text: '' });
    expect(ok(['feed'], 'bob')).toMatch(new RegExp(`bob@\\S+ reposted · .*\\n {2}> alice@\\S+: Worth passing on`));
    const quote = ok(['post', 'Quoting Alice here', '--quote', id.slice(0, 6)], 'bob');
    expect(feed('bob').find((p) => p.id === quote)).toMatchObject({ quoteOf: ref, text: 'Quoting Alice here' });
    expect(await eventually(['inbox'], 'alice', /reposted/)).toMatch(/bob@\S+ {2}reposted /);

    expect(ok(['unrepost', id.slice(0, 6)], 'bob')).toBe(`unreposted ${ref}`);
    expect(await reposts(0)).toBe(0);
    expect(feed('bob').find((p) => p.id === repost)).toMatchObject({ deleted: true });
    // A friends-only post is not passed on.
    const secret = ok(['post', 'Only for friends', '--friends'], 'alice');
    expect(fh(['repost', secret], 'alice').err).toMatch(/only public posts can be reposted/);
  }, 180_000);

  it('searches the replica on the device: words, hashtags, people, friends-only posts it may read', async () => {
    ok(['profile', '--name', 'Alice Gardener', '--bio', 'Grows #tomatoes'], 'alice');
    ok(['post', 'The #Tomatoes are ripening early this year'], 'alice');
    ok(['post', 'Tomato soup for the approved few', '--friends'], 'alice');
    await eventually(['feed'], 'carol', /approved few/);
    const found = JSON.parse(ok(['search', 'tomato', '--json'], 'carol')) as { people: { account: string; handle: string | null }[]; posts: FeedJson[] };
    expect(found.posts.map((p) => p.text)).toEqual(['Tomato soup for the approved few', 'The #Tomatoes are ripening early this year']);
    expect(found.people.map((p) => p.handle)).toEqual([`alice@${host}`]);
    // Bob was removed from Alice's followers: the friends-only post is not in what his device can read.
    await eventually(['feed'], 'bob', /ripening early/);
    expect((JSON.parse(ok(['search', 'tomato', '--json'], 'bob')) as { posts: FeedJson[] }).posts.map((p) => p.text)).toEqual(['The #Tomatoes are ripening early this year']);
    expect(ok(['search', '#tomatoes'], 'carol')).toMatch(/^alice@\S+ · .*\n {2}The #Tomatoes are ripening early this year\n {2}\S+\/\S+$/);
    expect(ok(['search', '@gardener'], 'carol')).toBe(`alice@${host}  Alice Gardener`);
    expect(ok(['search', 'zucchini'], 'carol')).toBe('nothing matches "zucchini" in your replica');
    expect(fh(['search'], 'carol').code).toBe(2);
  }, 120_000);
});
