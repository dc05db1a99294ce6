import { describe, expect, it } from 'vitest';
import { createEntry, Kind, newSigningKey, type EntryRow } from '@freehold/core';
import { pack, unpack } from '../src/entry-pack.js';

function entry(seq: number, time: number, kind: Kind = Kind.update): EntryRow {
  const key = newSigningKey();
  const membership = kind === Kind.membership;
  const h = { kind, space: new Uint8Array(32).fill(1), doc: new Uint8Array(membership ? 0 : 16).fill(2), device: key.publicKey, seq, prev: new Uint8Array(seq === 1 ? 0 : 32).fill(3), basis: new Uint8Array(membership ? 0 : 32).fill(4), time };
  const e = createEntry(h, key, 10, () => new Uint8Array(10).fill(6));
  return { id: e.id, space: e.space, doc: e.doc, kind, device: e.device, seq, time, bytes: e.bytes };
}

describe('packing entries for a SQL store', () => {
  it('cuts the header fields the columns hold and puts them back exactly', () => {
    for (const r of [entry(1, 1_800_000_000_000), entry(2, 1_800_000_000_000), entry(1, 7, Kind.membership), entry(2 ** 31, 2 ** 32 - 1), entry(24, 2 ** 32)]) {
      const p = pack(r)!;
      expect(p.cut).toBeGreaterThan(70);
      expect(p.body.length + p.cut).toBe(r.bytes.length);
      expect([...unpack(p.body, r, p.basis)]).toEqual([...r.bytes]);
    }
  });

  it('keeps whole what does not carry the columns as the encoder writes them', () => {
    const r = entry(2, 1_800_000_000_000);
    // Another space, time or sequence than the header's; bytes that are no entry at all.
    expect(pack({ ...r, space: new Uint8Array(32) })).toBeUndefined();
    expect(pack({ ...r, time: r.time + 1 })).toBeUndefined();
    expect(pack({ ...r, seq: 3 })).toBeUndefined();
    expect(pack({ ...r, bytes: new Uint8Array([1, 2, 3]) })).toBeUndefined();
    // The same time written as a 64-bit integer instead of a float, as another CBOR encoder may.
    const at = r.bytes.findIndex((_, i) => r.bytes[i] === 0xfb && new DataView(r.bytes.buffer, r.bytes.byteOffset + i + 1, 8).getFloat64(0) === r.time);
    expect(at).toBeGreaterThan(0);
    const asInt = new Uint8Array([...r.bytes.subarray(0, at), 0x1b, ...new Uint8Array(new BigUint64Array([BigInt(r.time)]).buffer).reverse(), ...r.bytes.subarray(at + 9)]);
    expect(pack({ ...r, bytes: asInt })).toBeUndefined();
  });
});
