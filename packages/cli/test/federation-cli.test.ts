import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';

const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'freehold-cli-fed-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fh(args: string[], home: string) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(root, home)], { encoding: 'utf8', cwd: root });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}
function ok(args: string[], home: string): string {
  const r = fh(args, home);
  expect(r.code, `freehold ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

/** Delivery between providers is asynchronous: asks again, as a person would, until the output shows `want`. */
async function eventually(args: string[], home: string, want: RegExp, ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const out = ok(args, home);
    if (want.test(out) || Date.now() > end) return out;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the microblog across providers, each person talking only to their own', () => {
  it('follow, post, read and message between accounts on different providers', async () => {
    const p1 = await spawnServer(['--port', '0', '--data', join(root, 'p1')]);
    const p3 = await spawnServer(['--port', '0', '--data', join(root, 'p3')]);
    try {
      const h1 = new URL(p1.url).host;
      const h3 = new URL(p3.url).host;
      ok(['init', '--name', 'alice'], 'alice');
      ok(['provider', 'add', p1.url], 'alice');
      ok(['handle', 'claim', 'alice'], 'alice');
      ok(['profile', '--name', 'Alice'], 'alice');
      ok(['post', 'Hello from P1'], 'alice');
      ok(['init', '--name', 'bob'], 'bob');
      ok(['provider', 'add', p3.url], 'bob');
      ok(['handle', 'claim', 'bob'], 'bob');
      ok(['profile', '--name', 'Bob'], 'bob');

      // Bob follows Alice: his provider mirrors her spaces from hers; he reads her post through P3.
      ok(['follow', `alice@${h1}`], 'bob');
      expect(await eventually(['feed'], 'bob', /Hello from P1/)).toMatch(/Hello from P1/);
      // Alice sees the follow request (delivered from P3 to P1) and follows back.
      expect(await eventually(['inbox'], 'alice', /asked to follow you/)).toMatch(/asked to follow you/);
      ok(['follow', `bob@${h3}`], 'alice');
      ok(['post', 'Hello from P3'], 'bob');
      expect(await eventually(['feed'], 'alice', /Hello from P3/)).toMatch(/Hello from P3/);
      // Messages both ways, each through the sender's own provider.
      ok(['dm', `alice@${h1}`, 'psst from Bob'], 'bob');
      expect(await eventually(['inbox'], 'alice', /message: psst from Bob/)).toMatch(/message: psst from Bob/);
      ok(['dm', `bob@${h3}`, 'hi back'], 'alice');
      expect(await eventually(['inbox'], 'bob', /message: hi back/)).toMatch(/message: hi back/);
      // Bob's outbox shows what went to P1, delivered.
      const delivered = /^(?![\s\S]*"pending")[\s\S]*"delivered"/;
      const out = JSON.parse(await eventually(['outbox', '--json'], 'bob', delivered)) as { delivery: { state: string; to?: string } }[];
      expect(out.length).toBeGreaterThan(0);
      expect(out.every((i) => i.delivery.state === 'delivered' && i.delivery.to === p1.url)).toBe(true);
      // Bob's client never needed P1: with P1 down, his feed still shows Alice's post from his own provider.
      await p1.stop();
      expect(ok(['feed'], 'bob')).toMatch(/Hello from P1/);
    } finally {
      await p1.stop();
      await p3.stop();
    }
  }, 240_000);
});
