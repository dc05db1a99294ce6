import type { ReactNode } from 'react';

/** Line icons on a 24-unit grid, drawn with the text colour. */
const ICONS = {
  home: 'M3.5 10.5 12 3.5l8.5 7V20a.5.5 0 0 1-.5.5h-5v-6h-6v6H4a.5.5 0 0 1-.5-.5z',
  search: 'M10.5 3.5a7 7 0 1 0 0 14a7 7 0 1 0 0-14M15.5 15.5l5 5',
  messages: 'M4 4.5h16a.5.5 0 0 1 .5.5v10.5a.5.5 0 0 1-.5.5H9l-5 4v-15a.5.5 0 0 1 .5-.5',
  notifications: 'M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15zM10 20.5a2 2 0 0 0 4 0',
  followers: 'M9 11a3.75 3.75 0 1 0 0-7.5a3.75 3.75 0 1 0 0 7.5M2.5 20.5a6.5 6.5 0 0 1 13 0M15.5 3.8a3.75 3.75 0 0 1 0 7M18 14.2a6.5 6.5 0 0 1 3.5 6.3',
  profile: 'M12 11.5a4 4 0 1 0 0-8a4 4 0 1 0 0 8M4.5 20.5a7.5 7.5 0 0 1 15 0',
  settings: 'M3.5 7h10M17.5 7h3M15.5 4.5v5M3.5 17h3M10.5 17h10M8.5 14.5v5',
} as const;

export type IconName = keyof typeof ICONS;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg className="icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
      <path d={ICONS[name]} />
    </svg>
  );
}

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
