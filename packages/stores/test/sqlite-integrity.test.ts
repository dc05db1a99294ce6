import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isFreeholdError, type EntryRow } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';

const checked = { integrity: { quickCheck: true, acceptDataLoss: false } };
const accepting = { integrity: { quickCheck: true, acceptDataLoss: true } };
let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const row = (i: number): EntryRow => {
  const [space, doc] = [new Uint8Array(32), new Uint8Array(16)];
  return { id: randomBytes(32), space, doc, kind: 1, device: randomBytes(32), seq: i + 1, time: i, bytes: randomBytes(100) };
};
const rows = (n: number): EntryRow[] => Array.from({ length: n }, (_, i) => row(i));

/** A checked store at dir/provider.db holding `n` entries, closed. */
async function filled(n: number): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'freehold-integrity-'));
  const path = join(dir, 'provider.db');
  const s = new SqliteStore(path, checked);
  await s.putEntries(rows(n));
  await s.close();
  return path;
}

function refusal(open: () => unknown): string {
  try {
    open();
  } catch (e) {
    if (isFreeholdError(e, 'damaged')) return e.message;
    throw e;
  }
  throw new Error('the store opened');
}

/** The entries count of the commit record's newest intact slot (bytes 36..44 of a slot, see sqlite-record.ts). */
function recorded(path: string): number {
  const b = Buffer.alloc(1024);
  const fd = openSync(`${path}.commit`, 'r');
  readSync(fd, b, 0, 1024, 0);
  closeSync(fd);
  return Math.max(Number(b.readBigUInt64BE(36)), Number(b.readBigUInt64BE(512 + 36)));
}

describe('SQLite commit record', () => {
  it('covers every write by the time the write resolves', async () => {
    const path = await filled(0);
    const s = new SqliteStore(path, checked);
    for (let i = 1; i <= 5; i++) {
      await s.putEntries(rows(10));
      expect(recorded(path)).toBe(i * 10);
    }
    await s.close();
  });

  it('survives one torn slot and refuses when both are spoiled', async () => {
    const path = await filled(10);
    const spoil = (at: number) => {
      const fd = openSync(`${path}.commit`, 'r+');
      writeSync(fd, randomBytes(56), 0, 56, at);
      closeSync(fd);
    };
    spoil(0);
    await new SqliteStore(path, checked).close();
    spoil(0);
    spoil(512);
    expect(refusal(() => new SqliteStore(path, checked))).toContain('neither of its copies is intact');
    await new SqliteStore(path, accepting).close();
    await new SqliteStore(path, checked).close();
  });

  it('refuses a database with a history but no record, and one the record was not kept for', async () => {
    const path = await filled(10);
    renameSync(`${path}.commit`, join(dir, 'kept.commit'));
    expect(refusal(() => new SqliteStore(path, checked))).toContain('is missing, so missing writes cannot be counted');
    await new SqliteStore(path, accepting).close();
    await new SqliteStore(path, checked).close();
    // A fresh database beside the first one's record.
    rmSync(path);
    rmSync(`${path}.commit`);
    await new SqliteStore(path, checked).close();
    copyFileSync(join(dir, 'kept.commit'), `${path}.commit`);
    expect(refusal(() => new SqliteStore(path, checked))).toContain('is not the database');
  });

  it('refuses a database that lost acknowledged entries, counting them', async () => {
    const path = await filled(10);
    copyFileSync(path, join(dir, 'old.db'));
    const s = new SqliteStore(path, checked);
    await s.putEntries(rows(7));
    await s.close();
    copyFileSync(join(dir, 'old.db'), path);
    const message = refusal(() => new SqliteStore(path, checked));
    expect(message).toMatch(/^7 acknowledged entries are missing from .*provider\.db \(1 write transaction in all/);
  });
});
