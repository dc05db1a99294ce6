export { serve, openStore, type ServeOptions, type RunningServer } from './server.js';
export { parseSize, formatSize } from './size.js';
export { DEFAULT_PAIRING_LIMITS, type PairingLimits } from './pairing.js';
