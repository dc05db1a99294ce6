import type { ReactNode } from 'react';
import { Icon, type IconName } from './Icon.js';

/**
 * A link of the main navigation: its icon, its name (beside it on wide screens, only read out on phones) and how
 * many unread things wait there.
 */
export function NavLink({ href, icon, current, unread = 0, children }: { href: string; icon: IconName; current: boolean; unread?: number; children: ReactNode }) {
  return (
    <a href={href} aria-current={current ? 'page' : undefined}>
      <Icon name={icon} />
      <span className="label">{children}</span>
      {unread > 0 && (
        <span className="badge" aria-label={`${unread} unread`}>
          {unread}
        </span>
      )}
    </a>
  );
}
