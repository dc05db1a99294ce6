import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, toId } from '@freehold/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';

const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'freehold-cli-net-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fh(args: string[], home?: string, input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args, ...(home ? ['--home', join(root, home)] : [])], { input, encoding: 'utf8', cwd: root });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}
function ok(args: string[], home?: string): string {
  const r = fh(args, home);
  expect(r.code, `freehold ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

describe('freehold CLI with a provider', () => {
  let server: ReturnType<typeof spawn>;
  let url = '';
  const data = join(root, 'srv');

  beforeAll(async () => {
    server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--data', data, '--quota', '200KB'], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => {
        const m = /"url":"([^"]+)"/.exec(d.toString());
        if (m) resolve(m[1]!);
      });
      server.on('exit', (c) => reject(new Error(`serve exited ${c}`)));
    });
  });
  afterAll(() => {
    server.kill('SIGTERM');
  });

  it('registers, claims handles, shares by handle, syncs and watches live', async () => {
    const host = new URL(url).host;
    ok(['init', '--name', 'alice'], 'alice');
    ok(['init', '--name', 'bob'], 'bob');
    expect(fh(['provider', 'add', 'http://127.0.0.1:1'], 'alice').err).toMatch(/cannot reach a Freehold provider/);
    expect(ok(['provider', 'add', url], 'alice')).toMatch(/registered with .*quota 195\.3 KiB/);
    // Bob knows the provider by another of its names: his log lists the canonical one.
    ok(['provider', 'add', url.replace('//localhost:', '//127.0.0.1:')], 'bob');
    expect(JSON.parse(ok(['provider', 'list', '--json'], 'alice'))).toEqual([{ url, status: 'current' }]);
    expect(JSON.parse(ok(['provider', 'list', '--json'], 'bob'))).toEqual([{ url, status: 'current' }]);
    expect(ok(['handle', 'claim', 'alice'], 'alice')).toBe(`alice@${host}`);
    expect(ok(['handle', 'claim', 'bob'], 'bob')).toBe(`bob@${host}`);
    expect(fh(['handle', 'claim', 'alice'], 'bob').err).toMatch(/already taken/);
    const bobAccount = JSON.parse(ok(['whoami', '--json'], 'bob')).account;
    expect(JSON.parse(ok(['resolve', `bob@${host}`, '--json'])).account).toBe(bobAccount);
    expect(fh(['resolve', `carol@${host}`]).err).toMatch(/does not exist/);

    // By account id, with no contact card: the provider knows Carol's log, so Alice's client fetches it.
    ok(['init', '--name', 'carol'], 'carol');
    ok(['provider', 'add', url], 'carol');
    const carolAccount = JSON.parse(ok(['whoami', '--json'], 'carol')).account;
    ok(['space', 'create', 'shared-by-id'], 'alice');
    expect(ok(['space', 'add', 'shared-by-id', carolAccount, '--role', 'reader'], 'alice')).toMatch(/is now reader/);
    const stranger = toId(randomBytes(32));
    expect(fh(['space', 'add', 'shared-by-id', stranger, '--role', 'reader'], 'alice').err).toMatch(/none of your providers knows/);
    const res = (await (await fetch(`${url}/.well-known/freehold/accounts/${carolAccount}`)).json()) as { providers: string[] };
    expect(res.providers).toEqual([url]);

    // Everyone here is on one provider: nothing goes to another one.
    expect(ok(['outbox'], 'alice')).toBe('nothing sent to other providers yet');
    expect(JSON.parse(ok(['outbox', '--json'], 'alice'))).toEqual([]);

    const space = ok(['space', 'create', 'plans'], 'alice');
    ok(['doc', 'put', 'plans', 'trip', '--json', '{"where":"alps"}'], 'alice');
    ok(['space', 'add', 'plans', `bob@${host}`, '--role', 'writer'], 'alice');
    expect(ok(['sync'], 'alice')).toMatch(/sent [1-9]\d* /);
    expect(ok(['sync'], 'bob')).toMatch(/received [1-9]\d* entries/);
    expect(JSON.parse(ok(['doc', 'get', space, 'trip', '--json'], 'bob'))).toEqual({ where: 'alps' });

    // Bob watches; Alice's next edit arrives without Bob asking.
    const watch = spawn(process.execPath, [BIN, 'sync', '--watch', '--home', join(root, 'bob')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    watch.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    await waitFor(() => /watching 1 spaces/.test(seen));
    ok(['doc', 'put', 'plans', 'trip', '--json', '{"when":"july"}'], 'alice');
    ok(['sync'], 'alice');
    await waitFor(() => /new entr/.test(seen));
    watch.kill('SIGINT');
    await new Promise((r) => watch.on('exit', r));
    expect(JSON.parse(ok(['doc', 'get', space, 'trip', '--json'], 'bob'))).toEqual({ where: 'alps', when: 'july' });
  });

  it('refuses a write over quota with a clear message, and the operator can raise the quota', () => {
    // One command-line argument holds at most 128 KiB, so two large edits.
    ok(['doc', 'put', 'plans', 'big1', '--json', JSON.stringify({ blob: 'x'.repeat(110_000) })], 'alice');
    expect(ok(['sync'], 'alice')).not.toMatch(/refused/);
    ok(['doc', 'put', 'plans', 'big2', '--json', JSON.stringify({ blob: 'y'.repeat(110_000) })], 'alice');
    expect(ok(['sync'], 'alice')).toMatch(/refused 1 entry: over quota: .* \[quota-exceeded\]/);
    const alice = JSON.parse(ok(['whoami', '--json'], 'alice')).account;
    const usage = JSON.parse(ok(['admin', 'usage', '--json', '--data', data])) as { account: string; quota: number; used: number }[];
    expect(usage.find((u) => u.account === alice)!.quota).toBe(200_000);
    expect(ok(['admin', 'quota', alice, '1MiB', '--data', data])).toMatch(/quota 1\.0 MiB/);
    expect(fh(['admin', 'quota', alice, 'lots', '--data', data]).err).toMatch(/not a size/);
  });
});

describe('freehold CLI with two providers, one of them down', () => {
  const servers: Awaited<ReturnType<typeof spawnServer>>[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });
  const entriesAt = async (url: string) => ((await (await fetch(`${url}/healthz`)).json()) as { entries: number }).entries;

  it('warns once about the one that is down and syncs with the other; fails only when none answers', async () => {
    const p1 = await spawnServer(['--port', '0', '--data', join(root, 'p1')]);
    const p2 = await spawnServer(['--port', '0', '--data', join(root, 'p2')]);
    servers.push(p1, p2);
    ok(['init', '--name', 'erin'], 'erin');
    ok(['provider', 'add', p1.url], 'erin');
    ok(['provider', 'add', p2.url], 'erin');
    expect(ok(['handle', 'claim', 'erin', '--provider', p1.url], 'erin')).toBe(`erin@${new URL(p1.url).host}`);
    ok(['space', 'create', 'notes'], 'erin');
    ok(['sync'], 'erin');
    await p2.stop('SIGKILL');

    ok(['doc', 'put', 'notes', 'today', '--json', '{"text":"written with P2 down"}'], 'erin');
    const before = await entriesAt(p1.url);
    const sync = fh(['sync'], 'erin');
    expect(sync.code, sync.err).toBe(0);
    const warnings = sync.err.split('\n').filter(Boolean);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^freehold: warning: .*${new URL(p2.url).host}.*going on without it$`));
    expect(sync.out).toMatch(new RegExp(`^${new URL(p1.url).host}: received \\d+ entries, sent [1-9]`));
    expect(await entriesAt(p1.url)).toBeGreaterThan(before);

    // The microblog commands behave the same.
    const post = fh(['post', 'Posted while P2 is down'], 'erin');
    expect(post.code, post.err).toBe(0);
    expect(post.err.split('\n').filter(Boolean)).toHaveLength(1);
    const feed = fh(['feed', '--json'], 'erin');
    expect(JSON.parse(feed.out).map((p: { text: string }) => p.text)).toContain('Posted while P2 is down');

    await p1.stop('SIGKILL');
    const none = fh(['sync'], 'erin');
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^freehold: cannot reach .*; cannot reach .* \[unavailable\]$/);
  });
});

async function waitFor(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
