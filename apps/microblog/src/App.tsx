import { useEffect, useState } from 'react';
import { Session } from './session.js';
import { Onboarding } from './Onboarding.js';
import { Home } from './Home.js';
import { FollowersPage } from './Pages.js';
import { HandleProfilePage, PostPage, ProfilePage } from './Profile.js';
import { ConversationPage, MessagesPage, NotificationsPage, useUnread } from './Conversations.js';
import { SettingsPage } from './Settings.js';
import { SearchPage } from './Search.js';
import { useHashRoute, useVersion } from './hooks.js';

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
  const unread = useUnread(session);
  // `/u/ACCOUNT` and `/@name@host`, each maybe with `/POSTID`: the post's own page.
  const [who, post] = route.slice(route.startsWith('/u/') ? 3 : 2).split('/');
  const page = route.startsWith('/u/') ? (
    post === undefined ? <ProfilePage session={session} account={who!} /> : <PostPage session={session} account={who!} post={post} />
  ) : route.startsWith('/@') ? (
    <HandleProfilePage session={session} handle={decodeURIComponent(who!)} post={post} />
  ) : route === '/me' ? (
    <ProfilePage session={session} account={session.account} />
  ) : route === '/messages' ? (
    <MessagesPage session={session} />
  ) : route.startsWith('/messages/') ? (
    <ConversationPage session={session} account={route.slice('/messages/'.length)} />
  ) : route === '/notifications' ? (
    <NotificationsPage session={session} />
  ) : route === '/followers' ? (
    <FollowersPage session={session} />
  ) : route === '/search' || route.startsWith('/search?') ? (
    <SearchPage session={session} query={new URLSearchParams(route.split('?')[1] ?? '').get('q') ?? ''} />
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
          <a href="#/search" aria-current={route.startsWith('/search') ? 'page' : undefined}>
            Search
          </a>
          <a href="#/messages" aria-current={route.startsWith('/messages') ? 'page' : undefined}>
            Messages{unread.messages ? <span className="badge" aria-label={`${unread.messages} unread`}>{unread.messages}</span> : null}
          </a>
          <a href="#/notifications" aria-current={route === '/notifications' ? 'page' : undefined}>
            Notifications{unread.notifications ? <span className="badge" aria-label={`${unread.notifications} unread`}>{unread.notifications}</span> : null}
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
