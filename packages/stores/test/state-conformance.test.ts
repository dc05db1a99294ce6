import { MemorySharedState, PostgresStore } from '@freehold/stores';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApi } from '@freehold/stores/conformance';
import { sharedStateConformance } from '@freehold/stores/state-conformance';

const vitest = { describe, it, afterEach, expect } as unknown as TestApi;

sharedStateConformance('memory', async () => {
  // One node: every open is the same state.
  const state = new MemorySharedState();
  return { open: async () => state, cleanup: async () => {} };
}, vitest);

describe('shared state in PostgreSQL', () => {
  it('refuses with unavailable, typed, when PostgreSQL does not answer', async () => {
    const schema = `fh_state_${process.pid}_down`;
    const store = await PostgresStore.open(PG_URL, schema);
    const state = store.sharedState();
    await store.drop();
    await store.close();
    await expect(state.take('k', { perMinute: 1, burst: 1 }, 0)).rejects.toMatchObject({ reason: 'unavailable' });
    await expect(state.getPairing('0'.repeat(64), 'offer', 0)).rejects.toMatchObject({ reason: 'unavailable' });
  });
});

const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

sharedStateConformance('postgres', async () => {
  // Each open is another node: a store of its own on the test's schema.
  const schema = `fh_state_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const stores: PostgresStore[] = [];
  return {
    open: async () => {
      const s = await PostgresStore.open(PG_URL, schema);
      stores.push(s);
      return s.sharedState();
    },
    cleanup: async () => {
      await stores[0]?.drop();
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}, vitest);
