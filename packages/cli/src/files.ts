import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { formatSize, reject } from '@freehold/core';

/** Reads a file named on the command line, with an error that names it; one over `max` bytes is not read. */
export function readInput(path: string, max = Infinity): Buffer {
  try {
    const size = statSync(path).size;
    if (size > max) reject('too-large', `${path} is ${size} bytes, over the ${formatSize(max)} it may take`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof Error && e.name === 'FreeholdError') throw e;
    const code = (e as NodeJS.ErrnoException).code;
    return reject('not-found', code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${(e as Error).message}`);
  }
}

export function writeOutput(path: string | undefined, text: string, out: (s: string) => void): void {
  if (!path || path === '-') return out(text);
  try {
    writeFileSync(path, `${text}\n`);
  } catch (e) {
    reject('invalid-argument', `cannot write ${path}: ${(e as Error).message}`);
  }
}

export function writeBytes(path: string, bytes: Uint8Array): void {
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    reject('invalid-argument', `cannot write ${path}: ${(e as Error).message}`);
  }
}
