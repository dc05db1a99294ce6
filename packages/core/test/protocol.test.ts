import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeFrame, isEntriesFrame, type Frame } from '@freehold/core';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const id = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('reading a frame’s type without decoding it', () => {
  it('tells entries frames from every other kind, at any size', () => {
    const frame: fc.Arbitrary<Frame> = fc.oneof(
      fc.array(bytes(600), { maxLength: 256 }).map((es): Frame => ['entries', es]),
      fc.array(id, { maxLength: 300 }).map((ids): Frame => ['want', ids]),
      fc.tuple(id, bytes(2000)).map(([s, m]): Frame => ['rec', s, m]),
      fc.nat().map((n): Frame => ['sync', n]),
      fc.nat().map((n): Frame => ['ack', n, []]),
      fc.array(bytes(100), { maxLength: 10 }).map((cs): Frame => ['cards', cs]),
    );
    fc.assert(fc.property(frame, (f) => isEntriesFrame(encodeFrame(f)) === (f[0] === 'entries')));
  });

  it('is false for bytes that are no frame', () => {
    for (const b of [new Uint8Array(0), new Uint8Array([0x82]), new Uint8Array([0x82, 0x67, 0x65]), new TextEncoder().encode('entries')]) expect(isEntriesFrame(b)).toBe(false);
  });
});
