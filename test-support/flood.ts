import { Worker } from 'node:worker_threads';

/** Runs in a worker thread: opens the sessions and keeps their sockets as full as the provider lets them be. */
const FLOOD = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require('ws');
const { url, lanes } = workerData;
let stop = false;
let sent = 0;
let saturated = 0;
const total = lanes.reduce((n, l) => n + l.sessions, 0);
const sockets = [];
const filled = (ws) => {
  if (ws.filled) return;
  ws.filled = true;
  if (++saturated === total) parentPort.postMessage('saturated');
};
for (const { opening, frame, sessions } of lanes) {
  for (let i = 0; i < sessions; i++) {
    const ws = new WebSocket(url);
    sockets.push(ws);
    ws.on('error', () => {});
    ws.on('message', () => {});
    ws.on('close', () => {
      if (stop) return;
      ws.closedByPeer = true;
      filled(ws);
    });
    ws.on('open', () => {
      for (const f of opening) ws.send(f);
      const pump = () => {
        if (stop || ws.readyState !== WebSocket.OPEN) return;
        while (ws.bufferedAmount < 1 << 20) { ws.send(frame); sent++; }
        filled(ws);
        setTimeout(pump, 5);
      };
      pump();
    });
  }
}
parentPort.on('message', () => {
  stop = true;
  for (const ws of sockets) ws.terminate();
  parentPort.postMessage({ closedByPeer: sockets.filter((ws) => ws.closedByPeer).length, sent });
});
`;

export interface FloodLane {
  /** Frames each session sends first (a hello, say). */
  opening: Uint8Array[];
  /** The frame each session then sends over and over, as fast as TCP takes it. */
  frame: Uint8Array;
  sessions: number;
}

/**
 * A flood of WebSocket frames from a worker thread, as an attacker's own process would send them: it shares
 * the machine but not the test's event loop. It resolves once every session has filled its socket (or after three seconds), so what a
 * client measures from then on is the provider's doing, not the attacker's own CPU spent writing the first
 * megabytes of frames on the same two cores.
 */
export async function flood(syncUrl: string, lanes: FloodLane[]): Promise<{ stop(): Promise<{ closedByPeer: number; sent: number }> }> {
  const w = new Worker(FLOOD, { eval: true, workerData: { url: syncUrl, lanes } });
  await new Promise<void>((resolve, reject) => {
    w.on('message', (m) => m === 'saturated' && resolve());
    w.once('error', reject);
    // Sessions the provider closes or throttles may never fill their sockets: three seconds is past the start.
    setTimeout(resolve, 3000);
  });
  return {
    async stop() {
      const stopped = new Promise<{ closedByPeer: number; sent: number }>((r) => w.on('message', (m) => typeof m === 'object' && r(m)));
      w.postMessage('stop');
      const result = await stopped;
      await w.terminate();
      return result;
    },
  };
}
