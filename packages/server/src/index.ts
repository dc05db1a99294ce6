export { serve, openStore, type ServeOptions, type RunningServer } from './server.js';
export { parseSize, formatSize } from './size.js';
export { DEFAULT_PAIRING_LIMITS, type PairingLimits } from './pairing.js';
export { DEFAULT_MIRROR_BUDGET, MAX_MIRROR_BUDGET } from './mirror-cache.js';
