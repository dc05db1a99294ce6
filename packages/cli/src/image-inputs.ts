import { reject } from '@freehold/core';
import { MAX_IMAGE, MAX_IMAGES, type ImageInput } from '@freehold/microblog';
import type { Context } from './command.js';
import { readInput } from './files.js';

/** `--image FILE [--alt TEXT]`, as often as given: each --alt describes the --image before it. */
export function imageInputs(ctx: Context): ImageInput[] {
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
  return out.map(({ file, alt }) => ({ bytes: readInput(file, MAX_IMAGE), alt }));
}
