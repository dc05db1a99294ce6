import { describe, expect, it } from 'vitest';
import { Kind, type EntryRow } from '@freehold/core';
import { randomPng } from '../../../test-support/png.js';
import { segmentsOf, hashtagsIn, mentionsIn } from '../src/index.js';
import { copy, follow, person } from './people.js';
import { SearchIndex } from '../src/search.js';

describe('links in post text', () => {
  it('finds web addresses, mentions and hashtags, and nothing inside words', () => {
    const text = 'See https://example.com/a?b=1. cc @bob@host.example:8787, #Tomatoes and #2024 mail@x.org a#b (#garden)';
    expect(segmentsOf(text).map((s) => s.text).join('')).toBe(text);
    expect(segmentsOf(text).filter((s) => 'url' in s)).toEqual([{ text: 'https://example.com/a?b=1', url: 'https://example.com/a?b=1' }]);
    expect(mentionsIn(text)).toEqual(['bob@host.example:8787']);
    expect(hashtagsIn(text)).toEqual(['tomatoes', 'garden']);
    expect(hashtagsIn(`#${'a'.repeat(65)}`)).toEqual([]);
  });
});

describe('search over the replica on the device', () => {
  it('matches words by their start, hashtags exactly, people by name and handle, newest first', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await bob.setProfile({ name: 'Bob Gardener', bio: 'Grows tomatoes' });
    await bob.post('Planting #Tomatoes today, the soil is warm');
    await new Promise((r) => setTimeout(r, 2));
    await bob.post('More tomatoes than I can eat');
    await alice.post('Nothing about gardens here');
    await follow(alice, bob);
    const index = new SearchIndex(alice);
    const progress: [number, number][] = [];
    await index.refresh((d, t) => progress.push([d, t]));
    expect(progress.at(-1)?.[0]).toBe(progress.at(-1)?.[1]);
    expect(index.size).toBe(3);

    expect(index.search('tomato').posts.map((p) => p.post.text)).toEqual(['More tomatoes than I can eat', 'Planting #Tomatoes today, the soil is warm']);
    expect(index.search('#tomatoes').posts.map((p) => p.post.text)).toEqual(['Planting #Tomatoes today, the soil is warm']);
    expect(index.search('#tomato').posts).toEqual([]);
    expect(index.search('soil #tomatoes').posts).toHaveLength(1);
    expect(index.search('tomatos').posts).toHaveLength(2);
    expect(index.search('warm eat').posts).toEqual([]);
    expect(index.search('gardener').people.map((p) => p.account)).toEqual([bob.me]);
    expect(index.search('@bob').people.map((p) => p.name)).toEqual(['Bob Gardener']);
    expect(index.search('   ').posts).toEqual([]);
    expect(index.search('x'.repeat(10_000)).posts).toEqual([]);
  });

  it('indexes posts with images without reading the images, on a first pass and the next ones', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await bob.post('Tomatoes in the sun', { images: [{ bytes: randomPng(300, 300), alt: 'a photo' }] });
    await follow(alice, bob);
    // What the index reads of the replica, by kind (while it refreshes: copying reads the blobs, of course).
    const read: number[] = [];
    let watching = false;
    const store = alice.device.store;
    for (const method of ['getEntries', 'spaceEntries', 'docEntries'] as const) {
      const real = store[method].bind(store) as (...a: unknown[]) => Promise<(EntryRow | undefined)[]>;
      (store as unknown as Record<string, unknown>)[method] = async (...a: unknown[]) => {
        const rows = await real(...a);
        if (watching) read.push(...rows.flatMap((r) => (r ? [r.kind] : [])));
        return rows;
      };
    }
    const index = new SearchIndex(alice);
    const refresh = async () => {
      watching = true;
      await index.refresh();
      watching = false;
    };
    await refresh();
    expect(index.search('tomatoes').posts.map((p) => p.post.images.map((i) => i.alt))).toEqual([['a photo']]);
    await bob.post('Peppers too');
    await copy(alice, bob);
    await refresh();
    expect(index.search('peppers').posts).toHaveLength(1);
    expect(read.length).toBeGreaterThan(0);
    expect(read).not.toContain(Kind.blob);
  });

  it('keeps up with edits, deletions and new posts by reading only what changed, and leaves muted accounts out', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const first = await bob.post('A walk by the river');
    const second = await bob.post('Bread baking all day');
    await follow(alice, bob);
    const index = new SearchIndex(alice);
    await index.refresh();
    expect(index.search('river').posts).toHaveLength(1);

    await bob.editPost(first, 'A walk by the lake');
    await bob.deletePost(second);
    await bob.post('Lake swim at dawn');
    await copy(alice, bob);
    const reads: number[] = [];
    await index.refresh((_, total) => reads.push(total));
    // The two changed posts and the new one, not every document again.
    expect(reads.at(-1)).toBeLessThanOrEqual(3);
    expect(index.search('river').posts).toEqual([]);
    expect(index.search('bread').posts).toEqual([]);
    expect(index.search('lake').posts.map((p) => p.post.text)).toEqual(['Lake swim at dawn', 'A walk by the lake']);

    await alice.moderation.mute(bob.me);
    await index.refresh();
    expect(index.search('lake').posts).toEqual([]);
    expect(index.size).toBe(0);
  });
});
