import type { EntryRow, HandleRow } from '@freehold/core';
import { unpack } from './entry-pack.js';

/** A row as better-sqlite3 returns it (see ROW): Buffers where the store speaks Uint8Array, the entry packed. */
export type Row = { [K in Exclude<keyof EntryRow, 'names' | 'charge'>]: EntryRow[K] extends Uint8Array ? Buffer : EntryRow[K] } & { basis: Buffer | null; cut: number };

/** The columns of a Row, numbered ids named again (see sqlite-pack.ts): what every query for whole rows selects. */
export const ROW =
  'e.id, (SELECT value FROM refs WHERE n = e.space) AS space, e.doc, e.kind, (SELECT value FROM refs WHERE n = e.device) AS device, e.seq, e.time, (SELECT value FROM refs WHERE n = e.basis) AS basis, e.cut, e.bytes';

/** The number a space id or device key goes by, as a query parameter (none when it was never stored). */
export const REF = '(SELECT n FROM refs WHERE value = ?)';

/** SQLite hands back Buffers; the rest of Freehold speaks plain Uint8Array. */
export function bytes(b: Uint8Array | undefined): Uint8Array | undefined {
  return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export type SqlHandle = { name: string; account: Buffer; dropped: number | null };
export const handleRow = (h: SqlHandle): HandleRow => ({ name: h.name, account: bytes(h.account)!, ...(h.dropped === null ? {} : { dropped: h.dropped }) });

export function row(r: Row): EntryRow {
  const fields = { id: bytes(r.id)!, space: bytes(r.space)!, doc: bytes(r.doc)!, kind: r.kind, device: bytes(r.device)!, seq: r.seq, time: r.time };
  return { ...fields, bytes: r.cut ? unpack(r.bytes, fields, r.basis ?? new Uint8Array(0)) : bytes(r.bytes)! };
}
