import { SearchIndex } from '@freehold/microblog/search';
import type { Command } from '../command.js';
import { itemJson, postsView, printPosts } from '../post-view.js';
import { positiveInt, withMicroblog } from './microblog.js';

export const searchCommand: Command = {
  name: 'search',
  usage: 'search QUERY [--json] [--limit N]',
  summary:
    'Search the posts and people this device holds (yours and those you follow, friends-only posts included): ' +
    'words match the start of words, #tag a hashtag, @name a person. Nothing leaves this device.',
  options: { json: { type: 'boolean' }, limit: { type: 'string' } },
  args: [1, 1],
  async run(ctx) {
    const query = ctx.args[0]!;
    const limit = positiveInt(ctx.values.limit, '--limit', 20);
    const { view, people } = await withMicroblog(ctx, async (mb) => {
      const index = new SearchIndex(mb);
      await index.refresh();
      const found = index.search(query, { limit });
      return { view: await postsView(mb, found.posts), people: found.people };
    });
    if (ctx.values.json) {
      return ctx.json({ people: people.map((p) => ({ account: p.account, handle: p.handle ?? null, name: p.name ?? null })), posts: view.items.map((i) => itemJson(i, view.handles)) });
    }
    if (!people.length && !view.items.length) return ctx.out(`nothing matches ${JSON.stringify(query)} in your replica`);
    for (const p of people) ctx.out(`${p.handle ?? p.account}${p.name ? `  ${p.name}` : ''}`);
    if (people.length && view.items.length) ctx.out('');
    printPosts(ctx, view);
  },
};
