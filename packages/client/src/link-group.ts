import { equal as equalBytes, FreeholdError, type Device, type SyncStats } from '@freehold/core';
import { hostOf } from './http.js';
import { ProviderLink, type WebSocketFactory } from './link.js';
import type { PushReport, SyncReport } from './link-options.js';
import { MovedError } from './moved.js';
import { answered, Providers } from './providers.js';

/** Why a provider did not answer, naming it once. */
export const why = (url: string, error: string | undefined): string => {
  const text = error ?? 'no answer';
  return text.includes(hostOf(url)) ? text : `${hostOf(url)}: ${text}`;
};

/** A provider the account moved away from, and where the links go instead. */
export const movedLine = (url: string, providers: string[]): string =>
  `${hostOf(url)} no longer hosts this account; its log names ${providers.map(hostOf).join(', ') || 'no provider'} (syncing there instead)`;

export interface LinkGroupOptions {
  WebSocket: WebSocketFactory;
  /** Spaces to reconcile besides the device's own (what the account follows). */
  interest?: () => Promise<Uint8Array[]>;
  onProgress?: (url: string, s: SyncStats) => void;
  /** Told once per provider that cannot be reached (the group goes on without it). */
  warn(url: string, text: string): void;
  /** Told once per provider the account moved away from (the links follow the log by themselves). */
  moved?(url: string, providers: string[]): void;
}

/**
 * The providers one task (a command, a move) talks to, a link each. One that cannot be reached is reported once
 * and the task goes on with the others; it fails only when none answers.
 */
export class LinkGroup {
  readonly pool: Providers;
  private readonly warned = new Set<string>();
  private readonly movedSeen = new Set<string>();

  constructor(
    readonly device: Device,
    private readonly opts: LinkGroupOptions,
  ) {
    this.pool = new Providers(device, { WebSocket: opts.WebSocket, interest: opts.interest, recheckMs: 0, onProgress: opts.onProgress });
    this.pool.listen((e) => e.type === 'moved' && this.moved(e.url, e.providers));
  }

  moved(url: string, providers: string[]): void {
    if (this.movedSeen.has(url)) return;
    this.movedSeen.add(url);
    this.opts.moved?.(url, providers);
  }

  warn(url: string, error: string | undefined): void {
    if (this.warned.has(url)) return;
    this.warned.add(url);
    this.opts.warn(url, why(url, error));
  }

  /**
   * Links to these providers (each reconciles first) and answers the reports of those that did. A `required` one
   * that does not answer fails the call instead of costing a warning.
   */
  async connect(urls: Iterable<string>, required?: string): Promise<SyncReport[]> {
    this.pool.set(urls);
    await this.pool.settled();
    const links = this.pool.all;
    if (!links.length) throw new FreeholdError('unavailable', 'this account lists no provider (add one: `freehold provider add URL`)');
    const online = links.filter((l) => l.status === 'online');
    const missing = links.find((l) => l.url === required && l.status !== 'online');
    if (missing) throw new FreeholdError('unavailable', `cannot reach ${why(missing.url, missing.lastError)}`);
    if (!online.length) throw new FreeholdError('unavailable', links.map((l) => why(l.url, l.lastError)).join('; '));
    for (const l of links) if (l.status !== 'online') this.warn(l.url, l.lastError);
    return online.map((l) => l.lastSync!);
  }

  /** A reconciliation with every linked provider, asking also for `extra`; fails only if none answers. */
  async reconcile(extra: Uint8Array[]): Promise<void> {
    const outcomes = await this.pool.reconcile(extra);
    answered(outcomes);
    for (const o of outcomes) if (!o.ok) this.warn(o.url, o.error.message);
  }

  /**
   * Sends this device's new entries to every provider still linked, over the open connections, and answers what
   * each provider said. One that did not answer is warned about; what one refused is the caller's to report.
   */
  async flush(): Promise<PushReport[]> {
    const reports = await this.pool.flush();
    for (const r of reports) {
      if (!r.delivered && !r.refused.length) this.warn(r.url, `${r.error ?? 'not acknowledged'} (your changes go out with the next sync)`);
    }
    return reports;
  }

  online(url: string): boolean {
    return this.pool.all.some((l) => l.url === url && l.status === 'online');
  }

  close(): void {
    this.pool.close();
  }
}

/**
 * Asks these providers to mirror spaces of other accounts (what the account follows or writes to), so the device
 * reads and writes them through its own providers only. One that cannot be reached is skipped; one the account
 * moved away from is reported to `moved`.
 */
export async function declareMirrors(
  device: Device,
  urls: Iterable<string>,
  mirrors: { space: Uint8Array; owner: Uint8Array }[],
  WebSocket: WebSocketFactory,
  moved?: (url: string, providers: string[]) => void,
): Promise<void> {
  const theirs = mirrors.filter((m) => !equalBytes(m.owner, device.account));
  if (!theirs.length) return;
  for (const url of urls) {
    const link = await ProviderLink.connect(url, device, WebSocket).catch((e: unknown) => {
      if (e instanceof MovedError) moved?.(url, e.providers);
      return undefined;
    });
    if (!link) continue;
    try {
      await link.mirror(device, theirs);
    } finally {
      link.close();
    }
  }
}
