import { useEffect, useState, useSyncExternalStore } from 'react';
import type { Session } from './session.js';

/** Re-renders on every change to the session (local writes, live pushes, status). */
export function useVersion(session: Session): number {
  return useSyncExternalStore(
    (f) => session.subscribe(f),
    () => session.version,
  );
}

export type Loaded<T> = { state: 'loading' } | { state: 'ready'; value: T } | { state: 'error'; message: string };

/** Loads data from the replica again whenever the session changes. */
export function useLoad<T>(session: Session, load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const version = useVersion(session);
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    load().then(
      (value) => live && setResult({ state: 'ready', value }),
      (e: Error) => live && setResult({ state: 'error', message: e.message }),
    );
    return () => {
      live = false;
    };
  }, [version, ...deps]);
  return result;
}

export function useHashRoute(): string {
  const [hash, setHash] = useState(location.hash.slice(1) || '/');
  useEffect(() => {
    const f = () => setHash(location.hash.slice(1) || '/');
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return hash;
}

/** Runs one action at a time for a form or a row of buttons, keeping its error to show. */
export function useAction(): { busy: boolean; error?: string; act(f: () => Promise<unknown>): void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const act = (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    f().then(
      () => setBusy(false),
      (e: Error) => {
        setError(e.message);
        setBusy(false);
      },
    );
  };
  return { busy, error, act };
}
