export * from './schema.js';
export * from './microblog.js';
