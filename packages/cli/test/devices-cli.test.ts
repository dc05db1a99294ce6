import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCard, fromBase64, liveDevices } from '@freehold/core';
import { spawnServer } from '../../server/test/process.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-devices-'));
const { fh, ok } = cli(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface DeviceJson {
  device: string;
  name: string;
  current: boolean;
  revoked: boolean;
}
const devices = (home: string) => JSON.parse(ok(['device', 'list', '--json'], home)) as DeviceJson[];

describe('naming and revoking devices from the CLI', () => {
  it('renames a device by the start of its id, on every device and at the provider, and refuses bad names and ids', async () => {
    const server = await spawnServer(['--port', '0', '--data', join(root, 'srv')]);
    try {
      const phrase = join(root, 'alice.phrase');
      ok(['init', '--name', 'alice', '--phrase-file', phrase], 'alice');
      ok(['provider', 'add', server.url], 'alice');
      ok(['profile', '--name', 'Alice'], 'alice');
      ok(['recover', '--provider', server.url, '--phrase-file', phrase, '--name', 'laptop'], 'laptop');
      const laptop = devices('laptop').find((d) => d.current)!;
      ok(['sync'], 'alice');
      expect(devices('alice').map((d) => d.device)).toContain(laptop.device);

      // Seven characters of its id name it, as `device list` shows it.
      const prefix = laptop.device.slice(0, 7);
      expect(ok(['device', 'rename', prefix, '  Work laptop  '], 'alice')).toBe(`device ${prefix} is now named “Work laptop”`);
      expect(devices('alice').find((d) => d.device === laptop.device)!.name).toBe('Work laptop');
      // The provider serves the grown log at once, and the laptop takes it with its next sync.
      const served = (await (await fetch(`${server.url}/.well-known/freehold/accounts/${accountOf(ok, 'alice')}`)).json()) as { card: string };
      expect(liveDevices(decodeCard(fromBase64(served.card))).map((d) => d.name)).toContain('Work laptop');
      ok(['sync'], 'laptop');
      expect(devices('laptop').find((d) => d.current)!.name).toBe('Work laptop');
      // A device renames itself too.
      const me = devices('laptop').find((d) => !d.current)!.device;
      ok(['device', 'rename', me, 'Desktop'], 'laptop');
      ok(['sync'], 'alice');
      expect(devices('alice').find((d) => d.current)!.name).toBe('Desktop');

      const cases: [string[], number, RegExp][] = [
        [['device', 'rename', prefix, '   '], 2, /a device name is 1 to 200 characters \[invalid-argument\]$/],
        [['device', 'rename', prefix, 'x'.repeat(201)], 2, /a device name is 1 to 200 characters \[invalid-argument\]$/],
        [['device', 'rename', 'ab', 'Short'], 2, /"ab" is not a device id or the start of one \(at least 4 characters\) \[invalid-argument\]$/],
        [['device', 'rename', 'zzzzzzzz', 'Nobody'], 1, /no device id starting with "zzzzzzzz" that this replica knows \[not-found\]$/],
      ];
      for (const [args, code, want] of cases) {
        const r = fh(args, 'alice');
        expect(r.code, r.err).toBe(code);
        expect(r.err).toMatch(want);
      }
      expect(devices('alice').find((d) => d.device === laptop.device)!.name).toBe('Work laptop');

      // Revoked by the start of its id; a revoked device is not renamed.
      expect(ok(['device', 'revoke', prefix], 'alice')).toMatch(new RegExp(`^device ${prefix} revoked`));
      expect(devices('alice').find((d) => d.device === laptop.device)).toMatchObject({ revoked: true, name: 'Work laptop' });
      const late = fh(['device', 'rename', prefix, 'Back again'], 'alice');
      expect(late.code).toBe(1);
      expect(late.err).toMatch(/no live device of this account has that id \[not-found\]$/);
    } finally {
      await server.stop();
    }
  }, 180_000);

  it('a device of an account with no space yet takes the log another device grew, and grows it without a fork', async () => {
    const one = await spawnServer(['--port', '0', '--data', join(root, 'bare-one')]);
    const two = await spawnServer(['--port', '0', '--data', join(root, 'bare-two')]);
    try {
      const phrase = join(root, 'bare.phrase');
      ok(['init', '--name', 'bare', '--phrase-file', phrase], 'bare');
      ok(['provider', 'add', one.url], 'bare');
      // No profile, so no space: the log is all the account holds.
      ok(['recover', '--provider', one.url, '--phrase-file', phrase, '--name', 'phone'], 'phone');
      const phone = devices('phone').find((d) => d.current)!.device;
      ok(['sync'], 'bare');
      expect(devices('bare').map((d) => d.device)).toContain(phone);

      // The phone renames the first device and adds a provider; the first device's sync brings both in.
      const first = devices('bare').find((d) => d.current)!.device;
      ok(['device', 'rename', first, 'Desk'], 'phone');
      ok(['provider', 'add', two.url], 'phone');
      ok(['sync'], 'bare');
      expect(devices('bare').find((d) => d.current)!.name).toBe('Desk');
      const listed = (JSON.parse(ok(['provider', 'list', '--json'], 'bare')) as { url: string; status: string }[]).map((p) => [p.url, p.status]);
      expect(listed).toEqual([
        [one.url, 'current'],
        [two.url, 'current'],
      ]);

      // What the first device appends now follows the phone's records: no fork, and the phone is still a device.
      ok(['device', 'rename', phone, 'Pocket'], 'bare');
      ok(['sync'], 'phone');
      expect(devices('phone').find((d) => d.current)).toMatchObject({ name: 'Pocket', revoked: false });
      const served = (await (await fetch(`${one.url}/.well-known/freehold/accounts/${accountOf(ok, 'bare')}`)).json()) as { card: string };
      expect(liveDevices(decodeCard(fromBase64(served.card))).map((d) => d.name).sort()).toEqual(['Desk', 'Pocket']);
    } finally {
      await one.stop();
      await two.stop();
    }
  }, 180_000);
});
