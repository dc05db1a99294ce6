import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isFreeholdError } from '@freehold/core';
import { describeImage, stripMetadata } from '@freehold/microblog';
import { randomPng } from '../../../test-support/png.js';
import { CAMERA, GPS_LATITUDE, PLACE, photoGif, photoJpeg, photoPng, photoWebp } from '../../../test-support/photos.js';

/** The minimal TIFF block orientation 6 is kept in. */
const ORIENTED = Buffer.from([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);

function expectClean(bytes: Uint8Array): Buffer {
  const b = Buffer.from(bytes);
  for (const gone of [GPS_LATITUDE, Buffer.from(PLACE, 'latin1'), Buffer.from(CAMERA, 'latin1'), Buffer.from('xmpmeta', 'latin1')]) {
    expect(b.includes(gone), `still holds ${gone.toString('latin1')}`).toBe(false);
  }
  return b;
}

function refused(bytes: Uint8Array): string {
  try {
    stripMetadata(bytes);
  } catch (e) {
    expect(isFreeholdError(e, 'malformed'), String(e)).toBe(true);
    return (e as Error).message;
  }
  return 'accepted';
}

describe('images lose their metadata before they are stored', () => {
  const files = { jpeg: photoJpeg(), png: photoPng(), webp: photoWebp(), gif: photoGif() };

  it('the crafted files do carry the GPS position, place and camera (so the tests below can fail)', () => {
    for (const [name, f] of Object.entries(files)) {
      expect(f.includes(Buffer.from(PLACE, 'latin1')), name).toBe(true);
      if (name !== 'gif') expect(f.includes(GPS_LATITUDE), name).toBe(true);
    }
  });

  it('a JPEG keeps JFIF, its ICC profile, Adobe’s segment, its image data and its orientation, nothing else', () => {
    const before = describeImage(files.jpeg);
    expect(before).toEqual({ mime: 'image/jpeg', width: 8, height: 16 });
    const out = expectClean(stripMetadata(files.jpeg));
    expect(describeImage(out)).toEqual(before);
    for (const kept of ['JFIF\0', 'ICC_PROFILE\0\x01\x01colour-profile-bytes', 'Adobe']) expect(out.includes(Buffer.from(kept, 'latin1')), kept).toBe(true);
    expect(out.includes(Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), ORIENTED]))).toBe(true);
    expect(out.includes(Buffer.from(`taken at`, 'latin1'))).toBe(false);
    // Ends at its end marker, the image data intact.
    expect(out.subarray(-3)).toEqual(Buffer.from([0x0f, 0xff, 0xd9]));
    // An upright photo keeps no Exif at all.
    expect(Buffer.from(stripMetadata(photoJpeg(1))).includes(Buffer.from('Exif', 'latin1'))).toBe(false);
  });

  it('a PNG loses its text, time and Exif chunks but orientation, written with a valid CRC', () => {
    const out = expectClean(stripMetadata(files.png));
    // Stored 12×10; its orientation (6) turns it, as Chromium shows it.
    expect(describeImage(out)).toEqual({ mime: 'image/png', width: 10, height: 12 });
    expect(describeImage(randomPng(12, 10))).toEqual({ mime: 'image/png', width: 12, height: 10 });
    for (const gone of ['tEXt', 'iTXt', 'zTXt', 'tIME']) expect(out.includes(Buffer.from(gone, 'latin1')), gone).toBe(false);
    const at = out.indexOf('eXIf');
    expect(out.readUInt32BE(at - 4)).toBe(ORIENTED.length);
    expect(out.subarray(at + 4, at + 4 + ORIENTED.length)).toEqual(ORIENTED);
    expect(out.readUInt32BE(at + 4 + ORIENTED.length)).toBe(crc32(out.subarray(at, at + 4 + ORIENTED.length)));
    // Pixels as they were.
    expect(Buffer.from(stripMetadata(randomPng(12, 10)))).toHaveLength(randomPng(12, 10).length);
  });

  it('a WebP loses its XMP chunk and its Exif but orientation, and its VP8X flags and RIFF size say so', () => {
    const out = expectClean(stripMetadata(files.webp));
    expect(describeImage(out)).toEqual({ mime: 'image/webp', width: 1, height: 1 });
    expect(out.readUInt32LE(4)).toBe(out.length - 8);
    expect(out.includes(Buffer.from('XMP ', 'latin1'))).toBe(false);
    expect(out[20]! & 0x0c).toBe(0x08);
    expect(out.subarray(out.indexOf('EXIF') + 8)).toEqual(ORIENTED);
  });

  it('a GIF loses its comment and XMP extension and keeps looping', () => {
    const out = expectClean(stripMetadata(files.gif));
    expect(describeImage(out)).toEqual({ mime: 'image/gif', width: 1, height: 1 });
    expect(out.includes(Buffer.from('NETSCAPE2.0', 'latin1'))).toBe(true);
    expect(out.includes(Buffer.from('XMP DataXMP', 'latin1'))).toBe(false);
    expect(out.at(-1)).toBe(0x3b);
  });

  it('a file without metadata comes back as it was, and stripping twice changes nothing more', () => {
    const png = randomPng(20, 20);
    expect(Buffer.from(stripMetadata(png)).equals(png)).toBe(true);
    for (const f of Object.values(files)) {
      const once = stripMetadata(f);
      expect(Buffer.from(stripMetadata(once)).equals(Buffer.from(once))).toBe(true);
    }
  });

  it('refuses a damaged file with a typed error, and no length field makes it read past the file or loop', () => {
    // Every truncation of every file past its first four bytes (which name the format).
    for (const [name, f] of Object.entries(files)) {
      for (let n = 4; n < f.length - (name === 'jpeg' ? `MotionPhoto ${PLACE}`.length + 1 : 1); n++) {
        expect(refused(f.subarray(0, n)), `${name} cut at ${n}`).not.toBe('accepted');
      }
    }
    // Hostile lengths: a JPEG segment, a PNG chunk and a WebP chunk claiming more than the file holds.
    const jpeg = Buffer.from(files.jpeg);
    jpeg.writeUInt16BE(0xffff, 4);
    expect(refused(jpeg)).toMatch(/JPEG file is damaged: a segment at byte 2 runs past the end/);
    const png = Buffer.from(files.png);
    png.writeUInt32BE(0xffffffff, 33);
    expect(refused(png)).toMatch(/PNG file is damaged: the eXIf chunk at byte 33 runs past the end/);
    const webp = Buffer.from(files.webp);
    webp.writeUInt32LE(0xfffffff0, 16);
    expect(refused(webp)).toMatch(/WebP file is damaged: the VP8X chunk at byte 12 runs past/);
    // A TIFF block whose IFD count claims 65,535 entries is read only as far as it goes.
    const exifAt = files.jpeg.indexOf('Exif\0\0') + 6;
    const counted = Buffer.from(files.jpeg);
    counted.writeUInt16BE(0xffff, exifAt + 8);
    expect(describeImage(stripMetadata(counted)).mime).toBe('image/jpeg');
    // Random damage past the signatures: stripped or refused as malformed, never another error, never a hang.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let k = 0; k < 400; k++) {
      const f = Buffer.from(Object.values(files)[k % 4]!);
      for (let j = 0; j < 3; j++) f[12 + Math.floor(next() * (f.length - 12))] = Math.floor(next() * 256);
      refused(f);
    }
  });
});
