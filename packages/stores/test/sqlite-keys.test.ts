import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { toHex, type EntryRow } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';

const dir = mkdtempSync(join(tmpdir(), 'freehold-sqlite-keys-'));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const space = new Uint8Array(32).fill(1);
const device = new Uint8Array(32).fill(2);
const entry = (n: number): EntryRow => ({ id: new Uint8Array(32).fill(n), space, doc: new Uint8Array(16), kind: 1, device, seq: n, time: 1000 + n, bytes: new Uint8Array([n]) });

it('a second process writing to the same file is seen by keys this one read before', async () => {
  const path = join(dir, 'replica.db');
  const [a, b] = [new SqliteStore(path), new SqliteStore(path)];
  await a.putEntries([entry(1)]);
  expect((await a.keys(space)).map((k) => toHex(k.id))).toEqual([toHex(entry(1).id)]);
  await b.putEntries([entry(2)]);
  await b.deleteEntries([entry(1).id]);
  expect((await a.keys(space)).map((k) => toHex(k.id))).toEqual([toHex(entry(2).id)]);
  await Promise.all([a.close(), b.close()]);
});
