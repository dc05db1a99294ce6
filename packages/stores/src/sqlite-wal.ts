import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * What SQLite will make of a write-ahead log the next time it opens the database, worked out ahead of it.
 *
 * Format (sqlite.org/fileformat2.html, "The Write-Ahead Log"): a 32-byte header (magic, version, page size,
 * checkpoint sequence, two salts, a checksum of the first 24 bytes), then frames of a 24-byte header (page number,
 * database size in pages for the last frame of a commit else 0, the two salts, a running checksum) and one page.
 * Each frame's checksum continues the previous one over its first 8 header bytes and its page. Recovery replays
 * frames while their salts match the header and the checksums chain, through the last commit frame, and silently
 * drops everything after: a damaged frame in the middle loses every commit behind it without a word.
 */
export interface WalState {
  /** Bytes in the file, or undefined when there is none. */
  size: number | undefined;
  /** Frames SQLite will replay. */
  kept: number;
  /** What SQLite will pass over, in words (empty when it keeps everything of the current log). */
  dropped: string[];
}

const HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC = 0x377f0682;

/** SQLite's checksum: pairs of 32-bit words, in the byte order the magic number names. */
function checksum(view: DataView, from: number, to: number, little: boolean, s: [number, number]): [number, number] {
  let [s0, s1] = s;
  for (let i = from; i < to; i += 8) {
    s0 = (s0 + view.getUint32(i, little) + s1) >>> 0;
    s1 = (s1 + view.getUint32(i + 4, little) + s0) >>> 0;
  }
  return [s0, s1];
}

export function inspectWal(path: string): WalState {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { size: undefined, kept: 0, dropped: [] };
    throw e;
  }
  try {
    return inspect(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function inspect(fd: number, size: number): WalState {
  // An empty log is what a checkpoint that truncates leaves: nothing to replay, nothing lost.
  if (size === 0) return { size, kept: 0, dropped: [] };
  const head = Buffer.alloc(HEADER);
  const view = new DataView(head.buffer);
  const ignored = (why: string) => ({ size, kept: 0, dropped: [`${why}, so SQLite ignores all ${size.toLocaleString('en')} bytes of it`] });
  if (readSync(fd, head, 0, HEADER, 0) < HEADER) return ignored('it is shorter than its header');
  const magic = view.getUint32(0);
  const pageSize = view.getUint32(8);
  if ((magic & ~1) >>> 0 !== MAGIC) return ignored('its header does not start with the log’s magic number');
  const powerOfTwo = (pageSize & (pageSize - 1)) === 0;
  if (pageSize < 512 || pageSize > 65536 || !powerOfTwo) return ignored(`its header names no valid page size (${pageSize})`);
  const little = (magic & 1) === 0;
  const sum = checksum(view, 0, 24, little, [0, 0]);
  if (sum[0] !== view.getUint32(24) || sum[1] !== view.getUint32(28)) return ignored('its header fails its checksum');
  return frames(fd, size, pageSize, little, head, sum);
}

function frames(fd: number, size: number, pageSize: number, little: boolean, head: Buffer, headSum: [number, number]): WalState {
  const frameSize = FRAME_HEADER + pageSize;
  const total = Math.floor((size - HEADER) / frameSize);
  const salts = head.subarray(16, 24);
  const batch = Math.max(1, Math.floor((1 << 20) / frameSize));
  const buf = Buffer.alloc(batch * frameSize);
  const view = new DataView(buf.buffer);
  let sum = headSum;
  let kept = 0;
  let broken: { frame: number; damaged: boolean } | undefined;
  let after = 0;
  for (let first = 0; first < total; first += batch) {
    const n = Math.min(batch, total - first);
    readSync(fd, buf, 0, n * frameSize, HEADER + first * frameSize);
    for (let i = 0; i < n; i++) {
      const at = i * frameSize;
      const ours = buf.subarray(at + 8, at + 16).equals(salts);
      if (broken) {
        // Frames of an earlier log (other salts) are leftovers a restart overwrites; frames of this one are lost.
        if (ours) after++;
        continue;
      }
      const next = checksum(view, at + FRAME_HEADER, at + frameSize, little, checksum(view, at, at + 8, little, sum));
      const valid = ours && view.getUint32(at) !== 0 && next[0] === view.getUint32(at + 16) && next[1] === view.getUint32(at + 20);
      if (!valid) {
        broken = { frame: first + i + 1, damaged: ours };
        continue;
      }
      sum = next;
      if (view.getUint32(at + 4) !== 0) kept = first + i + 1;
    }
  }
  const dropped: string[] = [];
  const where = (frame: number) => `frame ${frame} (byte ${(HEADER + (frame - 1) * frameSize).toLocaleString('en')})`;
  // A frame with other salts and none of ours after it is the normal end of a reused log.
  if (broken && (broken.damaged || after > 0)) {
    const why = broken.damaged ? 'fails its checksum' : 'does not carry this log’s salts';
    const rest = after > 0 ? ` and drops the ${after} frames of this log after it` : '';
    dropped.push(`${where(broken.frame)} ${why}; SQLite stops reading there${rest}`);
  }
  if ((size - HEADER) % frameSize !== 0) dropped.push(`it ends in the middle of ${where(total + 1)}`);
  const unfinished = (broken ? broken.frame - 1 : total) - kept;
  if (unfinished === 1) dropped.push('its last valid frame ends no transaction (a write cut short)');
  if (unfinished > 1) dropped.push(`its last ${unfinished} valid frames end no transaction (a write cut short)`);
  return { size, kept, dropped };
}
