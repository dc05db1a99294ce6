import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../cli/bin/freehold.cjs', import.meta.url));

const launch = (args: string[]) => spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

/** A real `freehold serve` in its own process, so it can be killed like a crashed server. */
export async function spawnServer(
  args: string[],
): Promise<{ url: string; metricsUrl?: string; child: ChildProcess; output(): string; stop(signal?: NodeJS.Signals): Promise<void> }> {
  const child = launch(args);
  let buf = '';
  const { url, metrics } = await new Promise<{ url: string; metrics?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${buf}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        try {
          const j = JSON.parse(line) as { event?: string; url?: string; metrics?: string };
          if (j.event === 'start' && j.url) {
            clearTimeout(timer);
            resolve({ url: j.url, metrics: j.metrics });
          }
        } catch {
          // partial line
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (buf += d.toString()));
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${buf}`)));
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    url,
    metricsUrl: metrics,
    child,
    output: () => buf,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A `freehold serve` expected to refuse to start: its exit code and what it wrote. Throws if it starts. */
export async function refusedStart(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = launch(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('"event":"start"')) child.kill('SIGKILL');
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  if (stdout.includes('"event":"start"')) throw new Error(`the server started: ${stdout}`);
  return { code, stdout, stderr };
}
