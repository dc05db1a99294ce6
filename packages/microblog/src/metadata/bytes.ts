import { reject } from '@freehold/core';

/** A malformed image: named by its format and what is wrong, and refused before anything is stored. */
export const malformed = (format: string, what: string): never => reject('malformed', `the ${format} file is damaged: ${what}`);

export const ascii = (b: Uint8Array, at: number, length: number): string => String.fromCharCode(...b.subarray(at, at + length));

export const u16be = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
export const u32be = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
export const u32le = (b: Uint8Array, at: number): number => ((b[at + 3]! << 24) | (b[at + 2]! << 16) | (b[at + 1]! << 8) | b[at]!) >>> 0;

export function startsWith(b: Uint8Array, at: number, text: string): boolean {
  return at + text.length <= b.length && ascii(b, at, text.length) === text;
}
