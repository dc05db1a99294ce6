import { FreeholdError, Kind, type Device, type SyncStats } from '@freehold/core';
import { answered, hostOf, Providers, type SyncReport } from '@freehold/client';
import { formatSize } from '@freehold/server';
import { WS } from './ws.js';

export interface Lines {
  out(s: string): void;
  err(s: string): void;
}

/**
 * One line of progress on stderr when it is a terminal and enough entries move to be worth watching. It counts
 * rather than draws a bar: reconciliation finds what differs as it goes, so no total is known until the end (a
 * bar over what was asked for so far sat full the whole time).
 */
function progress(): { update(url: string, s: SyncStats): void; done(): void } {
  const tty = process.stderr.isTTY;
  let shown = false;
  return {
    update(url, s) {
      const moved = s.entriesReceived + s.entriesSent;
      if (!tty || Math.max(moved, s.entriesWanted) < 200) return;
      shown = true;
      const size = formatSize(s.bytesReceived + s.bytesSent);
      process.stderr.write(`\rsyncing ${hostOf(url)}: ${s.entriesReceived} entries received, ${s.entriesSent} sent (${size})\x1b[K`);
    },
    done() {
      if (shown) process.stderr.write('\n');
      shown = false;
    },
  };
}

/** A provider the account moved away from, and where the links go instead. */
export const movedLine = (url: string, providers: string[]): string =>
  `${hostOf(url)} no longer hosts this account; its log names ${providers.map(hostOf).join(', ') || 'no provider'} (syncing there instead)`;

/** Why a provider did not answer, naming it once. */
const why = (url: string, error: string | undefined): string => {
  const text = error ?? 'no answer';
  return text.includes(hostOf(url)) ? text : `${hostOf(url)}: ${text}`;
};

/**
 * The providers one command talks to, a link each. One that cannot be reached costs one warning line on stderr
 * and the command goes on with the others; it fails only when none answers.
 */
export class CommandLinks {
  readonly pool: Providers;
  private readonly warned = new Set<string>();
  private readonly bar = progress();

  /** `progress` replaces the bar of entries received (a move shows what it sends instead). */
  constructor(
    device: Device,
    private readonly io: Lines,
    interest?: () => Promise<Uint8Array[]>,
    progress?: (url: string, s: SyncStats) => void,
  ) {
    this.pool = new Providers(device, { WebSocket: WS, interest, recheckMs: 0, onProgress: progress ?? this.bar.update });
    this.pool.listen((e) => e.type === 'moved' && this.moved(e.url, e.providers));
  }

  /** One warning line for a provider the account moved away from (the links follow the log by themselves). */
  moved(url: string, providers: string[]): void {
    if (this.warned.has(url)) return;
    this.warned.add(url);
    this.io.err(`freehold: warning: ${movedLine(url, providers)}`);
  }


  private warn(url: string, error: string | undefined): void {
    if (this.warned.has(url)) return;
    this.warned.add(url);
    this.io.err(`freehold: warning: ${why(url, error)}; going on without it`);
  }

  /**
   * Links to these providers (each reconciles first) and answers the reports of those that did. A `required` one
   * that does not answer fails the call instead of costing a warning.
   */
  async connect(urls: Iterable<string>, required?: string): Promise<SyncReport[]> {
    this.pool.set(urls);
    await this.pool.settled();
    this.bar.done();
    const links = this.pool.all;
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

  /** Sends this device's new entries to every provider still linked, over the open connections. */
  async flush(): Promise<void> {
    for (const r of await this.pool.flush()) {
      if (!r.delivered) this.warn(r.url, `${r.error ?? 'not acknowledged'} (your changes go out with the next sync)`);
    }
  }

  online(url: string): boolean {
    return this.pool.all.some((l) => l.url === url && l.status === 'online');
  }

  close(): void {
    this.pool.close();
  }
}

/** What a reconciliation moved, and what the provider refused (one line per reason). */
export function printReport(r: SyncReport, out: (s: string) => void): void {
  const host = hostOf(r.url);
  const s = r.stats;
  const size = formatSize(s.bytesSent + s.bytesReceived);
  out(`${host}: received ${s.entriesReceived} entries, sent ${s.entriesSent} (${size}, ${r.roundTrips} round trips)`);
  const refused = new Map<string, { n: number; message: string }>();
  for (const { reason, message } of r.refused) refused.set(reason, { n: (refused.get(reason)?.n ?? 0) + 1, message });
  for (const [reason, { n, message }] of refused) out(`${host} refused ${n} entr${n === 1 ? 'y' : 'ies'}: ${message} [${reason}]`);
}

/**
 * Stays linked to every provider and reports as it goes: each reconciliation, each batch of live entries, each
 * lost connection (with when the next attempt is). Ends on SIGINT or SIGTERM.
 */
export async function watchProviders(device: Device, providers: string[], io: Lines): Promise<void> {
  const pool = new Providers(device, { WebSocket: WS });
  pool.listen((e) => {
    const host = hostOf(e.url);
    if (e.type === 'moved') io.err(`freehold: warning: ${movedLine(e.url, e.providers)}`);
    if (e.type === 'synced') {
      const s = e.report.stats;
      io.out(`${host}: in sync (${s.entriesReceived} received, ${s.entriesSent} sent); watching ${e.report.subscribed} spaces`);
    } else if (e.type === 'entries' && e.live) {
      const n = e.entries.length;
      const membership = e.entries.every((x) => x.kind === Kind.membership);
      io.out(`${host}: ${n} new entr${n === 1 ? 'y' : 'ies'}${membership ? ' (membership)' : ''}`);
    } else if (e.type === 'status' && e.status === 'offline') {
      io.err(`${why(e.url, e.error)}; reconnecting in ${((e.retryInMs ?? 0) / 1000).toFixed(1)}s`);
    }
  });
  pool.set(providers);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  pool.close();
}
