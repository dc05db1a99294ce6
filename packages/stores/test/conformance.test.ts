import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, PostgresStore, SqliteStore } from '@freehold/stores';
import { afterEach, describe, expect, it } from 'vitest';
import { storeConformance, type TestApi } from '@freehold/stores/conformance';

const vitest = { describe, it, afterEach, expect } as unknown as TestApi;

storeConformance('memory', async () => {
  // One instance stands for "the same storage" across reopen.
  const store = new MemoryStore();
  return { open: async () => Object.assign(Object.create(store) as MemoryStore, { close: async () => {} }), cleanup: async () => {} };
}, vitest);

storeConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'freehold-sqlite-'));
  return { open: async () => new SqliteStore(join(dir, 'replica.db')), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}, vitest);

storeConformance('sqlite, checked at open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'freehold-sqlite-'));
  const integrity = { quickCheck: true, acceptDataLoss: false };
  return { open: async () => new SqliteStore(join(dir, 'provider.db'), { integrity }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}, vitest);

const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

storeConformance('postgres', async () => {
  // Each test gets its own schema, dropped afterwards.
  const schema = `fh_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const opened: PostgresStore[] = [];
  return {
    open: async () => {
      const s = await PostgresStore.open(PG_URL, schema);
      opened.push(s);
      return s;
    },
    cleanup: async () => {
      const s = await PostgresStore.open(PG_URL, schema);
      await s.drop();
      await s.close();
    },
  };
}, vitest);
