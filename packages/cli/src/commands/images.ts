import { reject } from '@freehold/core';
import { postImage, refToString } from '@freehold/microblog';
import type { Command } from '../command.js';
import { writeBytes } from '../files.js';
import { heldPost, positiveInt, withMicroblog } from './microblog.js';

export const imageCommands: Command[] = [
  {
    name: 'image',
    usage: 'image POST FILE [--index N] [--thumb]',
    summary: 'Save an image of a post (the first, or the Nth) to FILE, once its bytes are here and match their id.',
    options: { index: { type: 'string' }, thumb: { type: 'boolean' } },
    args: [2, 2],
    async run(ctx) {
      const index = positiveInt(ctx.values.index, '--index', 1);
      const { bytes, alt } = await withMicroblog(ctx, async (mb) => {
        const ref = await heldPost(mb, ctx.args[0]!);
        const image = (await mb.getPost(ref))!.post.images[index - 1] ?? reject('not-found', `${refToString(ref)} has no image ${index}`);
        const picture = ctx.values.thumb ? (image.thumb ?? reject('not-found', `image ${index} of ${refToString(ref)} has no thumbnail`)) : image;
        return { bytes: await postImage(mb, ref, picture), alt: image.alt };
      });
      writeBytes(ctx.args[1]!, bytes);
      ctx.out(`saved ${bytes.length} bytes to ${ctx.args[1]}${alt ? ` (${alt})` : ''}`);
    },
  },
];
