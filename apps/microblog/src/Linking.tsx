import { useEffect, useRef, useState } from 'react';
import { CODE_LENGTH, parsePairingCode, type LinkRequest } from '@freehold/client/pairing';
import type { Session } from './session.js';

type Linking =
  | { t: 'idle'; result?: { ok: boolean; text: string } }
  | { t: 'waiting'; code: string }
  | { t: 'confirm'; req: LinkRequest }
  | { t: 'adding'; name: string };

/** The words both devices show; the person compares them before the new device is added. */
export function Fingerprint({ words }: { words: string }) {
  return (
    <p className="fingerprint" aria-label="Fingerprint">
      {words}
    </p>
  );
}

/**
 * On a device of the account: show a code, then the new device's fingerprint, and add it only once confirmed. The
 * code is open at `provider` (this page's by default): the new device's app asks its own provider for it.
 */
export function LinkDevice({
  session,
  provider,
  title = 'Devices',
  action = 'Link a new device',
}: {
  session: Session;
  provider?: string;
  title?: string;
  action?: string;
}) {
  const [state, setState] = useState<Linking>({ t: 'idle' });
  const cancel = useRef<AbortController>(undefined);
  useEffect(() => () => cancel.current?.abort(), []);
  const fail = (e: Error) => setState({ t: 'idle', result: { ok: false, text: e.message } });

  const start = async () => {
    cancel.current?.abort();
    const ctl = new AbortController();
    cancel.current = ctl;
    try {
      const offer = await session.offerLink(provider);
      setState({ t: 'waiting', code: offer.code });
      const req = await offer.request(ctl.signal);
      setState({ t: 'confirm', req });
    } catch (e) {
      if (!ctl.signal.aborted) fail(e as Error);
    }
  };
  const confirm = async (req: LinkRequest) => {
    setState({ t: 'adding', name: req.device.name });
    try {
      await session.addLinked(req);
      setState({ t: 'idle', result: { ok: true, text: `Linked “${req.device.name}”. It now reads everything this account can.` } });
    } catch (e) {
      fail(e as Error);
    }
  };
  const differ = async (req: LinkRequest) => {
    setState({ t: 'idle', result: { ok: false, text: 'Not linked: the words did not match. Nothing was added.' } });
    await req.refuse().catch(() => undefined);
  };

  return (
    <div className="card link-device">
      <h2>{title}</h2>
      {state.t === 'idle' && <button onClick={() => void start()}>{action}</button>}
      {state.t === 'waiting' && (
        <>
          <p>
            On the new device choose “Link to my account on another device” and type <strong className="code">{state.code}</strong>. Waiting…
          </p>
          <button
            onClick={() => {
              cancel.current?.abort();
              setState({ t: 'idle' });
            }}
          >
            Cancel
          </button>
        </>
      )}
      {state.t === 'confirm' && (
        <>
          <p>A device asks to join as “{state.req.device.name}”. Does its screen show these same four words?</p>
          <Fingerprint words={state.req.fingerprint} />
          <div className="row">
            <button onClick={() => void differ(state.req)}>They differ</button>
            <button className="primary" onClick={() => void confirm(state.req)}>
              They match: link it
            </button>
          </div>
        </>
      )}
      {state.t === 'adding' && <p>Adding “{state.name}”…</p>}
      {state.t === 'idle' && state.result && <p className={state.result.ok ? 'ok' : 'error'}>{state.result.text}</p>}
    </div>
  );
}

const validCode = (code: string): boolean => {
  try {
    return parsePairingCode(code).length === CODE_LENGTH;
  } catch {
    return false;
  }
};

/** On the new device: the code shown on the other device. */
export function LinkForm({ busy, onBack, onSubmit }: { busy: boolean; onBack: () => void; onSubmit: (code: string) => void }) {
  const [code, setCode] = useState('');
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(code);
      }}
    >
      <label>
        Linking code
        <input value={code} onChange={(e) => setCode(e.target.value.toUpperCase())} placeholder="7K3Q-PXMA-9TZ2R" autoFocus autoComplete="off" spellCheck={false} />
      </label>
      <p className="muted small">On a device where you are signed in, open Profile → Link a new device, and type the code it shows.</p>
      <div className="row">
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button className="primary" disabled={!validCode(code) || busy}>
          {busy ? 'Sending…' : 'Link this browser'}
        </button>
      </div>
    </form>
  );
}

/** On the new device, while the person compares the words on both screens. */
export function LinkWait({ fingerprint, onCancel }: { fingerprint: string; onCancel: () => void }) {
  return (
    <div className="card">
      <p>Your other device now shows four words. Link only if they are these:</p>
      <Fingerprint words={fingerprint} />
      <p className="muted small">Waiting for you to confirm on the other device…</p>
      <div className="row">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
