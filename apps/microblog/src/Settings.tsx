import { useEffect, useState } from 'react';
import { FreeholdError } from '@freehold/core';
import { hostOf, MOVE_STEPS, othersServe, type MoveProgress, type ProviderState } from '@freehold/client';
import { ExportCard, PhraseCard } from './AccountData.js';
import { DeleteAccountCard } from './DeleteAccount.js';
import type { Session } from './session.js';
import { PROVIDER } from './site.js';
import { useVersion } from './hooks.js';
import { LinkDevice } from './Linking.js';
import { BlockedCard } from './Moderation.js';
import { DevicesCard } from './Devices.js';
import { addProvider, moveProvider, statesOf } from './providers.js';

const here = new URL(PROVIDER).host;

/** What each status means for the person, as `freehold provider list` explains it. */
function meaning(x: ProviderState, others: boolean): string {
  switch (x.status) {
    case 'current':
      return 'Holds your account and its current identity log.';
    case 'behind':
      return 'Holds an older identity log of your account; it catches up from this browser and your other providers.';
    case 'ahead':
      return 'Holds a newer identity log than this browser (another of your devices changed it); this browser catches up as it syncs.';
    case 'missing':
      return 'Answers but holds nothing of your account (it lost its data, or has not caught up yet); your other providers bring it back.';
    case 'unreachable':
      return others
        ? `No answer (${x.error}). Nothing is lost: your other providers hold your account and serve your contacts.`
        : `No answer (${x.error}). No provider of yours answers now: this browser keeps everything and syncs when one is back.`;
  }
}

/** The account's providers, probed again when the log names other ones or the person asks. */
function useProviderStates(session: Session): { list?: ProviderState[]; recheck(): void } {
  useVersion(session);
  const key = session.device.identity().providers.join(' ');
  const [round, setRound] = useState(0);
  const [list, setList] = useState<ProviderState[]>();
  useEffect(() => {
    let live = true;
    void statesOf(session).then((l) => live && setList(l));
    return () => {
      live = false;
    };
  }, [key, round]);
  return { list, recheck: () => setRound((n) => n + 1) };
}

export function SettingsPage({ session }: { session: Session }) {
  const states = useProviderStates(session);
  const [home, setHome] = useState<string | null>();
  const key = session.device.identity().providers.join(' ');
  useEffect(() => void session.home().then((h) => setHome(h ?? null)), [key]);
  return (
    <div className="settings">
      <h1>Settings</h1>
      <ProvidersCard session={session} list={states.list} onRecheck={states.recheck} />
      <DevicesCard session={session} />
      <BlockedCard session={session} />
      <MoveCard session={session} home={home} />
      <ThisBrowser session={session} home={home} list={states.list} />
      <PhraseCard session={session} />
      <ExportCard session={session} />
      <DeleteAccountCard session={session} />
    </div>
  );
}

function ProvidersCard({ session, list, onRecheck }: { session: Session; list?: ProviderState[]; onRecheck: () => void }) {
  const [url, setUrl] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const add = async () => {
    setBusy(true);
    setResult(undefined);
    try {
      const added = await addProvider(session, url);
      setResult({ ok: true, text: `Added ${hostOf(added)}: it holds your account from now on, alongside the others.` });
      setUrl('');
      // The list was asked while the new log was still on its way to the providers.
      onRecheck();
    } catch (e) {
      setResult({ ok: false, text: `${(e as Error).message}. Nothing was added.` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="providers-title">
      <h2 id="providers-title">Providers</h2>
      <p className="muted small">
        Your account lives on your devices; providers keep an encrypted copy and pass it to your contacts. With two, losing one loses nothing.
      </p>
      {!list && <p className="muted">Asking your providers…</p>}
      {list && (
        <ul className="provider-list" aria-label="Your providers">
          {list.map((x) => (
            <li key={x.url} data-status={x.status}>
              <div>
                <strong>{hostOf(x.url)}</strong> <span className={`pill state ${x.status}`}>{x.status}</span>
                {hostOf(x.url) === here && <span className="muted small"> serves this app</span>}
              </div>
              <p className="muted small">{meaning(x, othersServe(list, x.url))}</p>
            </li>
          ))}
        </ul>
      )}
      <form
        className="add-provider"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <label>
          Provider URL
          <input value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://provider.example" autoComplete="url" spellCheck={false} />
        </label>
        <div className="row">
          <button type="button" onClick={onRecheck}>
            Check again
          </button>
          <button className="primary" disabled={!url.trim() || busy}>
            {busy ? 'Adding…' : 'Add provider'}
          </button>
        </div>
      </form>
      {result && (
        <p className={result.ok ? 'ok' : 'error'} role={result.ok ? 'status' : 'alert'}>
          {result.text}
        </p>
      )}
    </section>
  );
}

const STEP_TEXT: Record<MoveProgress['step'], string> = {
  checking: 'Asking the new provider whether it takes your account…',
  copying: 'Copying your data to the new provider',
  sending: 'Sending what it still lacks from this browser',
  verifying: 'Checking that it holds every entry',
  handles: 'Claiming your handle there',
  retiring: 'Publishing the new provider list',
  done: 'Done',
};

/** How far a move got, from 0 to 1: each step an equal share, the counting ones filled as entries arrive. */
const fraction = ({ step, done, total }: MoveProgress): number =>
  (MOVE_STEPS.indexOf(step) + (total ? Math.min(done ?? 0, total) / total : 0)) / (MOVE_STEPS.length - 1);

type MoveState =
  | { t: 'idle' }
  | { t: 'moving'; progress: MoveProgress; lines: string[] }
  | { t: 'moved'; to: string; from: string; told: boolean; lines: string[] }
  | { t: 'failed'; from: string; message: string; origin: boolean };

function MoveCard({ session, home }: { session: Session; home: string | null | undefined }) {
  const providers = session.device.identity().providers;
  const [from, setFrom] = useState<string>();
  const [to, setTo] = useState('');
  const [state, setState] = useState<MoveState>({ t: 'idle' });
  const source = from && providers.includes(from) ? from : (home ?? providers[0]);
  const start = async () => {
    if (!source) return;
    const lines: string[] = [];
    setState({ t: 'moving', progress: { step: 'checking' }, lines });
    let progress: MoveProgress = { step: 'checking' };
    try {
      const report = await moveProvider(
        session,
        source,
        to,
        (p) => setState({ t: 'moving', progress: (progress = p), lines: [...lines] }),
        (line) => {
          lines.push(line);
          setState({ t: 'moving', progress, lines: [...lines] });
        },
      );
      setState({ t: 'moved', from: report.from, to: report.to, told: report.retired.told, lines });
      setTo('');
    } catch (e) {
      const origin = e instanceof FreeholdError && e.reason === 'unauthenticated';
      setState({ t: 'failed', from: source, message: (e as Error).message, origin });
    }
  };
  const moving = state.t === 'moving';
  return (
    <section className="card" aria-labelledby="move-title">
      <h2 id="move-title">Move to another provider</h2>
      <p className="muted small">
        Copies everything to the new provider, checks that it holds every entry, claims your handle there, then tells your contacts&rsquo; providers where you
        live now. Your contacts need do nothing. Until the new provider holds everything, your account stays where it is.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        {providers.length > 1 ? (
          <label>
            Move from
            <select value={source} onChange={(e) => setFrom(e.target.value)} disabled={moving}>
              {providers.map((p) => (
                <option key={p} value={p}>
                  {hostOf(p)}
                </option>
              ))}
            </select>
          </label>
        ) : (
          source && <p>From {hostOf(source)}</p>
        )}
        <label>
          New provider URL
          <input value={to} onChange={(e) => setTo(e.target.value)} placeholder="https://provider.example" autoComplete="url" spellCheck={false} disabled={moving} />
        </label>
        <div className="row">
          <button className="primary" disabled={!to.trim() || !source || moving}>
            {moving ? 'Moving…' : 'Move my account'}
          </button>
        </div>
      </form>
      {state.t === 'moving' && (
        <div className="move-progress">
          <progress aria-label="Move progress" max={1} value={fraction(state.progress)} />
          <p role="status">
            {STEP_TEXT[state.progress.step]}
            {state.progress.total ? `: ${Math.min(state.progress.done ?? 0, state.progress.total)} of ${state.progress.total} entries` : ''}
          </p>
        </div>
      )}
      {(state.t === 'moving' || state.t === 'moved') && state.lines.length > 0 && (
        <ul className="move-log muted small" aria-label="What the move did">
          {state.lines.map((l, i) => (
            <li key={i}>{l}</li>
          ))}
        </ul>
      )}
      {state.t === 'moved' && (
        <p className="ok" role="status">
          Moved: your account lives at {hostOf(state.to)} now. {hostOf(state.from)} {state.told ? 'points there for its grace period' : 'could not be told, and is not needed'}.
        </p>
      )}
      {state.t === 'failed' && (
        <div role="alert">
          <p className="error">{state.message}</p>
          <p>Your account keeps working on {hostOf(state.from)}; you can try the move again.</p>
          {state.origin && (
            <p className="small">
              That provider lets only its own pages (and sites its operator allows with <code>--allow-origin</code>) use it, and this app comes from {here}. Ask
              its operator to allow {location.origin}, or move from a device with the command line: <code>freehold provider move {state.from} URL</code>.
            </p>
          )}
        </div>
      )}
    </section>
  );
}

/**
 * Where this browser's copy of the account lives (the site that served the app), and how to continue at another
 * provider's app: a browser keeps each site's data apart, so a move does not carry this copy along.
 */
function ThisBrowser({ session, home, list }: { session: Session; home: string | null | undefined; list?: ProviderState[] }) {
  const elsewhere = session.device.identity().providers.filter((p) => p !== home);
  // Continue where the account answers: a provider that holds it rather than one that is down.
  const answering = (url: string) => list?.some((x) => x.url === url && x.status !== 'unreachable' && x.status !== 'missing');
  const next = elsewhere.find(answering) ?? elsewhere[0];
  return (
    <section className="card" aria-labelledby="browser-title">
      <h2 id="browser-title">This browser</h2>
      {home === null && (
        <p className="notice" role="status">
          Your account no longer lives at {here}. This app keeps working from here while {here} serves it (for its grace period it points to your
          new provider, and this browser keeps a copy of the app), and syncs through {elsewhere.map(hostOf).join(', ') || 'your providers'}.
        </p>
      )}
      <p className="small">
        Browsers keep each site&rsquo;s data apart: your keys and your copy of the account in this browser belong to {here}, the site that served this app.
        A move does not carry them along; this copy keeps syncing with your providers as long as they let pages from {here} connect.
      </p>
      {next && (
        <>
          <p className="small">
            To use the app at {hostOf(next)} instead: open it, choose &ldquo;Link to my account on another device&rdquo; and type the code shown here (or
            recover there with your phrase).{' '}
            <a href={next} target="_blank" rel="noopener noreferrer">
              Open {hostOf(next)}
            </a>
          </p>
          <LinkDevice session={session} provider={next} title={`Continue at ${hostOf(next)}`} action={`Link the app at ${hostOf(next)}`} />
        </>
      )}
    </section>
  );
}
