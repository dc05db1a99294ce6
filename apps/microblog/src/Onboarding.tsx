import { lazy, Suspense, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { Session } from './session.js';
import { PROVIDER } from './site.js';
import type { draft } from './start.js';
import { useAction } from './hooks.js';

// Linking checks codes with the client library, which the welcome screen does without.
const LinkForm = lazy(() => import('./Linking.js').then((m) => ({ default: m.LinkForm })));
const LinkWait = lazy(() => import('./Linking.js').then((m) => ({ default: m.LinkWait })));

/** Making, recovering or linking an account needs the whole engine: fetched once the person picks one, not to show the choices. */
const engine = () => import('./start.js');

type Step = { t: 'welcome' } | { t: 'create'; name?: string; handle?: string } | { t: 'phrase'; name: string; handle: string; draft: ReturnType<typeof draft> } | { t: 'recover' } | { t: 'link' } | { t: 'linking'; fingerprint: string };

/** Three positions of the phrase the user must type back, so nobody skips writing it down. */
function pickPositions(): number[] {
  const all = Array.from({ length: 24 }, (_, i) => i);
  const out: number[] = [];
  while (out.length < 3) out.push(all.splice(Math.floor(Math.random() * all.length), 1)[0]!);
  return out.sort((a, b) => a - b);
}

export function Onboarding({ onReady }: { onReady: (s: Session) => void }) {
  const [step, setStep] = useState<Step>({ t: 'welcome' });
  const { busy, error, act: run } = useAction();
  const linking = useRef<AbortController>(undefined);
  // Handles are name@the provider's canonical host, which may differ from the name this page was opened at.
  const [host, setHost] = useState(new URL(PROVIDER).host);
  const creating = step.t === 'create';
  useEffect(() => {
    if (creating) engine().then(({ homeHost }) => homeHost().then(setHost), () => {});
  }, [creating]);

  const link = async (code: string) => {
    const ctl = new AbortController();
    linking.current = ctl;
    const { requestLink, joinLinked } = await engine();
    const pending = await requestLink(code);
    setStep({ t: 'linking', fingerprint: pending.fingerprint });
    try {
      onReady(await joinLinked(pending, ctl.signal));
    } catch (e) {
      setStep({ t: ctl.signal.aborted ? 'welcome' : 'link' });
      if (!ctl.signal.aborted) throw e;
    }
  };

  return (
    <div className="onboarding">
      <h1>Freehold</h1>
      <p className="tagline">A microblog where you own everything: your keys stay in this browser, private posts are unreadable by the server, and any Freehold app sees the same data.</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {step.t === 'welcome' && (
        <div className="choices">
          <button className="primary" onClick={() => setStep({ t: 'create' })} autoFocus>
            Create an account
          </button>
          <button onClick={() => setStep({ t: 'recover' })}>I have a recovery phrase</button>
          <button onClick={() => setStep({ t: 'link' })}>Link to my account on another device</button>
        </div>
      )}
      {step.t === 'create' && (
        <CreateForm
          host={host}
          busy={busy}
          initial={step}
          onBack={() => setStep({ t: 'welcome' })}
          onSubmit={(name, handle) =>
            run(async () => {
              // Taken handles are refused before the phrase is shown, not after it was written down.
              const { handleFree, draft } = await engine();
              await handleFree(handle, host);
              setStep({ t: 'phrase', name, handle, draft: draft(name) });
            })
          }
        />
      )}
      {step.t === 'phrase' && (
        <ConfirmPhrase
          step={step}
          busy={busy}
          onBack={() => setStep({ t: 'create', name: step.name, handle: step.handle })}
          onConfirmed={() => run(async () => onReady(await step.draft.finish(step.handle)))}
        />
      )}
      <Suspense>
        {step.t === 'link' && <LinkForm busy={busy} onBack={() => setStep({ t: 'welcome' })} onSubmit={(code) => run(async () => link(code))} />}
        {step.t === 'linking' && <LinkWait fingerprint={step.fingerprint} onCancel={() => linking.current?.abort()} />}
      </Suspense>
      {step.t === 'recover' && (
        <RecoverForm busy={busy} onBack={() => setStep({ t: 'welcome' })} onSubmit={(phrase) => run(async () => onReady(await (await engine()).recover(phrase)))} />
      )}
    </div>
  );
}

function CreateForm({
  host,
  busy,
  initial,
  onBack,
  onSubmit,
}: {
  host: string;
  busy: boolean;
  initial: { name?: string; handle?: string };
  onBack: () => void;
  onSubmit: (name: string, handle: string) => void;
}) {
  const [name, setName] = useState(initial.name ?? '');
  const [handle, setHandle] = useState(initial.handle ?? '');
  const valid = name.trim().length > 0 && /^[a-z0-9][a-z0-9_-]{0,31}$/.test(handle);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (valid) onSubmit(name.trim(), handle);
  };
  return (
    <form className="card" onSubmit={submit}>
      <label>
        Display name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={80} autoFocus required />
      </label>
      <label>
        Handle
        <span className="handle-input">
          <input value={handle} onChange={(e) => setHandle(e.target.value.toLowerCase())} maxLength={32} placeholder="alice" required aria-describedby="handle-help" />
          <span className="muted">@{host}</span>
        </span>
      </label>
      <p id="handle-help" className="muted small">
        Letters, digits, - and _. Others find you as name@{host}.
      </p>
      <div className="row">
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button className="primary" disabled={!valid || busy}>
          {busy ? 'Checking the handle…' : 'Continue'}
        </button>
      </div>
    </form>
  );
}

function ConfirmPhrase({ step, busy, onBack, onConfirmed }: { step: Extract<Step, { t: 'phrase' }>; busy: boolean; onBack: () => void; onConfirmed: () => void }) {
  const words = step.draft.phrase.split(' ');
  const positions = useMemo(pickPositions, []);
  const [answers, setAnswers] = useState<string[]>(['', '', '']);
  const [shown, setShown] = useState(true);
  const [checked, setChecked] = useState(false);
  const wrong = positions.filter((p, i) => answers[i]!.trim().toLowerCase() !== words[p]);
  return (
    <div className="card">
      {shown ? (
        <>
          <h2>Your recovery phrase</h2>
          <p>These 24 words are the only way back into your account if this browser is lost. Write them down and keep them offline. Nobody, not even the provider, can recover them for you.</p>
          <ol className="phrase" aria-label="Recovery phrase">
            {words.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ol>
          <div className="row">
            <button type="button" onClick={onBack}>
              Back
            </button>
            <button className="primary" onClick={() => setShown(false)} autoFocus>
              I have written it down
            </button>
          </div>
        </>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setChecked(true);
            if (!wrong.length) onConfirmed();
          }}
        >
          <h2>Confirm your phrase</h2>
          {checked && wrong.length > 0 && (
            <p className="error" role="alert">
              {wrong.length === 1 ? `Word #${wrong[0]! + 1} does not match your phrase.` : `Words ${wrong.map((p) => `#${p + 1}`).join(', ')} do not match your phrase.`} Check
              what you wrote down, or show the phrase again.
            </p>
          )}
          {positions.map((p, i) => (
            <label key={p}>
              Word #{p + 1}
              <input
                value={answers[i]}
                autoFocus={i === 0}
                autoComplete="off"
                onChange={(e) => {
                  setChecked(false);
                  setAnswers(answers.map((a, j) => (j === i ? e.target.value : a)));
                }}
                aria-invalid={checked && wrong.includes(p)}
              />
            </label>
          ))}
          <div className="row">
            <button type="button" onClick={() => setShown(true)}>
              Show the phrase again
            </button>
            <button className="primary" disabled={answers.some((a) => !a.trim()) || busy}>
              {busy ? 'Creating your account…' : 'Create account'}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function RecoverForm({ busy, onBack, onSubmit }: { busy: boolean; onBack: () => void; onSubmit: (phrase: string) => void }) {
  const [phrase, setPhrase] = useState('');
  const count = phrase.trim() ? phrase.trim().split(/\s+/).length : 0;
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(phrase);
      }}
    >
      <label>
        Recovery phrase
        <textarea value={phrase} onChange={(e) => setPhrase(e.target.value)} rows={4} autoFocus spellCheck={false} autoComplete="off" />
      </label>
      <p className="muted small">{count}/24 words. This browser becomes a new device of your account and downloads everything from the provider.</p>
      <div className="row">
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button className="primary" disabled={count !== 24 || busy}>
          {busy ? 'Recovering…' : 'Recover account'}
        </button>
      </div>
    </form>
  );
}
