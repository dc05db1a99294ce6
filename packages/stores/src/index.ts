export { MemoryStore } from './memory.js';
export { MemorySharedState } from './memory-state.js';
export { SqliteStore, type SqliteOptions } from './sqlite.js';
export type { IntegrityOptions, IntegrityReport } from './sqlite-check.js';

export { PostgresStore } from './postgres.js';
export type { PostgresSharedState } from './postgres-state.js';
