import { reject } from '@freehold/core';

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50 };

/** "1GiB", "500MB", "2048" (bytes) → bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[(m?.[2] || 'b').toLowerCase()];
  if (!m || unit === undefined) return reject('invalid-argument', `"${text}" is not a size (try 500MB or 1GiB)`);
  return Math.floor(Number(m[1]) * unit);
}

/** Sizes are shown the same way by every package. */
export { formatSize } from '@freehold/core';
