import { cpus, loadavg } from 'node:os';
import { directMessages, median, pct, writers, type DmResult, type WritersResult } from './federation-live.js';
import { startServer } from './server.js';
import { reconnect } from './federation-reconnect.js';
import type { Row } from './table.js';

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

/** Every scenario, or only the one named (`npm run bench -- federation dm`). */
export async function federationBench(only?: string): Promise<Row[]> {
  const rows: Row[] = [];
  const want = (name: string) => !only || only === name;
  if (want('replication')) {
    const runs = 3;
    const single: WritersResult[] = [];
    const fed: WritersResult[] = [];
    for (let i = 0; i < runs; i++) {
      single.push(await writers(false));
      fed.push(await writers(true));
    }
    const m = (rs: WritersResult[], f: (r: WritersResult) => number) => median(rs.map(f));
    const lag50 = m(fed, (r) => pct(r.lag, 0.5));
    const lag99 = m(fed, (r) => pct(r.lag, 0.99));
    const load = '50 writers × 10 entries/s through P1';
    rows.push({ name: `(a) replication lag P1→P2 (P1's ack → a reader on P2), ${load}: p50`, value: lag50, unit: 'ms', baselineName: 'same provider, write → reader on P1', baseline: m(single, (r) => pct(r.lag, 0.5)), lowerIsBetter: true });
    rows.push({ name: '(a) replication lag P1→P2: p99', value: lag99, unit: 'ms', baselineName: 'same provider', baseline: m(single, (r) => pct(r.lag, 0.99)), target: '≤ 100 ms', lowerIsBetter: true });
    if (lag99 > 100) {
      const us = (f: (r: WritersResult) => number) => `${m(fed, f).toFixed(0)} µs`;
      const note =
        `missed: the hop from P1's reader to P2's reader p50 ${m(fed, (r) => pct(r.hop, 0.5)).toFixed(1)} / p99 ${m(fed, (r) => pct(r.hop, 0.99)).toFixed(1)} ms ` +
        `(P1's own readers have each entry by its ack); CPU per entry: P1 ${us((r) => r.cpuUs.p1)} (alone: ${m(single, (r) => r.cpuUs.p1).toFixed(0)} µs), ` +
        `P2 ${us((r) => r.cpuUs.p2)}, writers and readers ${us((r) => r.cpuUs.bench)}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`;
      rows.push({ name: '(a) where the time goes', value: lag99, unit: 'ms', note });
    }
    rows.push({ name: '(a) entries P1 acknowledged that P2 lacks afterwards', value: Math.max(...fed.map((r) => r.missing)), unit: '', target: '0', lowerIsBetter: true });
  }
  if (want('dm')) {
    const p1 = await startServer('sqlite');
    const p3 = await startServer('sqlite');
    try {
      const cross: DmResult[] = [];
      const same: DmResult[] = [];
      for (let i = 0; i < 3; i++) {
        same.push(await directMessages(p1, undefined));
        cross.push(await directMessages(p1, p3));
      }
      rows.push({ name: '(b) direct message across providers (Bob on P3 → Alice reading on P1): p50', value: median(cross.map((r) => r.p50)), unit: 'ms', baselineName: 'sender on P1 too', baseline: median(same.map((r) => r.p50)), lowerIsBetter: true });
      rows.push({ name: '(b) direct message across providers: p99 (of 20 a run)', value: median(cross.map((r) => r.p99)), unit: 'ms', baselineName: 'sender on P1 too', baseline: median(same.map((r) => r.p99)), lowerIsBetter: true });
    } finally {
      await p1.stop();
      await p3.stop();
    }
  }
  if (want('reconnect')) {
    const r = await reconnect();
    const what = 'up-to-date P1↔P2 reconnect, 1k spaces / 100k entries';
    rows.push({ name: `(c) ${what}: bytes on the wire (both links)`, value: r.peerBytes / 1024, unit: ' KiB', baselineName: "the account's device reconnecting to P1", baseline: r.clientBytes / 1024, target: '< 50 KB', lowerIsBetter: true });
    if (r.peerBytes >= 50_000) {
      const links = r.perLink.map((u) => `${kib(u.bytesSent)} out / ${kib(u.bytesReceived)} in with ${u.reconcileMessages} rec frames`).join(' and ');
      const client = [...r.clientBy].filter(([, b]) => b >= 100).sort((a, b) => b[1] - a[1]).map(([k, b]) => `${k} ${kib(b)}`).join(', ');
      rows.push({ name: '(c) where the bytes go', value: r.peerBytes / 1024, unit: ' KiB', note: `missed: the links sent ${links}; the device's session by frame kind: ${client}` });
    }
    rows.push({ name: `(c) ${what}: round trips (each link)`, value: r.peerRoundTrips, unit: '', baselineName: 'device', baseline: r.clientRoundTrips, lowerIsBetter: true });
    rows.push({ name: `(c) ${what}: time to reconcile (each link)`, value: r.peerMs, unit: 'ms', baselineName: 'device', baseline: r.clientMs, lowerIsBetter: true });
    rows.push({ name: '(c) filling it: 100k entries written through P1, held by P2 (live pushes)', value: r.replicationRate, unit: '/s', baselineName: 'acknowledged by P1', baseline: r.ingestRate });
  }
  return rows;
}

