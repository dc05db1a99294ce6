import { GIF } from 'image-size/types/gif';
import { JPG } from 'image-size/types/jpg';
import { PNG } from 'image-size/types/png';
import { WEBP } from 'image-size/types/webp';
import { blobId, fromId, pruneBlob, readBlob, reject, toId, writeBlob, type Device } from '@freehold/core';
import type { Microblog } from './microblog.js';
import { spacesOf } from './refs.js';
import { orientationOf, stripMetadata } from './metadata/index.js';
import { MAX_ALT, MAX_AVATAR, MAX_IMAGE, type ImageRef, type ImageType, type Picture, type Post, type PostRef } from './schema.js';

/** An image as a client hands it over: its bytes, what it shows, and a smaller copy made on the device. */
export interface ImageInput {
  bytes: Uint8Array;
  alt?: string;
  thumb?: Uint8Array;
}

/**
 * The readers of the types a post may carry, no others: image-size's own lookup reads twenty types, and weighed more
 * than the microblog model itself in the web app's first screen.
 */
const READERS = [['image/png', PNG], ['image/jpeg', JPG], ['image/webp', WEBP], ['image/gif', GIF]] as const;

function sizeOf(bytes: Uint8Array): { mime: ImageType; width: number; height: number; orientation?: number } | undefined {
  try {
    const found = READERS.find(([, reader]) => reader.validate(bytes));
    return found && { mime: found[0], ...found[1].calculate(bytes) };
  } catch {
    return undefined;
  }
}

/**
 * What the bytes are, read from their header: one of the allowed types and its size in pixels as shown (a photo
 * whose EXIF orientation turns it a quarter is as wide as it is stored high).
 */
export function describeImage(bytes: Uint8Array, what = 'image'): { mime: ImageType; width: number; height: number } {
  if (bytes.length > MAX_IMAGE) reject('too-large', `${what} of ${bytes.length} bytes is over the ${MAX_IMAGE / 2 ** 20} MiB an image may take`);
  const info = sizeOf(bytes);
  if (!info?.width || !info.height) return reject('invalid-argument', `${what} is not a PNG, JPEG, WebP or GIF image`);
  const turned = (info.orientation ?? orientationOf(bytes) ?? 1) >= 5;
  return { mime: info.mime, width: turned ? info.height : info.width, height: turned ? info.width : info.height };
}

function picture(bytes: Uint8Array, what: string): Picture {
  return { blob: toId(blobId(bytes)), ...describeImage(bytes, what), size: bytes.length };
}

/** The image and its thumbnail without their metadata (see stripMetadata): what is named, stored and shown. */
export const withoutMetadata = (input: ImageInput): ImageInput => ({
  ...input,
  bytes: stripMetadata(input.bytes),
  ...(input.thumb && { thumb: stripMetadata(input.thumb) }),
});

/** The reference a document carries for an image, checked and named by its bytes; nothing is stored yet. */
export function imageRef(input: ImageInput): ImageRef {
  const alt = (input.alt ?? '').trim();
  if (alt.length > MAX_ALT) reject('invalid-argument', `alt text is at most ${MAX_ALT} characters`);
  const thumb = input.thumb && picture(input.thumb, 'thumbnail');
  return { ...picture(input.bytes, 'image'), alt, ...(thumb && { thumb }) };
}

/**
 * Stores images (and their thumbnails) as blobs of the space of the document that names them, so exactly those
 * who read the post or profile read them.
 */
export async function storeImages(device: Device, space: Uint8Array, inputs: ImageInput[]): Promise<void> {
  for (const i of inputs) for (const bytes of [i.bytes, i.thumb]) if (bytes) await writeBlob(device, space, bytes);
}

/** The bytes of an image stored in a space, checked against its id; `not-found` while they are on their way. */
export function imageBytes(device: Device, space: Uint8Array, p: Picture): Promise<Uint8Array> {
  return readBlob(device, space, fromId(p.blob, 'blob id'));
}

/** The image of a post (or its thumbnail), from the space the post is in. */
export function postImage(mb: Microblog, ref: PostRef, p: Picture): Promise<Uint8Array> {
  const s = spacesOf(fromId(ref.account, 'account'));
  return imageBytes(mb.device, ref.audience === 'friends' ? s.friends : s.public, p);
}

/**
 * Stores an avatar, without its metadata, as a blob of this account's public space; the profile then names it
 * (`picture`).
 */
export async function storeAvatar(mb: Microblog, given: Uint8Array): Promise<Picture> {
  if (given.length > MAX_AVATAR) reject('too-large', `an avatar of ${given.length} bytes is over the ${MAX_AVATAR / 2 ** 20} MiB it may take`);
  const bytes = stripMetadata(given);
  const p = picture(bytes, 'avatar');
  await writeBlob(mb.device, mb.spaces.public, bytes);
  return p;
}

/** The blobs a post names: its images and their thumbnails. */
export const blobsOf = (post: Post): string[] => post.images.flatMap((i) => [i.blob, ...(i.thumb ? [i.thumb.blob] : [])]);

/**
 * Takes the blobs among `candidates` that nothing of this account still names out of one of its post spaces, at
 * every replica (see pruneBlob): a blob stays while a live post names it (the same image posted twice is one blob)
 * or, in the public space, while it is the profile's picture. Returns how many went.
 */
export async function dropUnnamedImages(mb: Microblog, audience: 'public' | 'friends', candidates: string[]): Promise<number> {
  if (!candidates.length) return 0;
  const named = new Set((await mb.postsOf(mb.me)).filter((i) => i.ref.audience === audience).flatMap((i) => blobsOf(i.post)));
  const picture = audience === 'public' ? (await mb.profile())?.picture : undefined;
  if (picture) named.add(picture.blob);
  const space = audience === 'friends' ? mb.spaces.friends : mb.spaces.public;
  let dropped = 0;
  for (const id of new Set(candidates)) if (!named.has(id) && (await pruneBlob(mb.device, space, fromId(id, 'blob id')))) dropped++;
  return dropped;
}
