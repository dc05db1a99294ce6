import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, SqliteStore } from '@freehold/stores';
import { storeConformance } from '@freehold/stores/conformance';

storeConformance('memory', async () => {
  // One instance stands for "the same storage" across reopen.
  const store = new MemoryStore();
  return { open: async () => Object.assign(Object.create(store) as MemoryStore, { close: async () => {} }), cleanup: async () => {} };
});

storeConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'freehold-sqlite-'));
  return { open: async () => new SqliteStore(join(dir, 'replica.db')), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});
