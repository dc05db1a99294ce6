import { Conversations, type Conversation } from '@freehold/microblog';
import type { Command } from '../command.js';
import { accountOf, withMicroblog } from './microblog.js';
import { namesOf } from '../post-view.js';

const when = (at: number): string => new Date(at).toLocaleString('en');

/** One conversation as `--json` carries it: the other person, what was said both ways, and what is unread. */
function conversationJson(c: Conversation, names: Map<string, string | undefined>, withMessages: boolean) {
  const message = (m: Conversation['last']) => ({
    id: m.id,
    from: m.message.from,
    to: m.message.to,
    mine: m.mine,
    text: m.message.text,
    at: new Date(m.message.at).toISOString(),
  });
  return {
    with: c.with,
    handle: names.get(c.with) ?? null,
    unread: c.unread,
    last: message(c.last),
    ...(withMessages ? { messages: c.messages.map(message) } : {}),
  };
}

export const conversationCommands: Command[] = [
  {
    name: 'conversations',
    usage: 'conversations [NAME@host] [--json]',
    summary:
      'Direct messages by person, apart from notifications: each conversation with its last message and how many are unread. ' +
      'Naming someone prints your conversation with them, both ways, and marks it read on every device of your account.',
    options: { json: { type: 'boolean' } },
    args: [0, 1],
    async run(ctx) {
      const who = ctx.args[0];
      const { list, names } = await withMicroblog(ctx, async (mb) => {
        const convs = new Conversations(mb);
        let list: Conversation[];
        if (who === undefined) list = await convs.list();
        else {
          const { account } = await accountOf(mb, who);
          const before = await convs.with(account);
          await convs.markRead(account);
          // Shown with what was unread before reading it, as a mail reader marks what it just opened.
          list = before ? [before] : [];
        }
        return { list, names: await namesOf(mb, list.map((c) => c.with)) };
      });
      const name = (account: string) => names.get(account) ?? account;
      if (who !== undefined) {
        if (ctx.values.json) return ctx.json(list[0] ? conversationJson(list[0], names, true) : null);
        if (!list[0]) return ctx.out(`no messages with ${who} yet: \`freehold dm ${who} TEXT\``);
        for (const m of list[0].messages) {
          const head = m.mine ? `you to ${name(m.message.to)}` : name(m.message.from);
          ctx.out(`${when(m.message.at)}  ${head}: ${m.message.text}`);
        }
        return;
      }
      if (ctx.values.json) return ctx.json(list.map((c) => conversationJson(c, names, false)));
      if (!list.length) return ctx.out('no conversations yet: `freehold dm NAME@host TEXT`');
      // By handle where known, else by the whole id: whatever is shown here, `conversations NAME` takes.
      for (const c of list) {
        const unread = c.unread ? `  (${c.unread} unread)` : '';
        const last = c.last.mine ? `you: ${c.last.message.text}` : c.last.message.text;
        ctx.out(`${name(c.with)}${unread}  ${when(c.last.message.at)}  ${last}`);
      }
    },
  },
];
