export * from './schema.js';
export * from './refs.js';
export * from './sent.js';
export * from './timeline.js';
export * from './microblog.js';
