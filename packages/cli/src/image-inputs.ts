import type { Sharp } from 'sharp';
import { reject } from '@freehold/core';
import { AVATAR_SIDE, describeImage, JPEG_QUALITY, MAX_IMAGE, MAX_IMAGES, THUMB_SIDE, type ImageInput } from '@freehold/microblog';
import type { Context } from './command.js';
import { readInput } from './files.js';

/**
 * The image decoded and turned by its EXIF orientation, as the web app's createImageBitmap gives it. sharp is
 * loaded here, not at startup: its native library costs every command about a tenth of a second to load. It fails
 * on errors only, not on libvips' warnings: a photo with a few stray bytes, which browsers show, is not refused.
 */
async function decode(bytes: Uint8Array): Promise<Sharp> {
  const { default: sharp } = await import('sharp');
  return sharp(bytes, { failOn: 'error' }).rotate();
}

/** What sharp made of the image; one that does not decode is `malformed`. */
async function decoded<T>(file: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    return reject('malformed', `${file} does not decode as an image: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** JPEG of the web app's quality, without metadata (sharp writes none unless asked). */
const jpeg = (image: Sharp): Promise<Buffer> => image.jpeg({ quality: Math.round(JPEG_QUALITY * 100) }).toBuffer();

/**
 * A file as a post takes it: its bytes as they are, and a thumbnail of THUMB_SIDE on its longest side (none for an
 * image that small already), as the web app makes them. A small image is decoded all the same, so one that would
 * show as broken is refused before anything is written.
 */
async function imageFromFile(file: string, alt: string | undefined): Promise<ImageInput> {
  const bytes = readInput(file, MAX_IMAGE);
  const { width, height } = describeImage(bytes, file);
  const image = await decode(bytes);
  if (Math.max(width, height) <= THUMB_SIDE) {
    await decoded(file, image.raw().toBuffer());
    return { bytes, alt };
  }
  return { bytes, alt, thumb: await decoded(file, jpeg(image.resize(THUMB_SIDE, THUMB_SIDE, { fit: 'inside' }))) };
}

/** `--image FILE [--alt TEXT]`, as often as given: each --alt describes the --image before it. */
export async function imageInputs(ctx: Context): Promise<ImageInput[]> {
  const out: { file: string; alt?: string }[] = [];
  for (const o of ctx.options) {
    if (o.name === 'image') out.push({ file: o.value! });
    else if (o.name === 'alt') {
      const last = out[out.length - 1];
      if (!last || last.alt !== undefined) reject('invalid-argument', '--alt describes the --image just before it (one --alt per image)');
      last.alt = o.value!;
    }
  }
  if (out.length > MAX_IMAGES) reject('invalid-argument', `a post carries at most ${MAX_IMAGES} images, not ${out.length}`);
  const inputs: ImageInput[] = [];
  for (const { file, alt } of out) inputs.push(await imageFromFile(file, alt));
  return inputs;
}

/**
 * An avatar as the web app makes one: any image a post may carry, cropped to its middle square and scaled to
 * AVATAR_SIDE, so what is stored is a few kilobytes whatever the file was.
 */
export async function avatarFromFile(file: string): Promise<Uint8Array> {
  const bytes = readInput(file, MAX_IMAGE);
  describeImage(bytes, file);
  const square = (await decode(bytes)).resize(AVATAR_SIDE, AVATAR_SIDE, { fit: 'cover', position: 'centre' });
  return decoded(file, jpeg(square));
}
