import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEntry, decodeFrame, definedOnly, encode, encodeFrame, Kind, randomBytes, spaceIdOf, type Device, type Entry, type MembershipOp } from '@freehold/core';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink } from '@freehold/client';
import { freePort } from '../../../test-support/net.js';
import { allowedUnderAttack } from '../../../test-support/latency.js';
import { join_, newDevice, put, syncWith, tempDir, WS } from './helpers.js';
import { spawnServer } from './process.js';

installNativeCrypto();
const tmp = tempDir('membership');
afterAll(() => tmp.cleanup());

type Shape = 'chain' | 'braid';

/** Signs entries for a device, continuing its entry chain from where its store left it. */
async function signer(d: Device) {
  let seq = await d.store.maxSeq(d.id);
  let prev = (await d.store.idBySeq(d.id, seq)) ?? new Uint8Array(0);
  return (space: Uint8Array, op: MembershipOp): Entry => {
    const payload = encode(definedOnly(op));
    const h = { kind: Kind.membership, space, doc: new Uint8Array(0), device: d.id, seq: ++seq, prev, basis: new Uint8Array(0), time: Date.now() };
    const e = createEntry(h, d.keys.sign, payload.length, () => payload);
    prev = e.id;
    return e;
  };
}

/**
 * A public space whose membership log grows on demand. A chain is one op after another; a braid is 16 lanes
 * that never see each other, tied by a merge op every fifth op that depends on every lane's head and on the
 * previous merge. Every op names a fresh account.
 */
function membershipLog(account: Uint8Array, sign: (space: Uint8Array, op: MembershipOp) => Entry, shape: Shape) {
  const nonce = randomBytes(16);
  const space = spaceIdOf(account, nonce, true);
  let lanes: Uint8Array[] = [];
  let merge: Uint8Array = new Uint8Array(0);
  let count = 0;
  const write = (out: Entry[], op: MembershipOp): Uint8Array => {
    out.push(sign(space, op));
    count++;
    return out.at(-1)!.id;
  };
  const grow = (ops: number): Entry[] => {
    const out: Entry[] = [];
    if (count === 0) {
      merge = write(out, { t: 'create', deps: [], creator: account, nonce, public: true });
      lanes = new Array<Uint8Array>(shape === 'chain' ? 1 : 16).fill(merge);
    }
    while (out.length < ops) {
      const named = { t: 'set-role' as const, account: randomBytes(32), role: 'reader' as const };
      const lane = count % lanes.length;
      if (shape === 'braid' && count % 5 === 0) merge = write(out, { ...named, deps: [merge, ...lanes] });
      else lanes[lane] = write(out, { ...named, deps: [lanes[lane]!] });
    }
    return out;
  };
  return { space, grow, size: () => count };
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** A well-behaved user reconciling her spaces with the provider: how long one sync takes. */
async function syncTime(d: Device, url: string): Promise<number> {
  const t = performance.now();
  const r = await syncWith(d, url);
  expect(r.rejected).toEqual([]);
  return performance.now() - t;
}

async function syncTimes(d: Device, url: string, n: number, until: () => boolean = () => true): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n || !until()) out.push(await syncTime(d, url));
  return out;
}

describe('long membership logs', () => {
  it('logs of thousands of ops from a registered account cost the provider linear time and little memory, also after a restart', async () => {
    const data = join(tmp.dir, 'provider');
    const port = await freePort();
    let server = await spawnServer(['--port', String(port), '--data', data]);
    const alice = await newDevice(tmp.dir, 'alice');
    const mallory = await newDevice(tmp.dir, 'mallory');
    await join_(alice, server.url);
    await join_(mallory, server.url);
    const notes = await alice.createSpace(false);
    for (let i = 0; i < 20; i++) await put(alice, notes, `note ${i}`, { i });
    await syncTimes(alice, server.url, 3);
    const idle = median(await syncTimes(alice, server.url, 11));
    const sign = await signer(mallory);

    // Mallory's live traffic: frames of 20 ops appended to her logs while Alice keeps syncing.
    const link = await ProviderLink.connect(server.url, mallory, WS);
    const alongside = async (logs: ReturnType<typeof membershipLog>[]): Promise<number[]> => {
      let frames = 0;
      let stop = false;
      const traffic = (async () => {
        for (; !stop; frames++) {
          const entries = logs[frames % logs.length]!.grow(20);
          link.send(encodeFrame(['entries', entries.map((e) => e.bytes)]));
          expect(decodeFrame(await link.next())).toEqual(['ack', 20, []]);
        }
      })();
      const times = await syncTimes(alice, server.url, 7, () => frames >= 20);
      stop = true;
      await traffic;
      return times;
    };
    // Normal latency: that traffic into short logs.
    const short = [membershipLog(mallory.account, sign, 'chain'), membershipLog(mallory.account, sign, 'braid')];
    const normal = await alongside(short);
    const rssBefore = rssMiB(server.child.pid!);

    // Then whole logs at once, over a normal sync: four times the ops should take about four times as long.
    await syncWith(mallory, server.url);
    const push = async (log: ReturnType<typeof membershipLog>, ops: number): Promise<number> => {
      const ingested = await mallory.replica.ingest(log.grow(ops).map((e) => e.bytes));
      expect(ingested.filter((r) => !r.ok)).toEqual([]);
      const t = performance.now();
      const r = await syncWith(mallory, server.url);
      expect(r.rejected).toEqual([]);
      expect(r.stats.entriesSent).toBe(ops);
      return performance.now() - t;
    };
    const chain = membershipLog(mallory.account, sign, 'chain');
    const braid = membershipLog(mallory.account, sign, 'braid');
    const pushed = { small: await push(membershipLog(mallory.account, sign, 'chain'), 1_000), chain: await push(chain, 4_000), braid: await push(braid, 5_000) };
    const rssAfter = rssMiB(server.child.pid!);
    // The same traffic into the 4,000- and 5,000-op logs, in turns with more into the short ones, so that the
    // load of a busy machine falls on both alike.
    const attacked: number[] = [];
    for (let round = 0; round < 3; round++) {
      attacked.push(...(await alongside([chain, braid])));
      normal.push(...(await alongside(short)));
    }
    link.close();
    const idleAgain = median(await syncTimes(alice, server.url, 11));
    console.log(
      `membership logs pushed: 1k chain ${pushed.small.toFixed(0)} ms, 4k chain ${pushed.chain.toFixed(0)} ms, ` +
        `5k braid ${pushed.braid.toFixed(0)} ms; provider RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB; ` +
        `Alice's sync median ${idle.toFixed(1)} ms idle, ${median(normal).toFixed(1)} ms beside live ops into short logs, ` +
        `${median(attacked).toFixed(1)} ms beside the same into the long ones`,
    );
    // Linear: four times the ops in about four times the time (a quadratic graph: sixteen, and gigabytes).
    expect(pushed.chain / pushed.small).toBeLessThan(7);
    expect(rssAfter - rssBefore).toBeLessThan(150);
    expect(median(attacked)).toBeLessThan(allowedUnderAttack(median(normal)));

    // After a restart the provider rebuilds every graph from its store; the first session pays for that once.
    await server.stop();
    server = await spawnServer(['--port', String(port), '--data', data]);
    const rssFresh = rssMiB(server.child.pid!);
    const first = await syncTime(alice, server.url);
    // A fresh process still compiles its hot code and collects what loading left behind.
    await syncTimes(alice, server.url, 10);
    const after = median(await syncTimes(alice, server.url, 15));
    const rssLoaded = rssMiB(server.child.pid!);
    console.log(
      `after restart: first sync ${first.toFixed(0)} ms (loads every graph), then median ${after.toFixed(1)} ms ` +
        `(${idleAgain.toFixed(1)} ms just before); ` +
        `provider RSS ${rssFresh.toFixed(0)} -> ${rssLoaded.toFixed(0)} MiB`,
    );
    expect(first).toBeLessThan(5_000);
    expect(after).toBeLessThan(allowedUnderAttack(idleAgain));
    expect(rssLoaded - rssFresh).toBeLessThan(150);

    // The provider still serves the whole logs: a newcomer who asks for the spaces gets every op.
    const carol = await newDevice(tmp.dir, 'carol');
    await join_(carol, server.url);
    await syncWith(carol, server.url, [chain.space, braid.space]);
    expect((await carol.replica.graph(chain.space)).nodes.size).toBe(chain.size());
    expect((await carol.replica.graph(braid.space)).nodes.size).toBe(braid.size());
    await server.stop();
  });
});
