import { Conversations } from '@freehold/microblog';
import type { Session } from './session.js';
import { useLoad } from './hooks.js';

/** Unread direct messages and notifications, for the badges: the same marks on every device of the account. */
export function useUnread(session: Session): { messages: number; notifications: number } {
  const counts = useLoad(session, async () => {
    const c = new Conversations(session.mb);
    return { messages: await c.unread(), notifications: (await c.notifications()).filter((n) => n.unread).length };
  });
  return counts.state === 'ready' ? counts.value : { messages: 0, notifications: 0 };
}
