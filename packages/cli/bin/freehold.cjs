#!/usr/bin/env node
'use strict';
// CommonJS on purpose: nothing here touches libuv's thread pool before its size is set (ESM loading would).
// Signature checks run on that pool; one thread per core avoids oversubscribing small machines.
const { availableParallelism } = require('node:os');
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));
import('../dist/main.js').then(
  async ({ main }) => {
    process.exitCode = await main(process.argv.slice(2));
  },
  (e) => {
    process.stderr.write(`freehold: cannot start: ${e.message}\n(run \`npm install\` in the repository first)\n`);
    process.exitCode = 70;
  },
);
