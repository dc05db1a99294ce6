import { lazy, Suspense, useEffect, useState } from 'react';
import type { Session } from './session.js';
import { hasIdentity } from './keystore.js';
import { PageSkeleton } from './Skeleton.js';

// The first screen fetches only what it shows: the choices for someone new, or the signed-in app (with the
// engine, and the timeline) for someone whose keys this browser holds.
const Onboarding = lazy(() => import('./Onboarding.js').then((m) => ({ default: m.Onboarding })));
const Shell = lazy(() => import('./Shell.js').then((m) => ({ default: m.Shell })));

/** Opens this browser's replica for the account it holds the keys of, if any, and starts syncing. */
async function resume(): Promise<Session | null> {
  if (!(await hasIdentity())) return null;
  const [{ loadIdentity }, { Session }] = await Promise.all([import('./keys.js'), import('./session.js')]);
  const id = await loadIdentity();
  return id ? Session.start(id) : null;
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string>();
  useEffect(() => {
    resume().then(setSession, (e: Error) => setError(`Could not open this browser's Freehold data: ${e.message}`));
  }, []);
  if (error) return <div className="center error">{error}</div>;
  if (session === undefined) return <div className="center muted" role="status">Opening your replica…</div>;
  return (
    <Suspense fallback={session ? <PageSkeleton /> : <div className="center muted">Loading…</div>}>
      {session ? <Shell session={session} onSignOut={() => setSession(null)} /> : <Onboarding onReady={setSession} />}
    </Suspense>
  );
}
