import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A server under test, in its own process. */
export interface Server {
  url: string;
  port: number;
  pid: number;
  rss(): number;
  /** Bytes its store holds at rest (measured after stop(), so write-ahead logs have been folded in). */
  diskBytes(): Promise<number>;
  /** Stops the process; calling it again does nothing. */
  stop(): Promise<void>;
  /** Removes what the server kept outside its folder (a PostgreSQL schema). */
  dispose?(): Promise<void>;
}

/** Starts a process and waits until `ready` matches its output (or it exits). */
export async function startProcess(cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const look = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    if (process.env.PEERS_DEBUG) child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${cmd}] ${d}`));
    child.on('exit', (c) => reject(new Error(`${cmd} ${args.join(' ')} exited ${c}:\n${out.slice(-2000)}`)));
  });
  return { child, match };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Total size of the files under a directory. */
export function du(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((sum, name) => sum + du(join(path, name)), 0);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const chunk = <T>(xs: T[], k: number): T[][] => Array.from({ length: Math.ceil(xs.length / k) }, (_, i) => xs.slice(i * k, i * k + k));
