import type pg from 'pg';
import { FreeholdError, toHex, type EntryRow, type WriteBasis } from '@freehold/core';
import { quotaMessage } from './quota.js';

/** One Store.putEntries call, waiting to be stored with others in one round trip. */
export interface Put {
  rows: EntryRow[];
  basis?: WriteBasis;
}

/** What put_entries (see the migration that defines it) says of a batch it refused. */
interface Refused {
  batch: number;
  reason: 'not-hosted' | 'quota-exceeded' | 'fork' | 'stale';
  payer_used: number | null;
  payer_quota: number | null;
  needed: number | null;
}

const PUT = `SELECT * FROM put_entries($1::int[], $2::bytea, $3::int[], $4::smallint[], $5::bigint[], $6::bigint[],
  $7::int[], $8::bytea[], $9::bytea[], $10::boolean[], $11::bytea[], $12::bigint[], $13::bigint[], $14::int[], $15::bytea[])`;

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
/** A list of integers as PostgreSQL's array text: the driver would quote and escape each number on its own. */
export const intArray = (xs: number[]): string => `{${xs.join(',')}}`;

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

/**
 * put_entries' arguments. The entries' byte fields go as one binary value (hex text in arrays would double them
 * and cost both sides a conversion); each batch's part of a list ends where its `ends` says.
 */
function argumentsOf(group: Put[]): unknown[] {
  const fields: Buffer[] = [];
  const fieldEnds: number[] = [];
  const rows = { kinds: [] as number[], seqs: [] as number[], times: [] as number[], payers: [] as (Buffer | null)[], charges: [] as number[] };
  const names: { account: Buffer; space: Buffer; creator: boolean }[] = [];
  const basis = { versions: [] as number[], accounts: [] as Buffer[] };
  const ends = { rows: [] as number[], names: [] as number[], basis: [] as number[] };
  let at = 0;
  for (const put of group) {
    for (const r of put.rows) {
      for (const f of [r.id, r.space, r.doc, r.device, r.bytes]) {
        fields.push(buf(f));
        fieldEnds.push((at += f.length));
      }
      rows.kinds.push(r.kind);
      rows.seqs.push(r.seq);
      rows.times.push(r.time);
      rows.payers.push(r.charge ? buf(r.charge.account) : null);
      rows.charges.push(r.charge?.bytes ?? 0);
    }
    names.push(...namesOf(put.rows));
    // Without a basis (a store opened by a tool, not a replica) nothing read can have gone stale.
    basis.versions.push(put.basis?.version ?? Number.MAX_SAFE_INTEGER);
    basis.accounts.push(...(put.basis?.accounts ?? []).map(buf));
    ends.basis.push(basis.accounts.length);
    ends.rows.push(rows.kinds.length);
    ends.names.push(names.length);
  }
  return [
    intArray(ends.rows),
    Buffer.concat(fields, at),
    intArray(fieldEnds),
    intArray(rows.kinds),
    intArray(rows.seqs),
    intArray(rows.times),
    intArray(ends.names),
    names.map((n) => n.account),
    names.map((n) => n.space),
    names.map((n) => n.creator),
    rows.payers,
    intArray(rows.charges),
    intArray(basis.versions),
    intArray(ends.basis),
    basis.accounts,
  ];
}

function refusal(r: Refused): FreeholdError {
  if (r.reason === 'stale') return new FreeholdError('stale', 'a membership or identity log this batch was validated against changed meanwhile');
  if (r.reason === 'fork') return new FreeholdError('fork', 'the device already signed a different entry with one of these sequence numbers');
  if (r.reason === 'not-hosted') return new FreeholdError('not-hosted', 'account is not registered here');
  return new FreeholdError('quota-exceeded', quotaMessage({ used: r.payer_used!, quota: r.payer_quota! }, r.needed!));
}

/**
 * Stores a group of batches in one statement (one round trip, one commit): each batch all or nothing, as if put
 * alone, in the group's order. Resolves with each batch's refusal, if any, once the group is committed.
 */
export async function putGroup(pool: pg.Pool, group: Put[]): Promise<(FreeholdError | undefined)[]> {
  const { rows } = await pool.query<Refused>({ name: 'put_entries', text: PUT, values: argumentsOf(group) });
  const refused: (FreeholdError | undefined)[] = new Array(group.length).fill(undefined);
  for (const r of rows) refused[r.batch] = refusal(r);
  return refused;
}
