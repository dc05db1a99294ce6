import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'freehold-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs the real `freehold` binary as a user would, in its own process. */
function fh(home: string, args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(root, home)], { input, encoding: 'utf8', cwd: root, env: { ...process.env, FREEHOLD_HOME: '' } });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}

function ok(home: string, args: string[], input?: string): string {
  const r = fh(home, args, input);
  expect(r.err, `freehold ${args.join(' ')}`).toBe('');
  expect(r.code, `freehold ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function fails(home: string, args: string[], pattern: RegExp): Run {
  const r = fh(home, args);
  expect(r.code).not.toBe(0);
  expect(r.err.split('\n')).toHaveLength(1);
  expect(r.err).toMatch(pattern);
  return r;
}

const account = (home: string) => (JSON.parse(ok(home, ['whoami', '--json'])) as { account: string }).account;

describe('freehold CLI end to end', () => {
  it('init prints the account and the phrase once; --phrase-file writes it with mode 600 instead', () => {
    const out = ok('p1', ['init', '--name', 'pat']);
    expect(out).toMatch(/^account [1-9A-HJ-NP-Za-km-z]{40,50}$/m);
    expect(out.split('\n').find((l) => /^\s+\w+( \w+){23}$/.test(l))).toBeDefined();
    const file = join(root, 'p2.phrase');
    const out2 = ok('p2', ['init', '--phrase-file', file]);
    expect(out2).not.toMatch(/(\w+ ){23}\w+/);
    expect(readFileSync(file, 'utf8').trim().split(/\s+/)).toHaveLength(24);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'p2', 'profile.json')).mode & 0o777).toBe(0o600);
    const who = JSON.parse(ok('p1', ['whoami', '--json']));
    expect(Object.keys(who)).toEqual(['account', 'device', 'name']);
    expect(who.name).toBe('pat');
    fails('p1', ['init'], /already exists/);
  });

  it('shares a space between two people, enforces roles and converges both ways', () => {
    ok('alice', ['init', '--name', 'alice']);
    ok('bob', ['init', '--name', 'bob']);
    const bob = account('bob');
    writeFileSync(join(root, 'bob.card'), ok('bob', ['card']));
    ok('alice', ['card', join(root, 'alice.card')]);
    fails('alice', ['space', 'add', 'nope', bob, '--role', 'writer'], /no space named "nope"/);
    const space = ok('alice', ['space', 'create', 'notes']);
    expect(space).toMatch(/^[1-9A-HJ-NP-Za-km-z]{40,50}$/);
    fails('alice', ['space', 'add', 'notes', bob, '--role', 'writer'], /no contact card/);
    expect(ok('alice', ['contact', 'add', join(root, 'bob.card')])).toMatch(/added/);
    ok('bob', ['contact', 'add', join(root, 'alice.card')]);
    fails('alice', ['space', 'add', 'notes', bob, '--role', 'owner'], /--role must be one of/);
    ok('alice', ['space', 'add', 'notes', bob, '--role', 'reader']);
    ok('alice', ['doc', 'put', 'notes', 'todo', '--json', '{"title":"milk","n":1}']);
    fails('alice', ['doc', 'put', 'notes', 'todo', '--json', '[1]'], /JSON object/);
    fails('alice', ['doc', 'put', 'notes', 'todo', '--json', '{oops'], /not valid JSON/);
    expect(ok('alice', ['sync', '--with', join(root, 'bob')])).toMatch(/sent \d+/);
    expect(JSON.parse(ok('bob', ['doc', 'get', space, 'todo', '--json']))).toEqual({ title: 'milk', n: 1 });
    // A reader cannot write: refused before anything is written.
    const before = ok('bob', ['space', 'list', '--json']);
    fails('bob', ['doc', 'put', space, 'todo', '--json', '{"n":2}'], /reader .* cannot write/);
    fails('bob', ['space', 'add', space, bob, '--role', 'admin'], /only an admin/);
    expect(ok('bob', ['space', 'list', '--json'])).toBe(before);
    // Promote Bob; his offline edit and Alice's merge.
    ok('alice', ['space', 'add', 'notes', bob, '--role', 'writer']);
    ok('alice', ['sync', '--with', join(root, 'bob')]);
    ok('bob', ['doc', 'put', space, 'todo', '--json', '{"n":2,"by":"bob"}']);
    ok('alice', ['doc', 'put', 'notes', 'todo', '--json', '{"title":"oat milk"}']);
    ok('bob', ['sync', '--with', join(root, 'alice')]);
    const a = JSON.parse(ok('alice', ['doc', 'get', 'notes', 'todo', '--json']));
    const b = JSON.parse(ok('bob', ['doc', 'get', space, 'todo', '--json']));
    expect(a).toEqual({ title: 'oat milk', n: 2, by: 'bob' });
    expect(b).toEqual(a);
    const members = JSON.parse(ok('alice', ['space', 'members', 'notes', '--json'])) as { account: string; role: string }[];
    expect(members.map((m) => m.role).sort()).toEqual(['admin', 'writer']);
    expect(JSON.parse(ok('alice', ['doc', 'list', 'notes', '--json']))).toEqual(['todo']);
    const list = JSON.parse(ok('bob', ['space', 'list', '--json'])) as { id: string; name: string; role: string }[];
    expect(list).toEqual([expect.objectContaining({ id: space, name: 'notes', role: 'writer', public: false })]);
    // Removal: Bob's later edits are not accepted by Alice.
    ok('alice', ['space', 'remove', 'notes', bob]);
    ok('bob', ['doc', 'put', space, 'todo', '--json', '{"n":3}']);
    // Bob learns of his removal in the sync; his late edit is dropped on both sides (refused or evicted).
    expect(ok('bob', ['sync', '--with', join(root, 'alice')])).toMatch(/synced/);
    expect(JSON.parse(ok('alice', ['doc', 'get', 'notes', 'todo', '--json'])).n).toBe(2);
    expect(JSON.parse(ok('bob', ['space', 'list', '--json']))[0].role).toBe(null);
  });

  it('recovers an account from the phrase and an export, on a fresh profile', () => {
    const phraseFile = join(root, 'carol.phrase');
    ok('carol', ['init', '--name', 'carol', '--phrase-file', phraseFile]);
    ok('carol', ['space', 'create', 'journal']);
    ok('carol', ['space', 'create', 'blog', '--public']);
    ok('carol', ['doc', 'put', 'journal', 'day1', '--json', '{"mood":"good"}']);
    ok('carol', ['doc', 'put', 'blog', 'hello', '--json', '{"text":"hi"}']);
    const exportFile = join(root, 'carol.export');
    ok('carol', ['export', exportFile]);
    const phrase = readFileSync(phraseFile, 'utf8');
    const rec = ok('carol2', ['recover', '--offline', '--name', 'carol'], phrase);
    expect(rec).toContain(account('carol'));
    fails('carol2', ['space', 'list'], /recovery is not finished/);
    expect(ok('carol2', ['import', exportFile])).toMatch(/recovery finished/);
    const spaces = JSON.parse(ok('carol2', ['space', 'list', '--json'])) as { id: string; name: string }[];
    expect(spaces.map((s) => s.name).sort()).toEqual(['blog', 'journal']);
    const journal = spaces.find((s) => s.name === 'journal')!.id;
    expect(JSON.parse(ok('carol2', ['doc', 'get', journal, 'day1', '--json']))).toEqual({ mood: 'good' });
    const devices = JSON.parse(ok('carol2', ['device', 'list', '--json'])) as { device: string; current: boolean; revoked: boolean }[];
    expect(devices).toHaveLength(2);
    // The recovered device revokes the lost one; the lost one's later writes are refused.
    const lost = devices.find((d) => !d.current)!.device;
    expect(ok('carol2', ['device', 'revoke', lost])).toMatch(/rotated keys of 1 space/);
    expect(ok('carol2', ['device', 'list'])).toMatch(/\[revoked\]/);
    ok('carol', ['doc', 'put', 'journal', 'day2', '--json', '{"mood":"stolen"}']);
    expect(ok('carol2', ['sync', '--with', join(root, 'carol')])).toMatch(/synced/);
    fails('carol2', ['doc', 'get', journal, 'day2'], /no document "day2"/);
    // The lost device learnt of its revocation in that sync and dropped what it signed afterwards.
    expect(JSON.parse(ok('carol', ['doc', 'list', 'journal', '--json']))).toEqual(['day1']);
    // A new phrase replaces the old one: the old phrase can no longer add a device.
    const newPhrase = join(root, 'carol.phrase2');
    expect(ok('carol2', ['recovery', 'rotate', '--phrase-file', newPhrase])).toMatch(/--account/);
    expect(readFileSync(newPhrase, 'utf8')).not.toBe(phrase);
    const exportAfter = join(root, 'carol2.export');
    ok('carol2', ['export', exportAfter]);
    ok('carol5', ['recover', '--offline'], phrase);
    fails('carol5', ['import', exportAfter], /recovery phrase was replaced by a newer one/);
    ok('carol6', ['recover', '--offline', '--account', account('carol2')], readFileSync(newPhrase, 'utf8'));
    expect(ok('carol6', ['import', exportAfter])).toMatch(/recovery finished/);
    fails('carol3', ['recover'], /no recovery phrase/);
    expect(fh('carol4', ['recover'], 'abandon '.repeat(24)).err).toMatch(/not valid/);
  });

  it('explains bad input in one line and exits non-zero', () => {
    expect(fh('x', ['frobnicate']).code).toBe(2);
    // The unknown command is named alone, not with its arguments; an unknown subcommand with its group.
    expect(fails('x', ['frobnicate', 'hello'], /unknown command/).err).toMatch(/^freehold: unknown command "frobnicate" \(/);
    expect(fails('x', ['space', 'frobnicate'], /unknown command/).err).toMatch(/^freehold: unknown command "space frobnicate" \(/);
    fails('nobody', ['whoami'], /no Freehold profile .* run `freehold init`/);
    fails('alice', ['space', 'create'], /expected 1 argument/);
    fails('alice', ['whoami', '--bogus'], /Unknown option '--bogus'/);
    fails('alice', ['space', 'add', 'notes', 'not-an-id', '--role', 'reader'], /not a valid id|not a 32-byte id/);
    fails('alice', ['contact', 'add', join(root, 'missing.card')], /file not found/);
    writeFileSync(join(root, 'junk.card'), 'bm9wZQ==');
    fails('alice', ['contact', 'add', join(root, 'junk.card')], /malformed|CBOR|expected/);
    fails('alice', ['import', join(root, 'junk.card')], /not .*CBOR|not a Freehold export|malformed/);
    fails('alice', ['sync'], /no provider: .freehold provider add URL., or .freehold sync --with DIR./);
    expect(ok('alice', ['--help'])).toMatch(/space create NAME/);
  });

  it('says in one line that the port of `serve` is taken, and exits', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = fh('x', ['serve', '--host', '127.0.0.1', '--port', String(port), '--data', join(root, 'busy-data')]);
      expect(r.code).toBe(1);
      expect(r.err).toBe(`freehold: 127.0.0.1:${port} is already in use (another freehold serve, or another program) [unavailable]`);
      // No stack trace anywhere: standard output carries only the provider's JSON log lines.
      for (const line of r.out.split('\n').filter(Boolean)) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    } finally {
      busy.close();
    }
  });
});
