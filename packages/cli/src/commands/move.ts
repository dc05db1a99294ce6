import { FreeholdError, reject, toId, type Device } from '@freehold/core';
import {
  claimHandle,
  fingerprints,
  hostOf,
  MovedError,
  ProviderLink,
  providerInfo,
  register,
  registrationTerms,
  resolveHandle,
  type SpaceFingerprint,
} from '@freehold/client';
import { formatSize } from '@freehold/server';
import { Microblog } from '@freehold/microblog';
import { ready, type Command, type Context } from '../command.js';
import { CommandLinks, type Lines } from '../links.js';
import { accountBytes, compareHoldings, localFingerprints, type SpaceCheck } from '../holdings.js';
import { WS } from '../ws.js';
import { declareMirrors } from './microblog.js';
import { providerUrl } from './provider.js';

/** Rounds of "reconcile, then compare fingerprints" before a move gives up for this run. */
const VERIFY_ROUNDS = 4;

/** What `provider move --json` prints. */
interface MoveReport {
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

/** A refusal by the provider moved to, as one line naming it (exit code 1, never a usage error). */
function refusedBy(to: string, e: unknown): Error {
  if (!(e instanceof FreeholdError)) return e as Error;
  const reason = e.reason === 'invalid-argument' || e.reason === 'malformed' ? 'not-hosted' : e.reason;
  const text = e.message.includes(hostOf(to)) ? e.message : `${hostOf(to)}: ${e.message}`;
  return new FreeholdError(reason, `${text}; nothing was changed`);
}

/** FROM as this account's log spells it (it may be down for good, the reason to move) and TO by its own name. */
async function endpoints(device: Device, fromArg: string, toArg: string): Promise<{ from: string; to: string }> {
  const listed = device.identity().providers;
  const base = providerUrl(fromArg);
  const from = listed.includes(base) ? base : ((await providerInfo(base).catch(() => undefined))?.url ?? base);
  let to: string;
  try {
    to = (await providerInfo(providerUrl(toArg))).url;
  } catch (e) {
    throw refusedBy(providerUrl(toArg), e);
  }
  if (to === from) reject('invalid-argument', `${hostOf(to)} is both where to move from and where to move to`);
  if (!listed.includes(from) && !listed.includes(to)) reject('not-found', `${from} is not a provider of this account (\`freehold provider list\`)`);
  return { from, to };
}

/** A one-line bar on stderr, when it is a terminal and enough entries move to be worth watching. */
function bar(label: string): { show(done: number, total: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  let shown = false;
  return {
    show(done, total) {
      if (!tty || total < 200) return;
      shown = true;
      const filled = Math.round((Math.min(done, total) / total) * 30);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(30 - filled)}] ${Math.min(done, total)}/${total} entries`);
    },
    done() {
      if (shown) process.stderr.write('\n');
      shown = false;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long TO's copy may stop growing before this device sends it what it lacks, and how often to look. */
const STALL_MS = 4000;
const POLL_MS = 1000;

/**
 * Waits while TO takes the account's spaces from the account's other providers over their peer links (sending
 * them again from this device would double what crosses the wire), until it holds as many entries as this device
 * or its copy stops growing (those providers lack entries, or are not linking).
 */
async function catchUp(device: Device, to: string, local: SpaceFingerprint[]): Promise<void> {
  const want = new Map(local.map((f) => [f.space, f.entries]));
  const total = local.reduce((n, f) => n + f.entries, 0);
  const progress = bar(`${hostOf(to)} copying`);
  let best = -1;
  let since = Date.now();
  try {
    for (;;) {
      const atTo = await fingerprints(to, device).catch((e: unknown) => {
        if (e instanceof FreeholdError && e.reason === 'rate-limited') return undefined;
        throw e;
      });
      if (atTo) {
        const held = atTo.reduce((n, f) => n + Math.min(f.entries, want.get(f.space) ?? 0), 0);
        progress.show(held, total);
        if (held >= total) return;
        if (held > best) [best, since] = [held, Date.now()];
      }
      if (Date.now() - since > STALL_MS) return;
      await sleep(POLL_MS);
    }
  } finally {
    progress.done();
  }
}

/** Checks that TO would take this account's data, then lists TO in the log and registers there. */
async function enlist(device: Device, to: string, report: MoveReport, say: (s: string) => void): Promise<void> {
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
  say(`registered with ${hostOf(to)} (quota ${formatSize(terms.quota)}; this account holds ${formatSize(bytes)}); copying`);
}

/**
 * Copies every space to TO: this device first reconciles with the account's other providers (taking what it
 * lacks, and telling them TO is a home too, so they copy to it over their peer links), waits for that, then
 * sends TO whatever it still lacks. Then compares fingerprints until TO holds every entry this device (or, for a
 * space it lacks, FROM) holds; fails, leaving FROM in the log, if it does not within a few rounds.
 */
async function copyAndVerify(device: Device, io: Lines, from: string, to: string, report: MoveReport): Promise<void> {
  let sending = bar(`sending to ${hostOf(to)}`);
  let expected = 0;
  const links = new CommandLinks(device, io, undefined, (url, s) => url === to && sending.show(s.entriesSent, expected));
  try {
    const others = device.identity().providers.filter((u) => u !== to);
    if (others.length) {
      const pulled = await links.connect(others).catch((e: unknown) => void io.err(`freehold: warning: ${(e as Error).message}; copying from this device alone`));
      if (pulled) await catchUp(device, to, await localFingerprints(device));
    }
    const local = await localFingerprints(device);
    const held = new Map((await fingerprints(to, device)).map((f) => [f.space, f.entries]));
    expected = local.reduce((n, f) => n + Math.max(0, f.entries - (held.get(f.space) ?? 0)), 0);
    sending = bar(`sending to ${hostOf(to)}`);
    const reports = await links
      .connect(device.identity().providers, to)
      .catch((e: unknown) => {
        throw new FreeholdError('unavailable', `${(e as Error).message}; ${hostOf(from)} stays in this account's log`);
      })
      .finally(() => sending.done());
    for (const r of reports) report.copied.push({ provider: r.url, sent: r.stats.entriesSent, received: r.stats.entriesReceived, bytes: r.stats.bytesSent + r.stats.bytesReceived });
    for (let round = 1; ; round++) {
      const atFrom = links.online(from) ? await fingerprints(from, device).catch(() => undefined) : undefined;
      report.spaces = compareHoldings(await localFingerprints(device), await fingerprints(to, device), atFrom);
      const missing = report.spaces.filter((c) => !c.complete);
      if (!missing.length) return;
      if (round === VERIFY_ROUNDS) incomplete(links, from, to, missing, report.spaces.length);
      // Entries may still be on their way (TO's peer link, a write meanwhile): reconcile again and look again.
      await sleep(500 * round);
      await links.reconcile([]);
    }
  } finally {
    links.close();
  }
}

function incomplete(links: CommandLinks, from: string, to: string, missing: SpaceCheck[], total: number): never {
  const refused = links.pool.all.find((l) => l.url === to)?.lastSync?.refused ?? [];
  const why = refused.length ? ` (it refused ${refused.length} entries: ${refused[0]!.message})` : '';
  const lacks = missing.reduce((n, c) => n + Math.max(0, (c.local ?? c.from)!.entries - (c.to?.entries ?? 0)), 0);
  return reject(
    (refused[0]?.reason as never) ?? 'unavailable',
    `${hostOf(to)} does not hold every entry yet: ${missing.length} of ${total} spaces differ, about ${lacks} entries missing${why}; ` +
      `${hostOf(from)} stays in this account's log. Run \`freehold provider move ${from} ${to}\` again`,
  );
}

/**
 * Claims at TO each name the account holds at FROM. A name taken there (or over its cap) is kept at FROM and
 * said so; a TO that cannot be reached stops the move before FROM is dropped.
 */
async function moveHandles(device: Device, from: string, to: string, report: MoveReport, say: (s: string) => void): Promise<void> {
  const fromHost = hostOf(from);
  for (const old of device.identity().handles.filter((h) => h.endsWith(`@${fromHost}`))) {
    const name = old.slice(0, -fromHost.length - 1);
    const next = `${name}@${hostOf(to)}`;
    if (!device.identity().handles.includes(next)) await device.setHandles([...device.identity().handles, next]);
    try {
      await claimHandle(to, device, name);
      report.handles.claimed.push(next);
      report.handles.dropped.push(old);
      say(`handle ${next} claimed (replaces ${old})`);
    } catch (e) {
      await device.setHandles(device.identity().handles.filter((h) => h !== next));
      if (!(e instanceof FreeholdError) || e.reason === 'unavailable') throw e;
      report.handles.kept.push({ handle: old, reason: e.message });
      say(`keeping ${old}: ${e.message}`);
    }
  }
}

/** Drops FROM (and the names moved off it) from the log, and puts the new handle on the microblog profile. */
async function retire(device: Device, from: string, report: MoveReport): Promise<void> {
  const me = device.identity();
  const handles = me.handles.filter((h) => !report.handles.dropped.includes(h));
  if (handles.length !== me.handles.length) await device.setHandles(handles);
  await device.setProviders(me.providers.filter((u) => u !== from));
  const mb = microblog(device);
  const profile = await mb.profile();
  if (profile?.handle && report.handles.dropped.includes(profile.handle)) await mb.setProfile({ handle: report.handles.claimed[report.handles.dropped.indexOf(profile.handle)] });
}

const microblog = (device: Device): Microblog =>
  new Microblog(device, {
    resolve: (handle) => resolveHandle(handle),
    fetch: async () => {},
  });

/**
 * Hands the final log to TO (registering again carries it) and to FROM, which then answers for the account for its
 * grace period, pointing to TO. FROM confirms by refusing the session with `moved`; one that cannot be reached is
 * told nothing (contacts' providers learn of the move from TO's links).
 */
async function announce(device: Device, from: string, to: string, report: MoveReport, io: Lines): Promise<void> {
  await register(to, device).catch((e: unknown) => {
    throw new FreeholdError('unavailable', `${hostOf(to)} did not take the new identity log (${(e as Error).message}); run the command again`);
  });
  try {
    (await ProviderLink.connect(from, device, WS)).close();
    io.err(`freehold: warning: ${hostOf(from)} did not confirm that it knows of the move`);
  } catch (e) {
    report.retired.told = e instanceof MovedError;
    if (!report.retired.told) io.err(`freehold: warning: ${hostOf(from)} could not be told of the move (${(e as Error).message})`);
  }
  const links = new CommandLinks(device, io);
  try {
    await links.connect(device.identity().providers);
    await links.flush();
  } finally {
    links.close();
  }
}

async function move(ctx: Context): Promise<MoveReport> {
  const device = (await ready(ctx)).device;
  const started = Date.now();
  const say = (s: string) => !ctx.values.json && ctx.out(s);
  const { from, to } = await endpoints(device, ctx.args[0]!, ctx.args[1]!);
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
  if (device.identity().providers.includes(from)) {
    await enlist(device, to, report, say);
    // TO mirrors what the account follows from now on, and takes what it wrote there.
    await declareMirrors(device, [to], await microblog(device).mirrors());
    await copyAndVerify(device, ctx, from, to, report);
    const entries = report.spaces.reduce((n, c) => n + (c.local?.entries ?? 0), 0);
    const fromNote = report.spaces.some((c) => c.from && c.local && c.from.fingerprint !== c.local.fingerprint) ? `; ${hostOf(from)}'s copy differs, and is not needed` : '';
    say(`verified: ${hostOf(to)} holds all ${entries} entries of ${report.spaces.length} spaces (fingerprints equal this device's)${fromNote}`);
    await moveHandles(device, from, to, report, say);
    await retire(device, from, report);
  } else say(`${hostOf(from)} is already out of this account's log; telling ${hostOf(to)} and ${hostOf(from)} again`);
  report.retired.done = true;
  await announce(device, from, to, report, ctx);
  say(`moved: the account lives at ${device.identity().providers.map(hostOf).join(', ')}; ${hostOf(from)} ${report.retired.told ? 'points there for its grace period' : 'was not told'}`);
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

export const moveCommand: Command = {
  name: 'provider move',
  usage: 'provider move FROM TO [--json]',
  summary:
    'Move this account from provider FROM to provider TO: register with TO (refused, over quota or unreachable: nothing changes), copy every ' +
    'space there, check by fingerprints that TO holds every entry, claim the same handle at TO when it is free, then drop FROM from the ' +
    'identity log (FROM points to TO for its grace period). Interrupted, it can be run again; FROM leaves the log only once TO holds everything.',
  options: { json: { type: 'boolean' } },
  args: [2, 2],
  async run(ctx) {
    const report = await move(ctx);
    if (ctx.values.json) ctx.json(report);
  },
};
