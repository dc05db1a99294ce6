import { cpus } from 'node:os';
import { coreBench } from './core.js';
import { serverBench } from './server.js';
import { clientBench } from './client.js';
import { federationBench } from './federation.js';
import { moveBench } from './move.js';
import { nodesBench } from './nodes.js';
import { printTable } from './table.js';

const started = new Date().toISOString();
console.log(`# Freehold benchmarks\n\n${started} · Node ${process.version} · ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}\n`);
const only = process.argv[2];
if (!only || only === 'core') console.log(printTable('Core engine', await coreBench()));
if (!only || only === 'server') console.log(`\n${printTable('Cloud peer (freehold serve in its own process; clients in this one)', await serverBench(process.argv[3]))}`);
if (!only || only === 'federation') {
  console.log(`\n${printTable('Federation (providers in their own processes, on loopback; clients in this one)', await federationBench(process.argv[3]))}`);
}
if (!only || only === 'nodes') {
  console.log(`\n${printTable('One provider on several nodes (freehold serve processes on one PostgreSQL schema, behind a relay; clients in this one)', await nodesBench(process.argv[3]))}`);
}
if (!only || only === 'move') console.log(`\n${printTable('Moving an account (providers in their own processes, on loopback; the CLI in its own)', await moveBench())}`);
if (!only || only === 'client') console.log(`\n${printTable('Web client (Chromium, IndexedDB)', await clientBench())}`);
