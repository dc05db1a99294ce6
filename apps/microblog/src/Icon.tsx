/** Line icons on a 24-unit grid, drawn with the text colour. */
const ICONS = {
  home: 'M3.5 10.5 12 3.5l8.5 7V20a.5.5 0 0 1-.5.5h-5v-6h-6v6H4a.5.5 0 0 1-.5-.5z',
  search: 'M10.5 3.5a7 7 0 1 0 0 14a7 7 0 1 0 0-14M15.5 15.5l5 5',
  messages: 'M4 4.5h16a.5.5 0 0 1 .5.5v10.5a.5.5 0 0 1-.5.5H9l-5 4v-15a.5.5 0 0 1 .5-.5',
  notifications: 'M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15zM10 20.5a2 2 0 0 0 4 0',
  followers: 'M9 11a3.75 3.75 0 1 0 0-7.5a3.75 3.75 0 1 0 0 7.5M2.5 20.5a6.5 6.5 0 0 1 13 0M15.5 3.8a3.75 3.75 0 0 1 0 7M18 14.2a6.5 6.5 0 0 1 3.5 6.3',
  profile: 'M12 11.5a4 4 0 1 0 0-8a4 4 0 1 0 0 8M4.5 20.5a7.5 7.5 0 0 1 15 0',
  settings: 'M3.5 7h10M17.5 7h3M15.5 4.5v5M3.5 17h3M10.5 17h10M8.5 14.5v5',
  reply: 'M4.5 5h15a.5.5 0 0 1 .5.5v10a.5.5 0 0 1-.5.5H10l-4.5 3.5V16h-1a.5.5 0 0 1-.5-.5v-10a.5.5 0 0 1 .5-.5',
  repost: 'M4 10V8.5a2 2 0 0 1 2-2h12M15 3.5l3 3-3 3M20 14v1.5a2 2 0 0 1-2 2H6M9 20.5l-3-3 3-3',
  like: 'M12 20s-7.5-4.6-7.5-10.2A4.3 4.3 0 0 1 12 7.4a4.3 4.3 0 0 1 7.5 2.4C19.5 15.4 12 20 12 20z',
} as const;

export type IconName = keyof typeof ICONS;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg className="icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
      <path d={ICONS[name]} />
    </svg>
  );
}
