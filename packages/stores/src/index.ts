export { MemoryStore } from './memory.js';
export { SqliteStore, type SqliteOptions } from './sqlite.js';
export type { IntegrityOptions, IntegrityReport } from './sqlite-check.js';

export { PostgresStore } from './postgres.js';
