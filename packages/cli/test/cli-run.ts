import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** `freehold ARGS --home ROOT/HOME`, each a process of its own, as a person runs them. */
export function cli(root: string) {
  const args = (a: string[], home?: string) => [BIN, ...a, ...(home ? ['--home', join(root, home)] : [])];
  const fh = (a: string[], home?: string, input?: string): Run => {
    const r = spawnSync(process.execPath, args(a, home), { input, encoding: 'utf8', cwd: root });
    return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
  };
  const ok = (a: string[], home?: string): string => {
    const r = fh(a, home);
    expect(r.code, `freehold ${a.join(' ')}: ${r.err}`).toBe(0);
    return r.out;
  };
  /** Delivery between providers is asynchronous: asks again, as a person would, until the output shows `want`. */
  const eventually = async (a: string[], home: string, want: RegExp, ms = 30_000): Promise<string> => {
    const end = Date.now() + ms;
    for (;;) {
      const out = ok(a, home);
      if (want.test(out) || Date.now() > end) return out;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  /** Started without waiting, to be killed or awaited. */
  const start = (a: string[], home: string) => {
    const child = spawn(process.execPath, args(a, home), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<Run>((r) => child.on('exit', (code) => r({ code: code ?? -1, out: out.trim(), err: err.trim() })));
    return { child, done };
  };
  return { fh, ok, eventually, start };
}

/** The account id of a profile. */
export const accountOf = (ok: (a: string[], home?: string) => string, home: string): string => (JSON.parse(ok(['whoami', '--json'], home)) as { account: string }).account;
