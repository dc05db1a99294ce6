import type pg from 'pg';
import { FreeholdError, toHex, type Charge, type EntryRow } from '@freehold/core';
import { quotaMessage } from './quota.js';

/** One Store.putEntries call, waiting to be stored with others in one round trip. */
export interface Put {
  rows: EntryRow[];
  charges: Charge[];
}

/** What put_entries (see the migration that defines it) says of a batch it refused. */
interface Refused {
  batch: number;
  reason: 'not-hosted' | 'quota-exceeded' | 'fork';
  payer: Buffer | null;
  payer_used: number | null;
  payer_quota: number | null;
  needed: number | null;
}

const PUT = `SELECT * FROM put_entries($1::int[], $2::bytea[], $3::bytea[], $4::bytea[], $5::smallint[], $6::bytea[], $7::bigint[], $8::bigint[],
  $9::bytea[], $10::int[], $11::bytea[], $12::bytea[], $13::boolean[], $14::int[], $15::bytea[], $16::bigint[])`;

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * The index rows of a batch (see Store.spacesOf). An upsert may touch a row once per statement, so the batch's
 * own repeats are merged first.
 */
function namesOf(rows: EntryRow[]): { account: Buffer; space: Buffer; creator: boolean }[] {
  const named = new Map<string, { account: Buffer; space: Buffer; creator: boolean }>();
  for (const r of rows) {
    if (!r.names) continue;
    const k = `${toHex(r.names.account)}:${toHex(r.space)}`;
    named.set(k, { account: buf(r.names.account), space: buf(r.space), creator: r.names.creator || (named.get(k)?.creator ?? false) });
  }
  return [...named.values()];
}

/** put_entries' arguments: one array per column, each batch's part ending where its `ends` says. */
function columns(group: Put[]): unknown[] {
  const c = { ends: [] as number[], nameEnds: [] as number[], chargeEnds: [] as number[] };
  const entry: unknown[][] = Array.from({ length: 8 }, () => []);
  const name: unknown[][] = [[], [], []];
  const charge: unknown[][] = [[], []];
  for (const { rows, charges } of group) {
    for (const r of rows) {
      const values = [buf(r.id), buf(r.space), buf(r.doc), r.kind, buf(r.device), r.seq, r.time, buf(r.bytes)];
      values.forEach((v, i) => entry[i]!.push(v));
    }
    for (const n of namesOf(rows)) [n.account, n.space, n.creator].forEach((v, i) => name[i]!.push(v));
    for (const ch of charges) [buf(ch.account), ch.bytes].forEach((v, i) => charge[i]!.push(v));
    c.ends.push(entry[0]!.length);
    c.nameEnds.push(name[0]!.length);
    c.chargeEnds.push(charge[0]!.length);
  }
  return [c.ends, ...entry, c.nameEnds, ...name, c.chargeEnds, ...charge];
}

function refusal(r: Refused): FreeholdError {
  if (r.reason === 'fork') return new FreeholdError('fork', 'the device already signed a different entry with one of these sequence numbers');
  if (r.reason === 'not-hosted') return new FreeholdError('not-hosted', 'account is not registered here');
  return new FreeholdError('quota-exceeded', quotaMessage({ used: r.payer_used!, quota: r.payer_quota! }, r.needed!));
}

/**
 * Stores a group of batches in one statement (one round trip, one commit): each batch all or nothing, as if put
 * alone, in the group's order. Resolves with each batch's refusal, if any, once the group is committed.
 */
export async function putGroup(pool: pg.Pool, group: Put[]): Promise<(FreeholdError | undefined)[]> {
  const { rows } = await pool.query<Refused>({ name: 'put_entries', text: PUT, values: columns(group) });
  const refused: (FreeholdError | undefined)[] = new Array(group.length).fill(undefined);
  for (const r of rows) refused[r.batch] = refusal(r);
  return refused;
}
