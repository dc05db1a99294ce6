import { useState } from 'react';
import { useAction } from './hooks.js';
import type { Session } from './session.js';

/** Downloads everything this browser holds of the account: the file `freehold import` reads on any device. */
export function ExportCard({ session }: { session: Session }) {
  const { busy, error, act } = useAction();
  const [done, setDone] = useState<string>();
  const download = async () => {
    const { bytes, entries } = await session.exportAll();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    a.download = `freehold-${(session.device.identity().handles[0] ?? 'account').replace(/[^a-z0-9_-]+/gi, '-')}.export`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    setDone(`Exported ${entries.toLocaleString('en')} entries.`);
  };
  return (
    <section className="card" aria-labelledby="export-title">
      <h2 id="export-title">Your data</h2>
      <p className="small">
        One file with everything this browser holds of your account: your posts, messages, followers and settings, as signed and encrypted entries,
        and no secret key. <code>freehold import FILE</code> reads it on any device.
      </p>
      <button disabled={busy} onClick={() => act(download)}>
        {busy ? 'Exporting…' : 'Export everything'}
      </button>
      {done && <p role="status">{done}</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** A new recovery phrase, shown once: for a phrase that may have been seen by someone else. */
export function PhraseCard({ session }: { session: Session }) {
  const { busy, error, act } = useAction();
  const [words, setWords] = useState<string[]>();
  const rotate = async () => {
    if (!confirm('Make a new recovery phrase? The one you wrote down stops working.')) return;
    setWords((await session.rotatePhrase()).split(' '));
  };
  return (
    <section className="card" aria-labelledby="phrase-title">
      <h2 id="phrase-title">Recovery phrase</h2>
      <p className="small">
        If someone may have seen your phrase, replace it: the old one stops working. To recover with the new one, give your account id too (
        <code>{session.mb.me}</code>).
      </p>
      {words ? (
        <>
          <p role="status">Your new recovery phrase. Write it down now; it is not shown again.</p>
          <ol className="phrase" aria-label="New recovery phrase">
            {words.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ol>
          <button onClick={() => setWords(undefined)}>I have written it down</button>
        </>
      ) : (
        <button disabled={busy} onClick={() => act(rotate)}>
          {busy ? 'Making a new phrase…' : 'Make a new recovery phrase'}
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
