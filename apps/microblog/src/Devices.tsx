import { useState } from 'react';
import { equal, liveDevices, MAX_DEVICE_NAME, toId, type DeviceInfo } from '@freehold/core';
import type { Session } from './session.js';
import { useVersion } from './hooks.js';

/**
 * Revokes another device of the account, as `freehold device revoke` does. The newest identity log is fetched
 * first: another device may have just changed it, and a revocation on a stale copy would fork it.
 */
async function revoke(session: Session, device: Uint8Array): Promise<void> {
  await session.pushPull([]);
  await session.write(() => session.device.revokeDevice(device));
}

/** Renames a device on the newest log, then hands the grown log to the providers (a reconciliation carries it). */
async function rename(session: Session, device: Uint8Array, name: string): Promise<void> {
  await session.pushPull([]);
  await session.write(() => session.device.renameDevice(device, name));
  await session.pushPull([]);
}

const revokeWarning = (d: DeviceInfo) =>
  `Revoke “${d.name}”? It can no longer read or write anything of your account: the keys of your spaces are replaced, ` +
  'and what it writes from now on is refused. To use it again, recover it with your phrase or link it from here.';

/**
 * The account's live devices, as its identity log lists them (by their newest name), oldest first, with Rename
 * for each and Revoke for the others: a device cannot revoke itself.
 */
export function DevicesCard({ session }: { session: Session }) {
  useVersion(session);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const [renaming, setRenaming] = useState<{ device: string; name: string }>();
  const devices = liveDevices(session.device.identity()).sort((a, b) => a.addedTime - b.addedTime);
  const run = async (change: () => Promise<void>, done: string, failed: string) => {
    setBusy(true);
    setResult(undefined);
    try {
      await change();
      setResult({ ok: true, text: done });
    } catch (e) {
      setResult({ ok: false, text: `${(e as Error).message}. ${failed}` });
    } finally {
      setBusy(false);
    }
  };
  const revokeOne = (d: DeviceInfo) => {
    if (confirm(revokeWarning(d))) void run(() => revoke(session, d.device), `Revoked “${d.name}”.`, `“${d.name}” is not revoked.`);
  };
  const renameOne = (d: DeviceInfo, name: string) =>
    void run(
      async () => {
        await rename(session, d.device, name);
        setRenaming(undefined);
      },
      `Renamed “${d.name}” to “${name.trim()}”.`,
      `“${d.name}” keeps its name.`,
    );
  return (
    <section className="card" aria-labelledby="devices-title">
      <h2 id="devices-title">Devices</h2>
      <p className="muted small">Each device holds its own keys to your account. Revoke one you lost or no longer use; link a new one from your profile.</p>
      <ul className="provider-list" aria-label="Your devices">
        {devices.map((d) => {
          const here = equal(d.device, session.device.id);
          return (
            <li key={toId(d.device)}>
              <div>
                <strong>{d.name}</strong> {here && <span className="pill state current">this browser</span>}
              </div>
              <p className="muted small">
                Added {new Date(d.addedTime).toLocaleString()} · <code title={toId(d.device)}>{toId(d.device).slice(0, 8)}</code>
              </p>
              {renaming?.device === toId(d.device) ? (
                <form
                  className="row"
                  onSubmit={(e) => {
                    e.preventDefault();
                    renameOne(d, renaming.name);
                  }}
                >
                  <input
                    aria-label={`New name for ${d.name}`}
                    value={renaming.name}
                    maxLength={MAX_DEVICE_NAME}
                    required
                    autoFocus
                    onChange={(e) => setRenaming({ device: toId(d.device), name: e.target.value })}
                  />
                  <button type="submit" className="primary" disabled={busy || !renaming.name.trim()}>
                    Save
                  </button>
                  <button type="button" disabled={busy} onClick={() => setRenaming(undefined)}>
                    Cancel
                  </button>
                </form>
              ) : (
                <div className="row">
                  <button disabled={busy} aria-label={`Rename ${d.name}`} onClick={() => setRenaming({ device: toId(d.device), name: d.name })}>
                    Rename
                  </button>
                  {!here && (
                    <button className="danger" disabled={busy} aria-label={`Revoke ${d.name}`} onClick={() => revokeOne(d)}>
                      Revoke
                    </button>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ul>
      {result && (
        <p className={result.ok ? 'ok' : 'error'} role={result.ok ? 'status' : 'alert'}>
          {result.text}
        </p>
      )}
    </section>
  );
}
