export * from './schema.js';
export * from './refs.js';
export * from './sent.js';
export * from './timeline.js';
export * from './microblog.js';
export * from './followers.js';
export * from './revisions.js';
export * from './reactions.js';
