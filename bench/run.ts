import { cpus } from 'node:os';
import { coreBench } from './core.js';
import { printTable } from './table.js';

const started = new Date().toISOString();
console.log(`# Freehold benchmarks\n\n${started} · Node ${process.version} · ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}\n`);
console.log(printTable('Core engine', await coreBench()));
