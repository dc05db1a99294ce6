import { Kind, decodeEntry, type Device } from '@freehold/core';
import { hostOf, ProviderLink } from '@freehold/client';
import { WS } from './ws.js';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Stays connected to one provider: reconcile, subscribe to every readable space, apply pushes as they come.
 * On a lost connection it reconnects with backoff and reconciles again, so nothing pushed meanwhile is missed.
 */
async function watchOne(device: Device, url: string, out: (s: string) => void, err: (s: string) => void, signal: AbortSignal): Promise<void> {
  const host = hostOf(url);
  let backoff = 500;
  while (!signal.aborted) {
    try {
      const link = await ProviderLink.connect(url, device, WS);
      signal.addEventListener('abort', () => link.close(), { once: true });
      const { stats, session } = await link.sync(device);
      const spaces = [];
      for (const s of await device.store.spaces()) if (await device.canRead(s)) spaces.push(s);
      const { subscribed } = await link.subscribe(spaces);
      out(`${host}: in sync (${stats.entriesReceived} received, ${stats.entriesSent} sent); watching ${subscribed.length} spaces`);
      backoff = 500;
      await link.watch(
        session,
        (f) => {
          if (f[0] !== 'entries') return;
          const docs = f[1].map(decodeEntry).filter((e) => e.kind !== Kind.membership).length;
          out(`${host}: ${f[1].length} new entr${f[1].length === 1 ? 'y' : 'ies'}${docs ? '' : ' (membership)'}`);
        },
        signal,
      );
    } catch (e) {
      if (signal.aborted) return;
      err(`${host}: ${(e as Error).message}; reconnecting in ${(backoff / 1000).toFixed(1)}s`);
    }
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 15_000);
  }
}

export async function watchProviders(device: Device, providers: string[], out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await Promise.all(providers.map((url) => watchOne(device, url, out, err, ctl.signal)));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}
