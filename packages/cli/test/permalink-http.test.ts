import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';
import { cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-permalink-'));
const { ok } = cli(root);
const AS = { accept: 'application/activity+json' };

interface Note {
  id: string;
  type: string;
  content: string;
  url: string;
  attributedTo: string;
  inReplyTo?: string;
}

describe('post permalinks on the provider’s public pages: /@NAME/POSTID', () => {
  let server: Awaited<ReturnType<typeof spawnServer>>;
  const ids: Record<string, string> = {};
  const post = (home: string, key: string, args: string[]) => (ids[key] = ok(['post', ...args], home).split('/')[1]!);

  beforeAll(async () => {
    server = await spawnServer(['--port', '0', '--data', join(root, 'srv')]);
    for (const who of ['alice', 'bob']) {
      ok(['init', '--name', who], who);
      ok(['provider', 'add', server.url], who);
      ok(['handle', 'claim', who], who);
      ok(['profile', '--name', who === 'alice' ? 'Alice <3' : 'Bob'], who);
    }
    post('alice', 'public', ['Hello from a permalink & more']);
    post('alice', 'friends', ['Only for friends', '--friends']);
    post('alice', 'gone', ['Soon deleted']);
    ok(['delete', ids.gone!], 'alice');
    post('alice', 'self-reply', ['And a reply to myself', '--reply-to', ids.public!]);
    ok(['follow', `alice@${new URL(server.url).host}`], 'bob');
    post('bob', 'reply', ['Bob answers', '--reply-to', ids.public!]);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('renders a public post as HTML without JavaScript, and as an ActivityStreams Note', async () => {
    const res = await fetch(`${server.url}/@alice/${ids.public}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    const html = await res.text();
    expect(html).toContain('Hello from a permalink &#38; more');
    expect(html).toContain('Alice &#60;3');
    expect(html).not.toContain('And a reply to myself');
    expect(html).toContain('application/ld+json');

    const json = await fetch(`${server.url}/@alice/${ids.public}`, { headers: AS });
    expect(json.headers.get('content-type')).toMatch(/application\/activity\+json/);
    const note = (await json.json()) as Note & { '@context': unknown };
    expect(note).toMatchObject({ id: `${server.url}/@alice/${ids.public}`, type: 'Note', content: 'Hello from a permalink & more', attributedTo: `${server.url}/@alice` });
    expect(note['@context']).toBeTypeOf('object');
  });

  it('answers 404 for a friends-only post, a deleted one, an unknown id, and what is not a post id', async () => {
    for (const path of [`/@alice/${ids.friends}`, `/@alice/${ids.gone}`, '/@alice/1111111111111111111111', '/@alice/not-an-id!', '/@alice/%3Cscript%3E', `/@nobody/${ids.public}`]) {
      const html = await fetch(`${server.url}${path}`);
      expect(html.status, path).toBe(404);
      expect(await html.text(), path).not.toMatch(/Only for friends|Soon deleted|<script>/);
      const json = await fetch(`${server.url}${path}`, { headers: AS });
      expect(json.status, path).toBe(404);
      expect(((await json.json()) as { error: string }).error).toBe('not-found');
    }
    // Bob's post is his, not Alice's.
    expect((await fetch(`${server.url}/@alice/${ids.reply}`)).status).toBe(404);
    // An id far too long is not looked up at all.
    expect((await fetch(`${server.url}/@alice/${'x'.repeat(200)}`)).status).toBe(404);
  });

  it('resolves every id the actor and its outbox name, and replies point at their post’s permalink', async () => {
    const actor = (await (await fetch(`${server.url}/@alice`, { headers: AS })).json()) as { id: string; outbox: { orderedItems: Note[] } };
    const notes = actor.outbox.orderedItems;
    expect(notes.map((n) => n.content).sort()).toEqual(['And a reply to myself', 'Hello from a permalink & more']);
    expect((await fetch(actor.id, { headers: AS })).status).toBe(200);
    for (const n of notes) {
      expect(n.url).toBe(n.id);
      const got = (await (await fetch(n.id, { headers: AS })).json()) as Note;
      expect(got).toMatchObject({ id: n.id, content: n.content });
    }
    const mine = notes.find((n) => n.content === 'And a reply to myself')!;
    expect(mine.inReplyTo).toBe(`${server.url}/@alice/${ids.public}`);
    // A reply by someone else with a handle here points at the permalink too, which answers.
    const bobs = (await (await fetch(`${server.url}/@bob/${ids.reply}`, { headers: AS })).json()) as Note;
    expect(bobs.inReplyTo).toBe(`${server.url}/@alice/${ids.public}`);
    expect((await fetch(bobs.inReplyTo!, { headers: AS })).status).toBe(200);
    // The profile page links each post to its permalink.
    expect(await (await fetch(`${server.url}/@alice`)).text()).toContain(`href="${server.url}/@alice/${ids.public}"`);
  });
});
