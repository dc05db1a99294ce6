import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../server/test/process.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-move-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { fh, ok, eventually } = cli(root);

interface MoveJson {
  from: string;
  to: string;
  spaces: { space: string; local?: { entries: number; fingerprint: string }; to?: { fingerprint: string }; from?: { fingerprint: string }; complete: boolean }[];
  handles: { claimed: string[]; dropped: string[] };
  retired: { done: boolean; told: boolean };
}

const postIds = (json: string): string[] => (JSON.parse(json) as { id: string }[]).map((p) => p.id).sort();

describe('moving to another provider, as the account and its contacts see it', () => {
  it('Alice moves from P1 to P4; P1 is killed and its data deleted; Bob (P3) and Carol (P2) carry on without doing anything', async () => {
    const servers = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((d) => spawnServer(['--port', '0', '--data', join(root, d)])));
    const [p1, p2, p3, p4] = servers as [(typeof servers)[0], (typeof servers)[0], (typeof servers)[0], (typeof servers)[0]];
    const [h1, h3, h4] = [p1.url, p3.url, p4.url].map((u) => new URL(u).host);
    try {
      ok(['init', '--name', 'alice', '--phrase-file', join(root, 'alice.phrase')], 'alice');
      ok(['provider', 'add', p1.url], 'alice');
      ok(['handle', 'claim', 'alice'], 'alice');
      ok(['profile', '--name', 'Alice'], 'alice');
      ok(['post', 'old public'], 'alice');
      ok(['post', 'old friends', '--friends'], 'alice');
      for (const [who, p] of [['bob', p3], ['carol', p2]] as const) {
        ok(['init', '--name', who], who);
        ok(['provider', 'add', p.url], who);
        ok(['handle', 'claim', who], who);
        ok(['follow', `alice@${h1}`], who);
      }
      const alice = accountOf(ok, 'alice');
      const bob = accountOf(ok, 'bob');
      const carol = accountOf(ok, 'carol');
      await eventually(['followers', '--json'], 'alice', new RegExp(carol));
      ok(['followers', 'approve', bob], 'alice');
      ok(['follow', `bob@${h3}`], 'alice');
      expect(await eventually(['feed'], 'bob', /old friends/)).toMatch(/old public/);

      // A second device of Alice's, and an export of her replica, both from before the move.
      expect(fh(['recover', '--offline', '--name', 'phone'], 'alice-phone', readFileSync(join(root, 'alice.phrase'), 'utf8')).code).toBe(0);
      expect(ok(['sync', '--with', join(root, 'alice')], 'alice-phone')).toMatch(/recovery finished/);
      ok(['export', join(root, 'alice.export')], 'alice');
      ok(['post', 'written after the export'], 'alice');

      const moved = JSON.parse(ok(['provider', 'move', p1.url, p4.url, '--json'], 'alice')) as MoveJson;
      // public, friends, inbox and private: every space of the account.
      expect(moved.spaces.length).toBe(4);
      for (const s of moved.spaces) {
        expect(s.complete).toBe(true);
        expect(s.to?.fingerprint).toBe(s.local?.fingerprint);
        expect(s.from?.fingerprint).toBe(s.local?.fingerprint);
      }
      expect(moved.handles).toEqual({ claimed: [`alice@${h4}`], dropped: [`alice@${h1}`], kept: [] });
      expect(moved.retired).toEqual({ done: true, told: true });
      expect((JSON.parse(ok(['provider', 'list', '--json'], 'alice')) as { url: string }[]).map((p) => p.url)).toEqual([p4.url]);
      expect(JSON.parse(ok(['resolve', `alice@${h4}`, '--json'])) as { account: string; providers: string[] }).toMatchObject({ account: alice, providers: [p4.url] });

      // The phone still knows P1 only: P1 tells it where the account went, and it follows, with one warning.
      const phone = fh(['sync'], 'alice-phone');
      expect(phone.code, phone.err).toBe(0);
      expect(phone.err.split('\n').filter((l) => /no longer hosts this account/.test(l))).toEqual([
        `freehold: warning: ${h1} no longer hosts this account; its log names ${h4} (syncing there instead)`,
      ]);
      expect(phone.out).toMatch(new RegExp(`^${h4}: received`, 'm'));
      expect((JSON.parse(ok(['provider', 'list', '--json'], 'alice-phone')) as { url: string }[]).map((p) => p.url)).toEqual([p4.url]);

      // The export from before the move, imported on a fresh device recovered from the phrase, then synced with P4:
      // nothing is missing, what was written after the export included.
      expect(fh(['recover', '--offline', '--name', 'restored'], 'alice-restored', readFileSync(join(root, 'alice.phrase'), 'utf8')).code).toBe(0);
      expect(ok(['import', join(root, 'alice.export')], 'alice-restored')).toMatch(/recovery finished/);
      expect((JSON.parse(ok(['provider', 'list', '--json'], 'alice-restored')) as { url: string }[]).map((p) => p.url)).toEqual([p4.url]);
      ok(['sync'], 'alice-restored');
      expect(postIds(ok(['feed', '--json'], 'alice-restored'))).toEqual(postIds(ok(['feed', '--json'], 'alice')));
      expect(ok(['feed'], 'alice-restored')).toMatch(/written after the export/);
      expect(ok(['followers', '--json'], 'alice-restored')).toBe(ok(['followers', '--json'], 'alice'));

      // P1 goes for good, data and all.
      await p1.stop('SIGKILL');
      rmSync(join(root, 'p1'), { recursive: true, force: true });
      ok(['post', 'new public'], 'alice');
      ok(['post', 'new friends', '--friends'], 'alice');

      // Bob, whose client is started afresh for each command and still holds Alice's old card, sees it all.
      const all = (...texts: string[]) => new RegExp(texts.map((t) => `(?=[\\s\\S]*${t})`).join(''));
      const bobFeed = await eventually(['feed'], 'bob', all('old public', 'old friends', 'new public', 'new friends'));
      expect(bobFeed).toMatch(all('old public', 'old friends', 'new public', 'new friends'));
      expect(bobFeed).toContain(`alice@${h4}`);
      // Carol is approved after the move, and then reads the friends-only posts, old and new.
      const before = await eventually(['feed'], 'carol', all('old public', 'new public'));
      expect(before).toMatch(all('old public', 'new public'));
      expect(before).not.toMatch(/friends/);
      ok(['followers', 'approve', carol], 'alice');
      expect(await eventually(['feed'], 'carol', all('old friends', 'new friends'))).toMatch(all('old friends', 'new friends'));

      // Messages both ways, by handle or by account id; nobody names P1.
      ok(['dm', `alice@${h4}`, 'bob to alice'], 'bob');
      ok(['dm', alice, 'carol to alice'], 'carol');
      ok(['dm', `bob@${h3}`, 'alice to bob'], 'alice');
      expect(await eventually(['inbox'], 'alice', /carol to alice/)).toMatch(/bob to alice/);
      expect(await eventually(['inbox'], 'bob', /alice to bob/)).toMatch(/alice to bob/);

      // Unfollowing and following again work as before.
      ok(['unfollow', alice], 'bob');
      expect(ok(['feed'], 'bob')).not.toMatch(/old public/);
      ok(['follow', `alice@${h4}`], 'bob');
      expect(await eventually(['feed'], 'bob', /old public/)).toMatch(/new friends/);
      // P1's handle is gone with P1; Bob never needed it after the first follow.
      expect(fh(['resolve', `alice@${h1}`]).code).toBe(1);
    } finally {
      for (const s of servers) await s.stop();
    }
  }, 400_000);
});
