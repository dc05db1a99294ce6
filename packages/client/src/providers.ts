import { FreeholdError, type Device } from '@freehold/core';
import type { LinkEvent, LinkOptions, LinkStatus, PushReport, SyncReport } from './link-options.js';
import { ReconnectingLink } from './reconnecting-link.js';

/** What one provider made of a request: its answer, or why it gave none. */
export type Outcome<T> = { url: string; ok: true; value: T } | { url: string; ok: false; error: Error };

export interface ProviderStatus {
  url: string;
  status: LinkStatus;
  error?: string;
}

/**
 * One reconnecting link per provider a device syncs with. Requests go to every provider at once, and one that
 * cannot be reached never fails a request another one answers (`answered`). A link to a provider the account
 * moved away from is replaced by links to the providers its newest log names.
 */
export class Providers {
  private readonly links = new Map<string, ReconnectingLink>();
  private readonly listeners = new Set<(e: LinkEvent) => void>();

  constructor(
    private readonly device: Device,
    private readonly opts: LinkOptions,
  ) {}

  /** Links to exactly these providers: new ones start connecting, those no longer named close. */
  set(urls: Iterable<string>): void {
    const wanted = new Set([...urls].map((u) => u.replace(/\/$/, '')));
    for (const [url, link] of this.links) {
      if (wanted.has(url)) continue;
      link.close();
      this.links.delete(url);
    }
    for (const url of wanted) {
      if (this.links.has(url)) continue;
      const link = new ReconnectingLink(url, this.device, this.opts);
      link.listen((e) => {
        if (e.type === 'moved' && this.links.get(e.url) === link) {
          this.links.delete(e.url);
          this.set([...this.links.keys(), ...e.providers]);
        }
        for (const f of this.listeners) f(e);
      });
      this.links.set(url, link.start());
    }
  }

  get all(): ReconnectingLink[] {
    return [...this.links.values()];
  }

  statuses(): ProviderStatus[] {
    return this.all.map((l) => ({ url: l.url, status: l.status, error: l.lastError }));
  }

  /** Every link's events. */
  listen(f: (e: LinkEvent) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Resolves once no link is in the middle of an attempt (links that replaced a moved one included). */
  async settled(): Promise<void> {
    for (;;) {
      const links = this.all;
      await Promise.all(links.map((l) => l.settled()));
      if (this.all.every((l) => links.includes(l))) return;
    }
  }

  /** A reconciliation with every provider (see ReconnectingLink.reconcile). */
  reconcile(extra: Uint8Array[] = []): Promise<Outcome<SyncReport>[]> {
    return Promise.all(
      this.all.map((l) =>
        l.reconcile(extra).then(
          (value): Outcome<SyncReport> => ({ url: l.url, ok: true, value }),
          (error: Error): Outcome<SyncReport> => ({ url: l.url, ok: false, error }),
        ),
      ),
    );
  }

  /** Sends this device's new entries to every provider that is online (see ReconnectingLink.flush). */
  flush(): Promise<PushReport[]> {
    return Promise.all(this.all.map((l) => l.flush()));
  }

  retryNow(): void {
    for (const l of this.all) l.retryNow();
  }

  close(): void {
    for (const l of this.all) l.close();
    this.links.clear();
  }
}

/** The answers of the providers that gave one; if none did, the first failure. */
export function answered<T>(outcomes: Outcome<T>[]): T[] {
  if (!outcomes.length) throw new FreeholdError('unavailable', 'there is no provider to sync with');
  const ok = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
  if (ok.length) return ok;
  throw outcomes.flatMap((o) => (o.ok ? [] : [o.error]))[0];
}
