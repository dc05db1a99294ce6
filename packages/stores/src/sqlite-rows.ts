import type { EntryRow, HandleRow } from '@freehold/core';
import { unpack } from './entry-pack.js';

/** A row as better-sqlite3 returns it (see ROW): Buffers where the store speaks Uint8Array, the entry packed. */
export type Row = { id: Buffer; space: number; doc: Buffer; kind: number; device: number; seq: number; time: number; basis: number | null; cut: number; bytes: Buffer };

/** The columns of a Row: what every query for whole entries selects. */
export const ROW = 'id, space, doc, kind, device, seq, time, basis, cut, bytes';

/** The number a space id or device key goes by, as a query parameter (none when it was never stored). */
export const REF = '(SELECT n FROM refs WHERE value = ?)';

/** SQLite hands back Buffers; the rest of Freehold speaks plain Uint8Array. */
export function bytes(b: Uint8Array | undefined): Uint8Array | undefined {
  return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export type SqlHandle = { name: string; account: Buffer; dropped: number | null };
export const handleRow = (h: SqlHandle): HandleRow => ({ name: h.name, account: bytes(h.account)!, ...(h.dropped === null ? {} : { dropped: h.dropped }) });

/** An entry row from a Row, given what the numbers in it name (see sqlite-pack.ts). */
export function row(r: Row, named: (n: number) => Uint8Array): EntryRow {
  const fields = { id: bytes(r.id)!, space: named(r.space), doc: bytes(r.doc)!, kind: r.kind, device: named(r.device), seq: r.seq, time: r.time };
  return { ...fields, bytes: r.cut ? unpack(r.bytes, fields, r.basis === null ? new Uint8Array(0) : named(r.basis)) : bytes(r.bytes)! };
}
