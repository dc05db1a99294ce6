import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './net.js';

/** The NATS server tests share, as the machine runs it. */
export const NATS_URL = process.env.FREEHOLD_TEST_NATS ?? 'nats://127.0.0.1:4222';

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

const installed = (): boolean => spawnSync('nats-server', ['--version']).status === 0;

async function started(child: ChildProcess, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await answers(port)) return;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not start on port ${port}`);
}

/**
 * Makes sure the shared NATS server answers: if nothing listens on 127.0.0.1:4222 and nats-server is installed,
 * it is started the way the machine runs it (`nats-server -a 127.0.0.1 -p 4222 -js`) and left running.
 */
export async function ensureNats(): Promise<void> {
  if (await answers(4222)) return;
  if (!installed()) throw new Error('no NATS server on 127.0.0.1:4222 and nats-server is not installed (see README, "Running several nodes")');
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', '4222', '-js'], { detached: true, stdio: 'ignore' });
  child.unref();
  await started(child, 4222);
}

/** A NATS server of the test's own on a free port, which it may stop and start again on the same port. */
export class PrivateNats {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateNats> {
    if (!installed()) throw new Error('nats-server is not installed');
    const n = new PrivateNats(await freePort());
    await n.resume();
    return n;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' });
    this.child = child;
    await started(child, this.port);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}
