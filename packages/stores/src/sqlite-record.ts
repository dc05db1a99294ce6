import { closeSync, existsSync, fsync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';

/** Counters every write to a SQLite store bumps, kept in the database (the `ledger` table). */
export interface Ledger {
  /** A random id given to the database when it was created, so a record is never compared with another file. */
  store: Uint8Array;
  /** Write transactions committed. */
  writes: number;
  /** Entries inserted (deletions do not count down). */
  entries: number;
}

/** A ledger as it was when it was last acknowledged, and when that was. */
export interface Acknowledged extends Ledger {
  at: number;
}

// Two slots in separate sectors, written in turn: a write torn by a power cut spoils only the slot it was writing.
const SLOTS = [0, 512];
const SIZE = 56;
const MAGIC = 'FHCOMMIT';

function encode(l: Ledger, at: number): Buffer {
  const b = Buffer.alloc(SIZE);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt32BE(1, 8);
  b.set(l.store, 12);
  b.writeBigUInt64BE(BigInt(l.writes), 28);
  b.writeBigUInt64BE(BigInt(l.entries), 36);
  b.writeDoubleBE(at, 44);
  b.writeUInt32BE(crc32(b.subarray(0, 52)), 52);
  return b;
}

function decode(b: Buffer): Acknowledged | undefined {
  if (b.toString('latin1', 0, 8) !== MAGIC || b.readUInt32BE(8) !== 1 || b.readUInt32BE(52) !== crc32(b.subarray(0, 52))) return undefined;
  const store = new Uint8Array(b.subarray(12, 28));
  return { store, writes: Number(b.readBigUInt64BE(28)), entries: Number(b.readBigUInt64BE(36)), at: b.readDoubleBE(44) };
}

/** Syncs a file or directory to disk. */
function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The commit record (`FILE.commit` for the database FILE): the store's ledger as of its last acknowledged write, kept outside the
 * database so that losing part of the database cannot take the record with it.
 *
 * It can lag the truth but never lead it: a ledger is written here only after an fsync that started after it was
 * committed has returned, and before any write it covers is acknowledged. The record file is not synced with every
 * write (that would double the fsyncs): a process crash keeps it whole in the page cache, and after a power cut it
 * lags by at most the second between its own fsyncs, which only narrows what can be checked.
 */
export class CommitRecord {
  private turn = 0;
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private syncing: Promise<void> = Promise.resolve();

  private constructor(private readonly fd: number) {}

  /** The newest intact slot of the database's record; undefined if there is none, 'unreadable' if no slot is intact. */
  static read(database: string): Acknowledged | 'unreadable' | undefined {
    let fd: number;
    try {
      fd = openSync(`${database}.commit`, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const found = SLOTS.map((at) => {
        const b = Buffer.alloc(SIZE);
        return readSync(fd, b, 0, SIZE, at) === SIZE ? decode(b) : undefined;
      }).filter((r) => r !== undefined);
      return found.sort((a, b) => b.writes - a.writes)[0] ?? 'unreadable';
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Opens the database's record; with `baseline`, starts it afresh from the ledger the database holds now. That
   * ledger may count commits a crash left unsynced, so the database's files are synced before it is written, and
   * the record and its directory entry after.
   */
  static open(database: string, baseline?: () => Ledger): CommitRecord {
    const path = `${database}.commit`;
    if (!baseline) return new CommitRecord(openSync(path, 'r+'));
    for (const file of [database, `${database}-wal`]) if (existsSync(file)) syncPath(file);
    const record = new CommitRecord(openSync(path, 'w'));
    const ledger = baseline();
    for (const at of SLOTS) writeSync(record.fd, encode(ledger, Date.now()), 0, SIZE, at);
    fsyncSync(record.fd);
    syncPath(dirname(path));
    return record;
  }

  /** Records a ledger whose writes are durable; the file itself is synced within a second. */
  write(ledger: Ledger): void {
    writeSync(this.fd, encode(ledger, Date.now()), 0, SIZE, SLOTS[this.turn]);
    this.turn ^= 1;
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.syncing = this.sync();
    }, 1000).unref();
  }

  private sync(): Promise<void> {
    this.dirty = false;
    // A failed sync of the record weakens a later check but loses nothing: the next write tries again.
    return new Promise((resolve) => fsync(this.fd, () => resolve()));
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.syncing;
    if (this.dirty) fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
