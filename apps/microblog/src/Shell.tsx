import { lazy, Suspense } from 'react';
import type { Session } from './session.js';
import { Home } from './Home.js';
import { useUnread } from './unread.js';
import { useHashRoute, useVersion } from './hooks.js';
import { NavLink } from './Nav.js';
import { PageSkeleton } from './Skeleton.js';

// Only the timeline comes with the first screen; every other screen is fetched when first opened (and kept for
// offline use by the service worker).
const FollowersPage = lazy(() => import('./Pages.js').then((m) => ({ default: m.FollowersPage })));
const ProfilePage = lazy(() => import('./Profile.js').then((m) => ({ default: m.ProfilePage })));
const HandleProfilePage = lazy(() => import('./Profile.js').then((m) => ({ default: m.HandleProfilePage })));
const PostPage = lazy(() => import('./Profile.js').then((m) => ({ default: m.PostPage })));
const MessagesPage = lazy(() => import('./Conversations.js').then((m) => ({ default: m.MessagesPage })));
const ConversationPage = lazy(() => import('./Conversations.js').then((m) => ({ default: m.ConversationPage })));
const NotificationsPage = lazy(() => import('./Conversations.js').then((m) => ({ default: m.NotificationsPage })));
const SettingsPage = lazy(() => import('./Settings.js').then((m) => ({ default: m.SettingsPage })));
const SearchPage = lazy(() => import('./Search.js').then((m) => ({ default: m.SearchPage })));

export function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
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
  const at = (prefix: string) => route === prefix || route.startsWith(`${prefix}/`) || route.startsWith(`${prefix}?`);
  return (
    <div className="shell">
      <header className="sidebar">
        <a className="brand" href="#/">
          Freehold
        </a>
        <nav aria-label="Main">
          <NavLink href="#/" icon="home" current={route === '/'}>
            Home
          </NavLink>
          <NavLink href="#/search" icon="search" current={at('/search')}>
            Search
          </NavLink>
          <NavLink href="#/messages" icon="messages" current={at('/messages')} unread={unread.messages}>
            Messages
          </NavLink>
          <NavLink href="#/notifications" icon="notifications" current={at('/notifications')} unread={unread.notifications}>
            Notifications
          </NavLink>
          <NavLink href="#/followers" icon="followers" current={at('/followers')}>
            Followers
          </NavLink>
          <NavLink href="#/me" icon="profile" current={at('/me')}>
            Profile
          </NavLink>
          <NavLink href="#/settings" icon="settings" current={at('/settings')}>
            Settings
          </NavLink>
        </nav>
        <div className="sidebar-foot">
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
        </div>
      </header>
      <main className="content">
        <Suspense fallback={<PageSkeleton />}>{page}</Suspense>
      </main>
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
