import type { EntryRow, HandleRow } from '@freehold/core';

/** A row as better-sqlite3 returns it: Buffers where the store speaks Uint8Array. */
export type Row = { [K in keyof EntryRow]: EntryRow[K] extends Uint8Array ? Buffer : EntryRow[K] };

/** SQLite hands back Buffers; the rest of Freehold speaks plain Uint8Array. */
export function bytes(b: Uint8Array | undefined): Uint8Array | undefined {
  return b === undefined ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export type SqlHandle = { name: string; account: Buffer; dropped: number | null };
export const handleRow = (h: SqlHandle): HandleRow => ({ name: h.name, account: bytes(h.account)!, ...(h.dropped === null ? {} : { dropped: h.dropped }) });

export function row(r: Row): EntryRow {
  return { id: bytes(r.id)!, space: bytes(r.space)!, doc: bytes(r.doc)!, kind: r.kind, device: bytes(r.device)!, seq: r.seq, time: r.time, bytes: bytes(r.bytes)! };
}
