import { useEffect, useState } from 'react';
import { Session } from './session.js';
import { Onboarding } from './Onboarding.js';
import { Home } from './Home.js';
import { FollowersPage, HandleProfilePage, InboxPage, ProfilePage } from './Pages.js';
import { SettingsPage } from './Settings.js';
import { useHashRoute, useLoad, useVersion } from './hooks.js';

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string>();
  useEffect(() => {
    Session.resume().then(
      (s) => setSession(s ?? null),
      (e: Error) => setError(`Could not open this browser's Freehold data: ${e.message}`),
    );
  }, []);
  if (error) return <div className="center error">{error}</div>;
  if (session === undefined) return <div className="center muted">Opening your replica…</div>;
  if (session === null) return <Onboarding onReady={setSession} />;
  return <Shell session={session} onSignOut={() => setSession(null)} />;
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  useVersion(session);
  const route = useHashRoute();
  const inbox = useLoad(session, () => session.mb.inbox());
  const unread = inbox.state === 'ready' ? inbox.value.filter((i) => i.message.from !== session.account).length : 0;
  const page = route.startsWith('/u/') ? (
    <ProfilePage session={session} account={route.slice(3)} />
  ) : route.startsWith('/@') ? (
    <HandleProfilePage session={session} handle={decodeURIComponent(route.slice(2))} />
  ) : route === '/me' ? (
    <ProfilePage session={session} account={session.account} />
  ) : route === '/inbox' ? (
    <InboxPage session={session} />
  ) : route === '/followers' ? (
    <FollowersPage session={session} />
  ) : route === '/settings' ? (
    <SettingsPage session={session} />
  ) : (
    <Home session={session} />
  );
  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href="#/">
          Freehold
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={route === '/' ? 'page' : undefined}>
            Home
          </a>
          <a href="#/inbox" aria-current={route === '/inbox' ? 'page' : undefined}>
            Inbox{unread ? <span className="badge" aria-label={`${unread} items`}>{unread}</span> : null}
          </a>
          <a href="#/followers" aria-current={route === '/followers' ? 'page' : undefined}>
            Followers
          </a>
          <a href="#/me" aria-current={route === '/me' ? 'page' : undefined}>
            Profile
          </a>
          <a href="#/settings" aria-current={route === '/settings' ? 'page' : undefined}>
            Settings
          </a>
        </nav>
        <ProviderStatus session={session} />
        <button
          className="link"
          onClick={async () => {
            if (confirm('Forget this account in this browser? You can recover it with your phrase.')) {
              await session.signOut();
              onSignOut();
            }
          }}
        >
          Sign out
        </button>
      </header>
      <main className="content">{page}</main>
    </div>
  );
}

/** The sync state overall (synced while any provider is reachable), then each provider's own. */
function ProviderStatus({ session }: { session: Session }) {
  const providers = session.providers;
  const status = session.status;
  return (
    <span className="sync-state" role="status">
      <span className={`status ${status}`} title="Your data lives in this browser; the providers only sync it.">
        {status === 'online' ? 'Synced' : status === 'offline' ? 'Offline — changes stay here until a provider is back' : 'Connecting…'}
      </span>
      <span className="providers" aria-label="Providers">
        {providers.map((p) => (
          <span key={p.host} className={`provider ${p.status}`} title={`${p.host}: ${p.status}${p.error ? ` (${p.error})` : ''}`}>
            {p.host}
          </span>
        ))}
      </span>
    </span>
  );
}
