import { chunk, randomPng } from './png.js';

/**
 * Image files carrying the metadata a phone or an editor writes (an Exif block with a GPS position, XMP, comments,
 * text chunks) around real image data, for tests that it is gone once stored.
 */

/** The GPS latitude the Exif blocks carry, as TIFF writes it: 51/1, 30/1, 2604/100 (51° 30′ 26.04″). */
export const GPS_LATITUDE = Buffer.from([0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0, 0x0a, 0x2c, 0, 0, 0, 100]);
/** Text every other kind of metadata here carries: what must be gone. */
export const PLACE = 'Baker Street 221b';
export const CAMERA = 'PhoneCo X1';

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const entry = (tag: number, type: number, count: number, value: Buffer) => Buffer.concat([u16(tag), u16(type), u32(count), value]);

/** A big-endian TIFF block: IFD0 with orientation, camera make and a pointer to a GPS IFD holding a latitude. */
export function exifTiff(orientation = 6): Buffer {
  const make = Buffer.from(`${CAMERA}\0`, 'latin1');
  const ifd0 = 8;
  const makeAt = ifd0 + 2 + 3 * 12 + 4;
  const gpsAt = makeAt + make.length;
  const latitudeAt = gpsAt + 2 + 2 * 12 + 4;
  return Buffer.concat([
    Buffer.from('MM\0*', 'latin1'),
    u32(ifd0),
    u16(3),
    entry(0x010f, 2, make.length, u32(makeAt)),
    entry(0x0112, 3, 1, Buffer.concat([u16(orientation), u16(0)])),
    entry(0x8825, 4, 1, u32(gpsAt)),
    u32(0),
    make,
    u16(2),
    entry(0x0001, 2, 2, Buffer.from('N\0\0\0', 'latin1')),
    entry(0x0002, 5, 3, u32(latitudeAt)),
    u32(0),
    GPS_LATITUDE,
  ]);
}

export const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="51,30.434N" photoshop:City="${PLACE}"/></x:xmpmeta>`;

function segment(marker: number, body: Buffer): Buffer {
  return Buffer.concat([u16(marker), u16(body.length + 2), body]);
}

/**
 * A baseline JPEG of 16×8 grey pixels (one component, two blocks, every coefficient zero: one-symbol Huffman
 * tables make each block the bits `00`), with JFIF, Exif, XMP, Photoshop/IPTC, ICC, Adobe and comment segments,
 * and bytes after its end marker as some phones append.
 */
export function photoJpeg(orientation = 6): Buffer {
  const dqt = Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)]);
  const sof = Buffer.from([8, 0, 8, 0, 16, 1, 1, 0x11, 0]);
  const table = (cls: number) => Buffer.concat([Buffer.from([cls << 4]), Buffer.from([1, ...Array<number>(15).fill(0)]), Buffer.from([0])]);
  const sos = Buffer.from([1, 1, 0x00, 0, 63, 0]);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xffe0, Buffer.from([...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0])),
    segment(0xffe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exifTiff(orientation)])),
    segment(0xffe1, Buffer.from(`http://ns.adobe.com/xap/1.0/\0${XMP}`, 'latin1')),
    // Photoshop's IPTC record: 8BIM resource 0x0404, dataset 2:90 (city).
    segment(0xffed, Buffer.concat([Buffer.from('Photoshop 3.0\x008BIM', 'latin1'), Buffer.from([4, 4, 0, 0, 0, 0, 0, 0x16, 0x1c, 2, 0x5a, 0, PLACE.length]), Buffer.from(PLACE, 'latin1')])),
    segment(0xffe2, Buffer.from('ICC_PROFILE\0\x01\x01colour-profile-bytes', 'latin1')),
    segment(0xffee, Buffer.from([...Buffer.from('Adobe', 'latin1'), 0, 100, 0, 0, 0, 0, 1])),
    segment(0xfffe, Buffer.from(`taken at ${PLACE}`, 'latin1')),
    segment(0xffdb, dqt),
    segment(0xffc0, sof),
    segment(0xffc4, table(0)),
    segment(0xffc4, table(1)),
    segment(0xffda, sos),
    Buffer.from([0x0f]),
    Buffer.from([0xff, 0xd9]),
    Buffer.from(`MotionPhoto ${PLACE}`, 'latin1'),
  ]);
}

/** A PNG of random pixels with eXIf, tEXt, iTXt (XMP), zTXt and tIME chunks before its image data. */
export function photoPng(): Buffer {
  const png = randomPng(12, 10);
  const ihdrEnd = 8 + 12 + 13;
  const meta = Buffer.concat([
    chunk('eXIf', exifTiff()),
    chunk('tEXt', Buffer.from(`Location\0${PLACE}`, 'latin1')),
    chunk('iTXt', Buffer.from(`XML:com.adobe.xmp\0\0\0\0\0${XMP}`, 'latin1')),
    chunk('zTXt', Buffer.from(`Comment\0\0${PLACE}`, 'latin1')),
    chunk('tIME', Buffer.from([0x07, 0xea, 12, 7, 12, 0, 0])),
  ]);
  return Buffer.concat([png.subarray(0, ihdrEnd), meta, png.subarray(ihdrEnd)]);
}

/** The 1×1 lossless WebP browsers are probed with. */
const VP8L = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64').subarray(12);

function riffChunk(fourcc: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(fourcc, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, Buffer.alloc(data.length & 1)]);
}

/** An extended WebP (VP8X announcing Exif and XMP) of that image, with EXIF and XMP chunks after it. */
export function photoWebp(): Buffer {
  const vp8x = Buffer.from([0x08 | 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const body = Buffer.concat([riffChunk('VP8X', vp8x), VP8L, riffChunk('EXIF', exifTiff()), riffChunk('XMP ', Buffer.from(XMP, 'latin1'))]);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + body.length, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, body]);
}

/** A 1×1 GIF that loops (NETSCAPE2.0), with a comment and an XMP application extension. */
export function photoGif(): Buffer {
  const sub = (b: Buffer) => Buffer.concat([Buffer.from([b.length]), b]);
  return Buffer.concat([
    Buffer.from('GIF89a', 'latin1'),
    Buffer.from([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]),
    Buffer.from([0x21, 0xff]),
    sub(Buffer.from('NETSCAPE2.0', 'latin1')),
    sub(Buffer.from([1, 0, 0])),
    Buffer.from([0]),
    Buffer.from([0x21, 0xfe]),
    sub(Buffer.from(`taken at ${PLACE}`, 'latin1')),
    Buffer.from([0]),
    Buffer.from([0x21, 0xff]),
    sub(Buffer.from('XMP DataXMP', 'latin1')),
    sub(Buffer.from(XMP.slice(0, 200), 'latin1')),
    Buffer.from([0]),
    Buffer.from([0x21, 0xf9, 4, 1, 0, 0, 0, 0]),
    Buffer.from([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0]),
    Buffer.from([0x3b]),
  ]);
}
