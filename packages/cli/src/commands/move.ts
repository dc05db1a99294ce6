import { hostOf, moveAccount, providerUrl, resolveHandle, type MoveProgress, type MoveStep } from '@freehold/client';
import { Microblog } from '@freehold/microblog';
import type { Device } from '@freehold/core';
import { ready, type Command } from '../command.js';
import { WS } from '../ws.js';

/** The labels of the steps that count entries, drawn as a bar on stderr. */
const BARS: Partial<Record<MoveStep, (to: string) => string>> = {
  copying: (to) => `${to} copying`,
  sending: (to) => `sending to ${to}`,
};

/** One bar line on stderr per counting step, when it is a terminal and enough entries move to be worth watching. */
function bars(to: string): (p: MoveProgress) => void {
  const tty = process.stderr.isTTY;
  let shown: MoveStep | undefined;
  return ({ step, done, total }) => {
    if (shown && shown !== step) {
      process.stderr.write('\n');
      shown = undefined;
    }
    const label = BARS[step];
    if (!tty || !label || done === undefined || !total || total < 200) return;
    shown = step;
    const filled = Math.round((Math.min(done, total) / total) * 30);
    process.stderr.write(`\r${label(hostOf(to))} [${'#'.repeat(filled)}${'-'.repeat(30 - filled)}] ${Math.min(done, total)}/${total} entries`);
  };
}

const microblog = (device: Device): Microblog =>
  new Microblog(device, {
    resolve: (handle) => resolveHandle(handle),
    fetch: async () => {},
  });

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
    const device = (await ready(ctx)).device;
    const [from, to] = [providerUrl(ctx.args[0]!), providerUrl(ctx.args[1]!)];
    const mb = microblog(device);
    const report = await moveAccount(device, from, to, {
      WebSocket: WS,
      mirrors: () => mb.mirrors(),
      handleMoved: async (old, next) => {
        if ((await mb.profile())?.handle === old) await mb.setProfile({ handle: next });
      },
      say: (s) => !ctx.values.json && ctx.out(s),
      warn: (s) => ctx.err(`freehold: warning: ${s}`),
      progress: bars(to),
    });
    if (ctx.values.json) ctx.json(report);
  },
};
