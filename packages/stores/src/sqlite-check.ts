import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { reject } from '@freehold/core';
import { CommitRecord, type Acknowledged, type Ledger } from './sqlite-record.js';
import { inspectWal, type WalState } from './sqlite-wal.js';

export interface IntegrityOptions {
  /** Run `PRAGMA quick_check` over the database (it reads every page). */
  quickCheck: boolean;
  /** Open even though acknowledged writes are missing, and make what is there the new baseline. */
  acceptDataLoss: boolean;
}

/** What the check at open found, when it let the store open. */
export interface IntegrityReport {
  ms: number;
  /** The loss accepted with `acceptDataLoss`, in words. */
  accepted?: string;
  /** Log anomalies that lose nothing acknowledged (a write cut short by a crash). */
  notes: string[];
  /** Whether the commit record starts afresh from what the database holds. */
  baseline: boolean;
}

/** SQLite's word for a file it cannot trust (damaged pages, not a database, the disk failing to read or write). */
export const isDamage = (e: unknown): boolean => /^SQLITE_(CORRUPT|NOTADB|IOERR)/.test((e as { code?: string }).code ?? '');

/** Statements whose errors pass through `note` on their way out, so damage is reported the first time it is hit. */
export function watchForDamage<T extends Record<string, object>>(note: (e: unknown) => void, stmts: T): T {
  const watch = <S extends object>(s: S): S =>
    new Proxy(s, {
      get: (target, key) => {
        const v = Reflect.get(target, key, target) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          try {
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          } catch (e) {
            note(e);
            throw e;
          }
        };
      },
    });
  return Object.fromEntries(Object.entries(stmts).map(([k, s]) => [k, watch(s)])) as T;
}

const count = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** The database as SQLite will see it, read without changing anything: the log is neither replayed into it nor removed. */
function readDatabase(path: string, quickCheck: boolean): { ledger?: Ledger; damage?: string } {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const found = quickCheck ? quickCheckOf(db) : undefined;
    if (found) return { damage: found };
    const hasLedger = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'ledger'").get() !== undefined;
    return { ledger: hasLedger ? (db.prepare('SELECT store, writes, entries FROM ledger').get() as Ledger) : undefined };
  } catch (e) {
    if (!isDamage(e)) throw e;
    return { damage: `reading it fails with "${(e as Error).message}"` };
  } finally {
    db?.close();
  }
}

/** What `PRAGMA quick_check` finds, in words, or undefined if nothing; the pages it names come before any error. */
function quickCheckOf(db: Database.Database): string | undefined {
  const found: string[] = [];
  try {
    for (const row of db.prepare('PRAGMA quick_check(20)').pluck().iterate() as Iterable<string>) {
      if (row !== 'ok') found.push(row.replace(/\*\*\* in database main \*\*\*\s*/, '').replace(/\s+/g, ' '));
    }
  } catch (e) {
    if (!isDamage(e)) throw e;
    found.push(`then it fails with "${(e as Error).message}"`);
  }
  return found.length ? `quick_check finds ${found.join('; ')}` : undefined;
}

function describeWal(path: string, wal: WalState): string {
  if (wal.size === undefined) return `the write-ahead log ${path} is missing`;
  if (wal.dropped.length) return `the write-ahead log ${path}: ${wal.dropped.join('; ')}`;
  const frames = count(wal.kept, 'frame', 'frames');
  return `the write-ahead log ${path} shows no damage (${frames}): it was cut at a frame boundary, or it or the database was replaced`;
}

/** Why the database cannot hold everything the record says was acknowledged; undefined if it can. */
function lost(path: string, record: Acknowledged | 'unreadable' | undefined, ledger: Ledger | undefined, wal: WalState) {
  const recordPath = `${path}.commit`;
  if (record === 'unreadable') {
    return `the commit record ${recordPath} is damaged (neither of its copies is intact), so missing writes cannot be counted`;
  }
  if (record === undefined) {
    // A database that predates the record, or a fresh one, starts a baseline; one with a history had a record.
    return ledger && ledger.writes > 0 ? `the commit record ${recordPath} is missing, so missing writes cannot be counted` : undefined;
  }
  const since = `acknowledged by ${new Date(record.at).toISOString()}`;
  if (!existsSync(path)) return `${path} is missing, and with it ${count(record.entries, 'entry', 'entries')} ${since}`;
  // Without its ledger table the database lost even the transaction that created it, and all that came after.
  const held = ledger ?? { ...record, writes: 0, entries: 0 };
  if (!Buffer.from(held.store).equals(Buffer.from(record.store))) return `${path} is not the database ${recordPath} was kept for`;
  if (held.writes >= record.writes) return undefined;
  const entries = count(Math.max(0, record.entries - held.entries), 'acknowledged entry is', 'acknowledged entries are');
  const writes = count(record.writes - held.writes, 'write transaction', 'write transactions');
  return `${entries} missing from ${path} (${writes} in all, ${since}): ${describeWal(`${path}-wal`, wal)}`;
}

/**
 * Checks a store's files before SQLite opens them for writing (which would replay the log, drop whatever follows a
 * damaged frame for good, and reuse the file): the database must pass `quick_check`, and hold at least what the
 * commit record says was acknowledged. Throws a `damaged` FreeholdError saying what is wrong.
 */
export function checkStore(path: string, opts: IntegrityOptions): IntegrityReport {
  const t = performance.now();
  const record = CommitRecord.read(path);
  const wal = inspectWal(`${path}-wal`);
  const held = existsSync(path) ? readDatabase(path, opts.quickCheck) : {};
  if (held.damage) reject('damaged', `${path} is damaged: ${held.damage}`);
  const loss = lost(path, record, held.ledger, wal);
  if (loss && !opts.acceptDataLoss) reject('damaged', loss);
  return {
    ms: performance.now() - t,
    accepted: loss,
    notes: loss ? [] : wal.dropped.map((d) => `the write-ahead log ${path}-wal: ${d}`),
    baseline: loss !== undefined || record === undefined,
  };
}
