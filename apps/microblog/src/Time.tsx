import { useSyncExternalStore } from 'react';

/** How often relative times are written again: "just now" becomes "1m" without a reload. */
const TICK_MS = 30_000;

/** One timer for every time on the screen, running only while one shows. */
const clock = {
  now: Date.now(),
  listeners: new Set<() => void>(),
  timer: undefined as ReturnType<typeof setInterval> | undefined,
  subscribe(f: () => void): () => void {
    clock.listeners.add(f);
    clock.timer ??= setInterval(() => {
      clock.now = Date.now();
      for (const l of clock.listeners) l();
    }, TICK_MS);
    return () => {
      clock.listeners.delete(f);
      if (clock.listeners.size || !clock.timer) return;
      clearInterval(clock.timer);
      clock.timer = undefined;
    };
  },
};

export function timeAgo(t: number, now = Date.now()): string {
  const s = Math.round((now - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)}d`;
  return new Date(t).toLocaleDateString();
}

/** A moment as "5m", "3h", "2d" or a date, kept current; the exact time is in its tooltip. */
export function Ago({ at }: { at: number }) {
  useSyncExternalStore(clock.subscribe, () => clock.now);
  return (
    <time dateTime={new Date(at).toISOString()} title={new Date(at).toLocaleString()}>
      {timeAgo(at)}
    </time>
  );
}
