export { MemoryStore } from './memory.js';
export { SqliteStore } from './sqlite.js';

export { PostgresStore } from './postgres.js';
