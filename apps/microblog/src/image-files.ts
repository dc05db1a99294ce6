import { AVATAR_SIDE, JPEG_QUALITY, MAX_IMAGE, THUMB_SIDE, type ImageInput } from '@freehold/microblog';

async function encode(canvas: OffscreenCanvas): Promise<Uint8Array> {
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY })).arrayBuffer());
}

/**
 * A picked file as a post takes it: its bytes as they are, and a thumbnail drawn here (none for an image that is
 * small already). Files over the limit are refused before they are read.
 */
export async function imageFromFile(file: File, alt: string): Promise<ImageInput> {
  if (file.size > MAX_IMAGE) throw new Error(`${file.name} is over the ${MAX_IMAGE / 2 ** 20} MiB an image may take`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const img = await createImageBitmap(file).catch(() => {
    throw new Error(`${file.name} is not an image this browser can read`);
  });
  const scale = THUMB_SIDE / Math.max(img.width, img.height);
  if (scale >= 1) return { bytes, alt };
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(img.width * scale)), Math.max(1, Math.round(img.height * scale)));
  canvas.getContext('2d')!.drawImage(img, 0, 0, canvas.width, canvas.height);
  img.close();
  return { bytes, alt, thumb: await encode(canvas) };
}

/** Scales an image down to a square avatar (JPEG), cropped to its middle. */
export async function avatarFrom(file: File): Promise<Uint8Array> {
  const img = await createImageBitmap(file);
  const canvas = new OffscreenCanvas(AVATAR_SIDE, AVATAR_SIDE);
  const s = Math.min(img.width, img.height);
  canvas.getContext('2d')!.drawImage(img, (img.width - s) / 2, (img.height - s) / 2, s, s, 0, 0, AVATAR_SIDE, AVATAR_SIDE);
  img.close();
  return encode(canvas);
}
