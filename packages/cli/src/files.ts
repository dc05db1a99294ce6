import { readFileSync, writeFileSync } from 'node:fs';
import { reject } from '@freehold/core';

/** Reads a file named on the command line, with an error that names it. */
export function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
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
