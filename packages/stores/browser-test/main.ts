// Runs the one Store conformance suite against IndexedDB inside a real browser, with a minimal runner.
import { chai, JestChaiExpect, JestAsymmetricMatchers, JestExtend } from '@vitest/expect';
import { IndexedDbStore } from '@freehold/stores/indexeddb';
import { storeConformance, type TestApi } from '@freehold/stores/conformance';

// vitest's own matchers on chai, as its browser mode uses them.
chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);
const expect = chai.expect;

interface Case {
  name: string;
  body: () => Promise<void>;
}
const cases: Case[] = [];
const after: (() => Promise<void>)[] = [];
let prefix = '';
const api = {
  describe(name: string, body: () => void) {
    prefix = name;
    body();
  },
  it(name: string, body: () => Promise<void>) {
    cases.push({ name: `${prefix} > ${name}`, body });
  },
  afterEach(body: () => Promise<void>) {
    after.push(body);
  },
  expect,
} as unknown as TestApi;

let n = 0;
const factory = async () => {
  const name = `conformance-${Date.now()}-${n++}`;
  return { open: () => IndexedDbStore.open(name), cleanup: () => IndexedDbStore.destroy(name) };
};
storeConformance('indexeddb', factory, api);
// Again as a browser without backward bulk reads sees it (the store then walks cursors).
const walking = cases.length;
storeConformance('indexeddb, cursor walks', factory, api);

cases.push({
  name: 'indexeddb > a version 1 database gains its list of held spaces on upgrade',
  body: async () => {
    const name = `upgrade-${Date.now()}`;
    const space = new Uint8Array(32).fill(5);
    await new Promise<void>((resolve, fail) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => {
        const entries = req.result.createObjectStore('entries', { keyPath: 'id' });
        entries.createIndex('space_key', ['space', 'time', 'id']);
        for (const store of ['cards', 'meta', 'accounts', 'handles']) req.result.createObjectStore(store, { keyPath: store === 'handles' ? 'name' : store === 'meta' ? 'key' : 'account' });
        entries.add({ id: new Uint8Array(32).fill(1), space, doc: new Uint8Array(16), kind: 1, device: new Uint8Array(32), seq: 1, time: 1, bytes: new Uint8Array(1) });
      };
      req.onsuccess = () => (req.result.close(), resolve());
      req.onerror = () => fail(req.error);
    });
    const store = await IndexedDbStore.open(name);
    expect((await store.spaces()).map((s) => s.join())).to.deep.equal([space.join()]);
    await store.close();
    await IndexedDbStore.destroy(name);
  },
});

const results: { name: string; ok: boolean; error?: string }[] = [];
for (const [i, c] of cases.entries()) {
  if (i === walking) delete (IDBIndex.prototype as { getAllRecords?: unknown }).getAllRecords;
  try {
    await c.body();
    results.push({ name: c.name, ok: true });
  } catch (e) {
    results.push({ name: c.name, ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
  }
  for (const a of after) await a();
}
document.getElementById('log')!.textContent = results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.error ? `\n${r.error}` : ''}`).join('\n');
(window as unknown as { __results: typeof results }).__results = results;
