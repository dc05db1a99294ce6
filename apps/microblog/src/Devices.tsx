import { useState } from 'react';
import { equal, liveDevices, toId, type DeviceInfo } from '@freehold/core';
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

const revokeWarning = (d: DeviceInfo) =>
  `Revoke “${d.name}”? It can no longer read or write anything of your account: the keys of your spaces are replaced, ` +
  'and what it writes from now on is refused. To use it again, recover it with your phrase or link it from here.';

/**
 * The account's live devices, as its identity log lists them (a name given when each was added, never changed
 * since), oldest first, and Revoke for the others: a device cannot revoke itself.
 */
export function DevicesCard({ session }: { session: Session }) {
  useVersion(session);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const devices = liveDevices(session.device.identity()).sort((a, b) => a.addedTime - b.addedTime);
  const run = async (d: DeviceInfo) => {
    if (!confirm(revokeWarning(d))) return;
    setBusy(true);
    setResult(undefined);
    try {
      await revoke(session, d.device);
      setResult({ ok: true, text: `Revoked “${d.name}”.` });
    } catch (e) {
      setResult({ ok: false, text: `${(e as Error).message}. “${d.name}” is not revoked.` });
    } finally {
      setBusy(false);
    }
  };
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
              {!here && (
                <div className="row">
                  <button className="danger" disabled={busy} aria-label={`Revoke ${d.name}`} onClick={() => void run(d)}>
                    Revoke
                  </button>
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
