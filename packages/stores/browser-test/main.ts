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
storeConformance(
  'indexeddb',
  async () => {
    const name = `conformance-${Date.now()}-${n++}`;
    return { open: () => IndexedDbStore.open(name), cleanup: () => IndexedDbStore.destroy(name) };
  },
  api,
);

const results: { name: string; ok: boolean; error?: string }[] = [];
for (const c of cases) {
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
