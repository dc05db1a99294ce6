import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';

const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'freehold-cli-recovery-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The real `freehold` binary in its own process; `env` adds variables (FREEHOLD_PROVIDERS). */
function fh(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(root, home)], {
    input: opts.input ?? '',
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, FREEHOLD_HOME: '', FREEHOLD_PROVIDERS: '', ...opts.env },
  });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}
function ok(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): string {
  const r = fh(home, args, opts);
  expect(r.code, `freehold ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}
/** A refusal: exit 1 and one line on stderr. */
function refused(home: string, args: string[], input: string, pattern: RegExp): void {
  const r = fh(home, args, { input });
  expect(r.code, r.err).toBe(1);
  expect(r.err.split('\n')).toHaveLength(1);
  expect(r.err).toMatch(pattern);
  expect(existsSync(join(root, home, 'profile.json')), 'a refused recovery leaves no profile').toBe(false);
}

/** Delivery between providers is asynchronous: asks again, as a person would, until the output shows `want`. */
async function eventually(home: string, args: string[], want: RegExp, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const out = ok(home, args);
    if (want.test(out) || Date.now() > end) return out;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const json = <T>(home: string, args: string[]): T => JSON.parse(ok(home, [...args, '--json'])) as T;
type SpaceRow = { id: string; name: string | null; public: boolean; role: string | null; entries: number };
/** The spaces this account can read (it may also hold the bare membership of others, such as inboxes it writes to). */
const readable = (rows: SpaceRow[]) => rows.filter((s) => s.public || s.role !== null).sort((a, b) => a.id.localeCompare(b.id));

describe('recovery from the phrase alone', () => {
  it('a fresh profile, with the old device wiped, ends with every space, document, post and message', async () => {
    const p1 = await spawnServer(['--port', '0', '--data', join(root, 'p1')]);
    const p2 = await spawnServer(['--port', '0', '--data', join(root, 'p2')]);
    const p3 = await spawnServer(['--port', '0', '--data', join(root, 'p3')]);
    try {
      const h1 = new URL(p1.url).host;
      const h3 = new URL(p3.url).host;
      const phraseFile = join(root, 'alice.phrase');
      // Alice lives at P1 and P2; Bob at P3; Carol at P2, where she shares a space with Alice.
      ok('alice', ['init', '--name', 'alice', '--phrase-file', phraseFile]);
      ok('alice', ['provider', 'add', p1.url]);
      ok('alice', ['provider', 'add', p2.url]);
      ok('alice', ['handle', 'claim', 'alice']);
      ok('alice', ['profile', '--name', 'Alice']);
      const alice = JSON.parse(ok('alice', ['whoami', '--json'])).account as string;
      ok('alice', ['space', 'create', 'notes']);
      ok('alice', ['doc', 'put', 'notes', 'todo', '--json', '{"title":"milk","n":1}']);
      ok('alice', ['doc', 'put', 'notes', 'todo', '--json', '{"n":2}']);
      ok('alice', ['space', 'create', 'blog', '--public']);
      ok('alice', ['doc', 'put', 'blog', 'hello', '--json', '{"text":"hi"}']);
      ok('alice', ['post', 'Public hello from Alice']);
      ok('alice', ['post', 'For friends only', '--friends']);
      ok('bob', ['init', '--name', 'bob']);
      ok('bob', ['provider', 'add', p3.url]);
      ok('bob', ['handle', 'claim', 'bob']);
      ok('bob', ['profile', '--name', 'Bob']);
      const bob = JSON.parse(ok('bob', ['whoami', '--json'])).account as string;
      ok('bob', ['follow', `alice@${h1}`]);
      ok('bob', ['post', 'Bob was here']);
      await eventually('alice', ['inbox'], /asked to follow you/);
      ok('alice', ['followers', 'approve', bob]);
      ok('alice', ['follow', `bob@${h3}`]);
      ok('bob', ['dm', `alice@${h1}`, 'psst from Bob']);
      await eventually('alice', ['inbox'], /message: psst from Bob/);
      ok('alice', ['dm', `bob@${h3}`, 'hi back']);
      await eventually('bob', ['feed'], /For friends only/);
      ok('carol', ['init', '--name', 'carol']);
      ok('carol', ['provider', 'add', p2.url]);
      ok('carol', ['space', 'create', 'garden']);
      ok('carol', ['doc', 'put', 'garden', 'plan', '--json', '{"plant":"tomatoes"}']);
      ok('carol', ['space', 'add', 'garden', alice, '--role', 'writer']);
      ok('carol', ['sync']);
      ok('alice', ['sync']);
      await eventually('alice', ['feed'], /Bob was here/);

      const spaces = readable(json<SpaceRow[]>('alice', ['space', 'list']));
      const feed = json<{ id: string; text: string }[]>('alice', ['feed']);
      const inbox = json<{ id: string; type: string; text?: string }[]>('alice', ['inbox']);
      // Her four microblog spaces (public, friends, inbox, private), notes and blog, Carol's garden, and Bob's public space (she follows him).
      expect(spaces, JSON.stringify(spaces)).toHaveLength(8);
      expect(spaces.map((s) => s.name)).toEqual(expect.arrayContaining(['notes', 'blog', 'garden']));
      expect(feed.map((i) => i.text).sort()).toEqual(['Bob was here', 'For friends only', 'Public hello from Alice']);
      expect(inbox.filter((m) => m.type === 'dm').map((m) => m.text).sort()).toEqual(['hi back', 'psst from Bob']);

      // The only device is lost: its profile is deleted. Recovery goes through Bob's provider, which knows
      // Alice's log (it mirrors her spaces); the log then names P1 and P2, where her data is.
      rmSync(join(root, 'alice'), { recursive: true });
      const phrase = readFileSync(phraseFile, 'utf8');
      const rec = ok('alice2', ['recover', '--name', 'alice', '--provider', p3.url], { input: phrase });
      expect(rec).toContain(`found account ${alice}`);
      expect(rec).toMatch(/added this device/);
      expect(rec).toMatch(/recovered: \d+ spaces/);
      // Right after `recover`, before any other command touches the network: every space, every entry.
      expect(readable(json<SpaceRow[]>('alice2', ['space', 'list']))).toEqual(spaces);
      expect(JSON.parse(ok('alice2', ['doc', 'get', 'notes', 'todo', '--json']))).toEqual({ title: 'milk', n: 2 });
      expect(JSON.parse(ok('alice2', ['doc', 'get', 'blog', 'hello', '--json']))).toEqual({ text: 'hi' });
      expect(JSON.parse(ok('alice2', ['doc', 'get', 'garden', 'plan', '--json']))).toEqual({ plant: 'tomatoes' });
      expect(json<typeof feed>('alice2', ['feed'])).toEqual(feed);
      expect(json<typeof inbox>('alice2', ['inbox'])).toEqual(inbox);
      const devices = json<{ current: boolean; revoked: boolean }[]>('alice2', ['device', 'list']);
      expect(devices).toHaveLength(2);

      // The new device is Alice to her contacts: Bob reads what it posts, and it reads what Bob sends.
      ok('alice2', ['post', 'Back from the phrase']);
      expect(await eventually('bob', ['feed'], /Back from the phrase/)).toMatch(/Back from the phrase/);
      ok('bob', ['dm', `alice@${h1}`, 'welcome back']);
      expect(await eventually('alice2', ['inbox'], /welcome back/)).toMatch(/welcome back/);

      // Without --provider: $FREEHOLD_PROVIDERS names where to look first, the phrase comes from a file.
      const viaEnv = ok('alice3', ['recover', '--phrase-file', phraseFile], { env: { FREEHOLD_PROVIDERS: p2.url } });
      expect(viaEnv).toMatch(/recovered: \d+ spaces/);
      expect(JSON.parse(ok('alice3', ['doc', 'get', 'notes', 'todo', '--json']))).toEqual({ title: 'milk', n: 2 });

      // Bad input: one line, exit 1, no profile left behind.
      const words = phrase.trim().split(/\s+/);
      // A misspelt word (BIP39 words differ in their first four letters, so this is none of them).
      refused('x1', ['recover', '--provider', p1.url], [`${words[0]}q`, ...words.slice(1)].join(' '), /not valid/);
      const strangerPhrase = join(root, 'stranger.phrase');
      ok('stranger', ['init', '--phrase-file', strangerPhrase]);
      refused('x2', ['recover', '--provider', p1.url, '--provider', p3.url], readFileSync(strangerPhrase, 'utf8'), /no provider knows account \w+, the one this phrase names \(asked .*\): check the words/);
      refused('x3', ['recover', '--provider', 'http://127.0.0.1:1'], phrase, /cannot reach a provider to recover from/);
      refused('x4', ['recover', '--provider', p1.url], '', /no recovery phrase on stdin/);
      const inArgv = fh('x5', ['recover', ...words]);
      expect(inArgv.code).toBe(2);
      expect(inArgv.err).toMatch(/never from the command line/);
      writeFileSync(join(root, 'empty.phrase'), '\n');
      refused('x6', ['recover', '--phrase-file', join(root, 'empty.phrase')], '', /holds no recovery phrase/);
    } finally {
      await Promise.all([p1.stop(), p2.stop(), p3.stop()]);
    }
  }, 300_000);
});
