export { serve, openStore, type ServeOptions, type RunningServer } from './server.js';
export { challengeMessage } from './connection.js';
export { parseSize, formatSize } from './size.js';
