import { useState } from 'react';
import { useAction } from './hooks.js';
import type { Session } from './session.js';

/** The last card of Settings: deleting the account, which asks for the handle (or the word delete) first. */
export function DeleteAccountCard({ session }: { session: Session }) {
  const { busy, error, act } = useAction();
  const [typed, setTyped] = useState('');
  const handle = session.device.identity().handles[0];
  const word = handle ?? 'delete';
  return (
    <section className="card danger" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete your account</h2>
      <p className="small">
        Every post you wrote becomes a tombstone, your profile says the account was deleted, and each of your providers deletes what it holds of it: your
        posts, what others sent you, your name{handle ? ` ${handle}` : ''}. People who follow you through another provider see a deleted account. This
        cannot be undone, and your recovery phrase will not bring it back.
      </p>
      <label>
        Type <strong>{word}</strong> to confirm
        <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" disabled={busy} />
      </label>
      <button
        className="danger"
        disabled={busy || typed.trim() !== word}
        onClick={() =>
          act(async () => {
            await session.deleteAccount();
            location.reload();
          })
        }
      >
        {busy ? 'Deleting…' : 'Delete my account'}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
