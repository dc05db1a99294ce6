import { describe, expect, it } from 'vitest';
import { describeImage, imageRef, MAX_IMAGE } from '@freehold/microblog';
import { randomPng } from '../../../test-support/png.js';

const segment = (marker: number, body: Buffer) => {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(marker, 0);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
};
/** The header of a 200×100 JPEG whose EXIF orientation (6) turns it a quarter: shown 100 wide, 200 high. */
function turnedJpeg(): Buffer {
  const tiff = Buffer.from([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
  const frame = Buffer.from([8, 0, 100, 0, 200, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), segment(0xffe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff])), segment(0xffc0, frame), Buffer.from([0xff, 0xd9])]);
}

describe('images are checked by their bytes before anything is stored', () => {
  it('reads the type and the size as shown from the header', () => {
    expect(describeImage(randomPng(30, 20))).toEqual({ mime: 'image/png', width: 30, height: 20 });
    expect(describeImage(turnedJpeg())).toEqual({ mime: 'image/jpeg', width: 100, height: 200 });
    expect(describeImage(Buffer.from('GIF89a\x05\x00\x03\x00\x00\x00\x00', 'latin1'))).toEqual({ mime: 'image/gif', width: 5, height: 3 });
  });

  it('refuses other types, whatever their name says, and what is too large or too long to describe', () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
    const bmp = Buffer.concat([Buffer.from('BM', 'latin1'), Buffer.alloc(16), Buffer.from([10, 0, 0, 0, 10, 0, 0, 0]), Buffer.alloc(28)]);
    for (const bytes of [svg, bmp, Buffer.from('hello')]) expect(() => describeImage(bytes)).toThrow(expect.objectContaining({ reason: 'invalid-argument' }));
    expect(() => describeImage(new Uint8Array(MAX_IMAGE + 1))).toThrow(expect.objectContaining({ reason: 'too-large' }));
    expect(() => imageRef({ bytes: randomPng(2, 2), alt: 'x'.repeat(1501) })).toThrow(expect.objectContaining({ reason: 'invalid-argument' }));
    expect(() => imageRef({ bytes: randomPng(2, 2), thumb: Buffer.from('not one') })).toThrow(/thumbnail is not a PNG/);
  });
});
