import { FreeholdError, isRejectReason, Kind, type Device, type SyncStats } from '@freehold/core';
import { hostOf, LinkGroup, movedLine, Providers, why, type PushReport, type SyncReport } from '@freehold/client';
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

/**
 * The providers one command talks to, a link each (see LinkGroup). One that cannot be reached costs one warning
 * line on stderr and the command goes on with the others; it fails only when none answers.
 */
export class CommandLinks extends LinkGroup {
  private readonly bar: ReturnType<typeof progress>;
  private written = 'what you wrote';

  /** `progress` replaces the bar of entries received. */
  constructor(device: Device, private readonly lines: Lines, interest?: () => Promise<Uint8Array[]>, onProgress?: (url: string, s: SyncStats) => void) {
    const bar = progress();
    super(device, {
      WebSocket: WS,
      interest,
      onProgress: onProgress ?? bar.update,
      warn: (_url, text) => lines.err(`freehold: warning: ${text}; going on without it`),
      moved: (url, providers) => lines.err(`freehold: warning: ${movedLine(url, providers)}`),
    });
    this.bar = bar;
  }

  /** Names what the command wrote (`post ID`) in a refusal's line, so the user can delete it or send it again. */
  wrote(what: string): void {
    this.written = what;
  }

  /**
   * Sends what the command wrote. A provider that refuses it (over quota, the account not or no longer registered
   * there) is named with its reason: as a warning while another provider stored it, else as the command's error,
   * so it exits 1. Either way the entries stay in the replica, and every later sync offers them again.
   */
  override async flush(): Promise<PushReport[]> {
    const reports = await super.flush();
    const refusals = reports.filter((r) => r.refused.length);
    if (!refusals.length) return reports;
    const said = (r: PushReport) => `${hostOf(r.url)} refused ${this.written}: ${r.refused[0]!.message}`;
    const tagged = (r: PushReport) => `${said(r)} [${r.refused[0]!.reason}]`;
    const stored = reports.filter((r) => r.delivered && !r.refused.length).map((r) => hostOf(r.url));
    if (stored.length) {
      this.lines.err(`freehold: warning: ${refusals.map(tagged).join('; ')}; ${stored.join(', ')} stored it`);
      return reports;
    }
    // The error's own reason closes the line (main adds it); the others' go beside what they said.
    const [first, ...rest] = refusals;
    const reason = first!.refused[0]!.reason;
    throw new FreeholdError(
      isRejectReason(reason) ? reason : 'unavailable',
      `${[said(first!), ...rest.map(tagged)].join('; ')}; it is kept on this device and goes out once a provider accepts it (with a later command or \`freehold sync\`)`,
    );
  }

  override async connect(urls: Iterable<string>, required?: string): Promise<SyncReport[]> {
    try {
      return await super.connect(urls, required);
    } finally {
      this.bar.done();
    }
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
