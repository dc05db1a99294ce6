import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCard } from '@freehold/core';
import { PostgresStore } from '@freehold/stores';
import { get, join_, newDevice, PG_URL, put, startServer, syncWith, tempDir } from './helpers.js';

const tmp = tempDir('canary');
afterAll(() => tmp.cleanup());

describe('the provider holds no plaintext of private data', () => {
  const canary = `canary-${randomBytes(12).toString('hex')}`;
  const docName = `doc-${randomBytes(8).toString('hex')}`;
  const schema = `fh_canary_${process.pid}`;

  async function share(opts: { data?: string; db?: string }) {
    const server = await startServer(opts);
    const alice = await newDevice(tmp.dir, 'alice');
    const bob = await newDevice(tmp.dir, 'bob');
    await join_(alice, server.url);
    await join_(bob, server.url);
    await alice.replica.addCard(encodeCard(bob.identity()));
    const space = await alice.createSpace(false);
    await put(alice, space, docName, { secret: canary, note: `the canary is ${canary}` });
    await alice.setRole(space, bob.account, 'reader');
    await syncWith(alice, server.url);
    await syncWith(bob, server.url);
    // The data really went through the provider: Bob reads it from there.
    expect((await get(bob, space, docName)).secret).toBe(canary);
    return server;
  }

  it('SQLite: no file in the data folder contains the canary or the document name', async () => {
    const data = join(tmp.dir, 'sqlite-data');
    const server = await share({ data });
    const files = readdirSync(data);
    expect(files).toContain('provider.db');
    for (const f of files) {
      const bytes = readFileSync(join(data, f));
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.includes(canary), f).toBe(false);
      expect(bytes.includes(docName), f).toBe(false);
    }
    await server.close();
    for (const f of readdirSync(data)) expect(readFileSync(join(data, f)).includes(canary)).toBe(false);
  });

  it('PostgreSQL: no row of any table contains the canary', async () => {
    const server = await share({ db: `${PG_URL}?schema=${schema}` });
    await server.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows: tables } = await client.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema]);
      expect(tables.map((t) => t.table_name).sort()).toEqual(['accounts', 'authority', 'cards', 'counts', 'entries', 'handles', 'meta', 'migrations', 'pairings', 'rate_buckets', 'space_names']);
      let rowsSeen = 0;
      for (const { table_name } of tables) {
        const { rows } = await client.query(`SELECT * FROM ${schema}.${table_name}`);
        for (const row of rows) {
          rowsSeen++;
          for (const v of Object.values(row)) {
            const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v));
            expect(b.includes(canary)).toBe(false);
            expect(b.includes(docName)).toBe(false);
          }
        }
      }
      expect(rowsSeen).toBeGreaterThan(5);
    } finally {
      await client.end();
      const s = await PostgresStore.open(PG_URL, schema);
      await s.drop();
      await s.close();
    }
  });
});
