import { formatSize, FreeholdError, reject, toId, type Device, type SyncStats } from '@freehold/core';
import { accountBytes, compareHoldings, localFingerprints, type SpaceCheck } from './holdings.js';
import { claimHandle, entryCounts, fingerprints, hostOf, register, registrationTerms, type SpaceFingerprint } from './http.js';
import { ProviderLink, type WebSocketFactory } from './link.js';
import { declareMirrors, LinkGroup, movedLine } from './link-group.js';
import { MovedError } from './moved.js';
import { providerInfo } from './provider-info.js';

/** Rounds of "reconcile, then compare fingerprints" before a move gives up for this run. */
const VERIFY_ROUNDS = 4;
/** How long TO's copy may stop growing before this device sends it what it lacks, and how often to look. */
const STALL_MS = 4000;
const POLL_MS = 1000;

/** What a move did: what moved, the fingerprints compared, the handles, and whether FROM was told. */
export interface MoveReport {
  account: string;
  from: string;
  to: string;
  /** This account's data as the replica holds it, and what TO gives it. */
  bytes?: number;
  quota?: number;
  /** What each provider's reconciliation moved while copying. */
  copied: { provider: string; sent: number; received: number; bytes: number }[];
  /** Every space of the account, as this device, TO and FROM hold it. */
  spaces: SpaceCheck[];
  handles: { claimed: string[]; dropped: string[]; kept: { handle: string; reason: string }[] };
  /** FROM is out of the log; `told`: it confirmed it knows where the account lives now. */
  retired: { done: boolean; told: boolean };
  seconds: number;
}

/** The steps of a move, in order; `copying` and `sending` count entries as they go. */
export const MOVE_STEPS = ['checking', 'copying', 'sending', 'verifying', 'handles', 'retiring', 'done'] as const;
export type MoveStep = (typeof MOVE_STEPS)[number];
export interface MoveProgress {
  step: MoveStep;
  done?: number;
  total?: number;
}

export interface MoveOptions {
  WebSocket: WebSocketFactory;
  /** What the account follows: TO is asked to mirror it from now on, and takes what the account wrote there. */
  mirrors?: () => Promise<{ space: Uint8Array; owner: Uint8Array }[]>;
  /** A name moved to TO (`old` → `next`): the app updates where it shows it. */
  handleMoved?: (old: string, next: string) => Promise<void>;
  /** What each step did, one sentence each. */
  say?: (text: string) => void;
  /** Something that did not stop the move (a provider that did not answer, FROM not told). */
  warn?: (text: string) => void;
  progress?: (p: MoveProgress) => void;
}

/** A refusal by the provider moved to, as one line naming it. */
function refusedBy(to: string, e: unknown): Error {
  if (!(e instanceof FreeholdError)) return e as Error;
  const reason = e.reason === 'invalid-argument' || e.reason === 'malformed' ? 'not-hosted' : e.reason;
  const text = e.message.includes(hostOf(to)) ? e.message : `${hostOf(to)}: ${e.message}`;
  return new FreeholdError(reason, `${text}; nothing was changed`);
}

/** FROM as this account's log spells it (it may be down for good, the reason to move) and TO by its own name. */
async function endpoints(device: Device, fromUrl: string, toUrl: string): Promise<{ from: string; to: string }> {
  const listed = device.identity().providers;
  const from = listed.includes(fromUrl) ? fromUrl : ((await providerInfo(fromUrl).catch(() => undefined))?.url ?? fromUrl);
  let to: string;
  try {
    to = (await providerInfo(toUrl)).url;
  } catch (e) {
    throw refusedBy(toUrl, e);
  }
  if (to === from) reject('invalid-argument', `${hostOf(to)} is both where to move from and where to move to`);
  if (!listed.includes(from) && !listed.includes(to)) reject('not-found', `${from} is not a provider of this account`);
  return { from, to };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One move: the report it fills in, the caller's hooks, and the device. */
interface Run {
  device: Device;
  from: string;
  to: string;
  report: MoveReport;
  opts: MoveOptions;
}

const say = (run: Run, text: string) => run.opts.say?.(text);
const warn = (run: Run, text: string) => run.opts.warn?.(text);

/** A set of links for one step of the move, reporting what it cannot reach as warnings. */
const linksFor = (run: Run, onProgress?: (url: string, s: SyncStats) => void): LinkGroup =>
  new LinkGroup(run.device, {
    WebSocket: run.opts.WebSocket,
    onProgress,
    warn: (_url, text) => warn(run, `${text}; going on without it`),
    moved: (url, providers) => warn(run, movedLine(url, providers)),
  });

/**
 * Waits while TO takes the account's spaces from the account's other providers over their peer links (sending
 * them again from this device would double what crosses the wire), until it holds as many entries as this device
 * or its copy stops growing (those providers lack entries, or are not linking).
 */
async function catchUp(run: Run, local: SpaceFingerprint[]): Promise<void> {
  const want = new Map(local.map((f) => [f.space, f.entries]));
  const total = local.reduce((n, f) => n + f.entries, 0);
  let best = -1;
  let since = Date.now();
  for (;;) {
    const atTo = await entryCounts(run.to, run.device).catch((e: unknown) => {
      if (e instanceof FreeholdError && e.reason === 'rate-limited') return undefined;
      throw e;
    });
    if (atTo) {
      const held = atTo.reduce((n, f) => n + Math.min(f.entries, want.get(f.space) ?? 0), 0);
      run.opts.progress?.({ step: 'copying', done: Math.min(held, total), total });
      if (held >= total) return;
      if (held > best) [best, since] = [held, Date.now()];
    }
    if (Date.now() - since > STALL_MS) return;
    await sleep(POLL_MS);
  }
}

/** Checks that TO would take this account's data, then lists TO in the log and registers there. */
async function enlist(run: Run): Promise<void> {
  const { device, to, report } = run;
  run.opts.progress?.({ step: 'checking' });
  const bytes = await accountBytes(device);
  const terms = await registrationTerms(to, device).catch((e: unknown) => {
    throw refusedBy(to, e);
  });
  report.bytes = bytes;
  report.quota = terms.quota;
  if (bytes > terms.quota) {
    reject('quota-exceeded', `${hostOf(to)} offers ${formatSize(terms.quota)} and this account holds ${formatSize(bytes)}; nothing was changed`);
  }
  const before = device.identity().providers;
  const added = !before.includes(to);
  if (added) await device.setProviders([...before, to]);
  try {
    await register(to, device);
  } catch (e) {
    // Refused after all (it changed its mind, or went down): the log is put back before anything syncs.
    if (added) await device.setProviders(device.identity().providers.filter((u) => u !== to));
    throw refusedBy(to, e);
  }
  say(run, `registered with ${hostOf(to)} (quota ${formatSize(terms.quota)}; this account holds ${formatSize(bytes)}); copying`);
}

/**
 * Copies every space to TO: this device first reconciles with the account's other providers (taking what it
 * lacks, and telling them TO is a home too, so they copy to it over their peer links), waits for that, then
 * sends TO whatever it still lacks. Then compares fingerprints until TO holds every entry this device (or, for a
 * space it lacks, FROM) holds; fails, leaving FROM in the log, if it does not within a few rounds.
 */
async function copyAndVerify(run: Run): Promise<void> {
  const { device, from, to, report } = run;
  let expected = 0;
  const links = linksFor(run, (url, s) => url === to && run.opts.progress?.({ step: 'sending', done: Math.min(s.entriesSent, expected), total: expected }));
  try {
    run.opts.progress?.({ step: 'copying' });
    const others = device.identity().providers.filter((u) => u !== to);
    if (others.length) {
      const pulled = await links.connect(others).catch((e: unknown) => void warn(run, `${(e as Error).message}; copying from this device alone`));
      if (pulled) await catchUp(run, await localFingerprints(device));
    }
    const local = await localFingerprints(device);
    const held = new Map((await fingerprints(to, device)).map((f) => [f.space, f.entries]));
    expected = local.reduce((n, f) => n + Math.max(0, f.entries - (held.get(f.space) ?? 0)), 0);
    run.opts.progress?.({ step: 'sending', done: 0, total: expected });
    const reports = await links.connect(device.identity().providers, to).catch((e: unknown) => {
      throw new FreeholdError('unavailable', `${(e as Error).message}; ${hostOf(from)} stays in this account's log`);
    });
    for (const r of reports) report.copied.push({ provider: r.url, sent: r.stats.entriesSent, received: r.stats.entriesReceived, bytes: r.stats.bytesSent + r.stats.bytesReceived });
    run.opts.progress?.({ step: 'verifying' });
    for (let round = 1; ; round++) {
      const atFrom = links.online(from) ? await fingerprints(from, device).catch(() => undefined) : undefined;
      report.spaces = compareHoldings(await localFingerprints(device), await fingerprints(to, device), atFrom);
      const missing = report.spaces.filter((c) => !c.complete);
      if (!missing.length) return;
      if (round === VERIFY_ROUNDS) incomplete(links, run, missing);
      // Entries may still be on their way (TO's peer link, a write meanwhile): reconcile again and look again.
      await sleep(500 * round);
      await links.reconcile([]);
    }
  } finally {
    links.close();
  }
}

function incomplete(links: LinkGroup, run: Run, missing: SpaceCheck[]): never {
  const { from, to } = run;
  const refused = links.pool.all.find((l) => l.url === to)?.lastSync?.refused ?? [];
  const why = refused.length ? ` (it refused ${refused.length} entries: ${refused[0]!.message})` : '';
  const lacks = missing.reduce((n, c) => n + Math.max(0, (c.local ?? c.from)!.entries - (c.to?.entries ?? 0)), 0);
  return reject(
    (refused[0]?.reason as never) ?? 'unavailable',
    `${hostOf(to)} does not hold every entry yet: ${missing.length} of ${run.report.spaces.length} spaces differ, about ${lacks} entries missing${why}; ` +
      `${hostOf(from)} stays in this account's log. Run the move from ${from} to ${to} again`,
  );
}

/**
 * Claims at TO each name the account holds at FROM. A name taken there (or over its cap) is kept at FROM and
 * said so; a TO that cannot be reached stops the move before FROM is dropped.
 */
async function moveHandles(run: Run): Promise<void> {
  const { device, from, to, report } = run;
  run.opts.progress?.({ step: 'handles' });
  const fromHost = hostOf(from);
  for (const old of device.identity().handles.filter((h) => h.endsWith(`@${fromHost}`))) {
    const name = old.slice(0, -fromHost.length - 1);
    const next = `${name}@${hostOf(to)}`;
    if (!device.identity().handles.includes(next)) await device.setHandles([...device.identity().handles, next]);
    try {
      await claimHandle(to, device, name);
      report.handles.claimed.push(next);
      report.handles.dropped.push(old);
      say(run, `handle ${next} claimed (replaces ${old})`);
    } catch (e) {
      await device.setHandles(device.identity().handles.filter((h) => h !== next));
      if (!(e instanceof FreeholdError) || e.reason === 'unavailable') throw e;
      report.handles.kept.push({ handle: old, reason: e.message });
      say(run, `keeping ${old}: ${e.message}`);
    }
  }
}

/** Drops FROM (and the names moved off it) from the log, and lets the app show the new names. */
async function retire(run: Run): Promise<void> {
  const { device, from, report } = run;
  run.opts.progress?.({ step: 'retiring' });
  const me = device.identity();
  const handles = me.handles.filter((h) => !report.handles.dropped.includes(h));
  if (handles.length !== me.handles.length) await device.setHandles(handles);
  await device.setProviders(me.providers.filter((u) => u !== from));
  for (const [i, old] of report.handles.dropped.entries()) await run.opts.handleMoved?.(old, report.handles.claimed[i]!);
}

/**
 * Hands the final log to TO (registering again carries it) and to FROM, which then answers for the account for its
 * grace period, pointing to TO. FROM confirms by refusing the session with `moved`; one that cannot be reached is
 * told nothing (contacts' providers learn of the move from TO's links).
 */
async function announce(run: Run): Promise<void> {
  const { device, from, to, report } = run;
  await register(to, device).catch((e: unknown) => {
    throw new FreeholdError('unavailable', `${hostOf(to)} did not take the new identity log (${(e as Error).message}); run the move again`);
  });
  try {
    (await ProviderLink.connect(from, device, run.opts.WebSocket)).close();
    warn(run, `${hostOf(from)} did not confirm that it knows of the move`);
  } catch (e) {
    report.retired.told = e instanceof MovedError;
    if (!report.retired.told) warn(run, `${hostOf(from)} could not be told of the move (${(e as Error).message})`);
  }
  const links = linksFor(run);
  try {
    await links.connect(device.identity().providers);
    await links.flush();
  } finally {
    links.close();
  }
}

/**
 * Moves the account from provider `from` to `to` (both URLs): register with TO after asking what it would give
 * (refused, over quota or unreachable: nothing changes), copy every space there, check by fingerprints that TO
 * holds every entry, claim the same names at TO when they are free, then drop FROM from the identity log and tell
 * it (it points to TO for its grace period). Every step is safe to run again: FROM leaves the log only once TO
 * holds everything, and a move whose FROM already left it only tells TO and FROM again.
 */
export async function moveAccount(device: Device, fromUrl: string, toUrl: string, opts: MoveOptions): Promise<MoveReport> {
  const started = Date.now();
  const { from, to } = await endpoints(device, fromUrl, toUrl);
  const report: MoveReport = {
    account: toId(device.account),
    from,
    to,
    copied: [],
    spaces: [],
    handles: { claimed: [], dropped: [], kept: [] },
    retired: { done: false, told: false },
    seconds: 0,
  };
  const run: Run = { device, from, to, report, opts };
  if (device.identity().providers.includes(from)) {
    await enlist(run);
    const mirrors = (await opts.mirrors?.()) ?? [];
    await declareMirrors(device, [to], mirrors, opts.WebSocket);
    await copyAndVerify(run);
    const entries = report.spaces.reduce((n, c) => n + (c.local?.entries ?? 0), 0);
    const fromNote = report.spaces.some((c) => c.from && c.local && c.from.fingerprint !== c.local.fingerprint) ? `; ${hostOf(from)}'s copy differs, and is not needed` : '';
    say(run, `verified: ${hostOf(to)} holds all ${entries} entries of ${report.spaces.length} spaces (fingerprints equal this device's)${fromNote}`);
    await moveHandles(run);
    await retire(run);
  } else say(run, `${hostOf(from)} is already out of this account's log; telling ${hostOf(to)} and ${hostOf(from)} again`);
  report.retired.done = true;
  await announce(run);
  say(run, `moved: the account lives at ${device.identity().providers.map(hostOf).join(', ')}; ${hostOf(from)} ${report.retired.told ? 'points there for its grace period' : 'was not told'}`);
  report.seconds = (Date.now() - started) / 1000;
  opts.progress?.({ step: 'done' });
  return report;
}
