import type pg from 'pg';
import { COUNT_IDLE_MS, FreeholdError, reject, type BucketRate, type PairingBounds, type PairingFull, type PairingOpen, type PairingSlot, type SharedState } from '@freehold/core';

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** A driver error (the database unreachable, a connection lost) as the typed refusal a client can retry. */
async function unavailableIfDown<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof FreeholdError) throw e;
    return reject('unavailable', `PostgreSQL did not answer: ${(e as Error).message}`);
  }
}

const SLOTS: readonly PairingSlot[] = ['offer', 'request', 'answer'];

/** What an open learns about the pairings it competes with, in one round trip (see openPairing). */
interface Held {
  taken: boolean;
  mine: number;
  oldest_mine: string | null;
  near: number;
  near_first: number | null;
  total: number;
  first: number | null;
}

/**
 * SharedState in the PostgreSQL schema of the store (tables and take_token from migration 5), so every node of a
 * provider sees one set of buckets and one mailbox. A take is one round trip under the bucket row's lock; opens
 * take turns under one advisory lock (they are rare: rate-limited per network) so the bounds hold across nodes.
 */
export class PostgresSharedState implements SharedState {
  constructor(private readonly pool: pg.Pool) {}

  take(key: string, rate: BucketRate, now: number): Promise<number> {
    return unavailableIfDown(() => this.takeSql(key, rate, now));
  }

  add(key: string, n: number, cap: number, start: () => Promise<number>, now: number): Promise<boolean> {
    return unavailableIfDown(() => this.addSql(key, n, cap, start, now));
  }

  forget(key: string): Promise<void> {
    return unavailableIfDown(() => this.forgetSql(key));
  }

  openPairing(o: PairingOpen, bounds: PairingBounds, now: number): Promise<{ expires: number } | PairingFull> {
    return unavailableIfDown(() => this.openPairingSql(o, bounds, now));
  }

  putPairing(id: string, slot: 'request' | 'answer', box: Uint8Array, now: number): Promise<void> {
    return unavailableIfDown(() => this.putPairingSql(id, slot, box, now));
  }

  getPairing(id: string, slot: PairingSlot, now: number): Promise<Uint8Array | undefined> {
    return unavailableIfDown(() => this.getPairingSql(id, slot, now));
  }

  sweep(now: number): Promise<void> {
    return unavailableIfDown(() => this.sweepSql(now));
  }

  private async takeSql(key: string, rate: BucketRate, now: number): Promise<number> {
    const { rows } = await this.pool.query<{ wait: number }>({
      name: 'take_token',
      text: 'SELECT take_token($1, $2, $3, $4) AS wait',
      values: [key, rate.perMinute, rate.burst, now],
    });
    return rows[0]!.wait;
  }

  private async addSql(key: string, n: number, cap: number, start: () => Promise<number>, now: number): Promise<boolean> {
    const added = () =>
      this.pool.query({ name: 'count_add', text: 'UPDATE counts SET n = n + $2, touched = $4 WHERE key = $1 AND n + $2 <= $3', values: [key, n, cap, now] });
    if ((await added()).rowCount === 1) return true;
    const held = await this.pool.query('UPDATE counts SET touched = $2 WHERE key = $1', [key, now]);
    if (held.rowCount === 1) return false;
    // Not held: started from the store's figure, unless another node started it meanwhile.
    await this.pool.query('INSERT INTO counts (key, n, touched) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [key, await start(), now]);
    return (await added()).rowCount === 1;
  }

  private async forgetSql(key: string): Promise<void> {
    await this.pool.query('DELETE FROM counts WHERE key = $1', [key]);
  }

  private async openPairingSql(o: PairingOpen, bounds: PairingBounds, now: number): Promise<{ expires: number } | PairingFull> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('freehold-pairing-open', 0))");
      await client.query('DELETE FROM pairings WHERE expires <= $1', [now]);
      const { rows } = await client.query<Held>(
        `SELECT EXISTS (SELECT 1 FROM pairings WHERE id = $1) AS taken,
          (SELECT COUNT(*) FROM pairings WHERE owner = $2)::int AS mine,
          (SELECT id FROM pairings WHERE owner = $2 ORDER BY n LIMIT 1) AS oldest_mine,
          (SELECT COUNT(*) FROM pairings WHERE network = $3)::int AS near,
          (SELECT expires FROM pairings WHERE network = $3 ORDER BY n LIMIT 1) AS near_first,
          (SELECT COUNT(*) FROM pairings)::int AS total,
          (SELECT expires FROM pairings ORDER BY n LIMIT 1) AS first`,
        [o.id, o.owner, o.network],
      );
      const held = rows[0]!;
      if (held.taken) reject('duplicate', 'that linking code is already in use');
      const full = await this.roomFor(client, o, bounds, held, now);
      if (full) {
        await client.query('ROLLBACK');
        return full;
      }
      const expires = now + bounds.ttlMs;
      await client.query('INSERT INTO pairings (id, owner, network, expires, offer) VALUES ($1, $2, $3, $4, $5)', [o.id, o.owner, o.network, expires, buf(o.offer)]);
      await client.query('COMMIT');
      return { expires };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  /** Makes room as the memory mailbox does: the owner's oldest goes past its cap, unless the network or the whole is full. */
  private async roomFor(client: pg.PoolClient, o: PairingOpen, bounds: PairingBounds, held: Held, now: number): Promise<PairingFull | undefined> {
    const replaced = held.mine >= bounds.perAccount ? held.oldest_mine : null;
    let near = held.near;
    let nearFirst = held.near_first;
    if (replaced !== null) {
      const { rows } = await client.query<{ network: string }>('SELECT network FROM pairings WHERE id = $1', [replaced]);
      if (rows[0]!.network === o.network) {
        near--;
        const next = await client.query<{ expires: number }>('SELECT expires FROM pairings WHERE network = $1 AND id <> $2 ORDER BY n LIMIT 1', [o.network, replaced]);
        nearFirst = next.rows[0]?.expires ?? null;
      }
    }
    if (near >= bounds.perNetwork) return { full: 'network', retryAfterMs: nearFirst! - now };
    if (held.total - (replaced !== null ? 1 : 0) >= bounds.maxPairings) return { full: 'provider', retryAfterMs: held.first! - now };
    if (replaced !== null) await client.query('DELETE FROM pairings WHERE id = $1', [replaced]);
    return undefined;
  }

  private async putPairingSql(id: string, slot: 'request' | 'answer', box: Uint8Array, now: number): Promise<void> {
    // The slot is one of two names, never input.
    const filled = await this.pool.query(
      slot === 'request'
        ? 'UPDATE pairings SET request = $2 WHERE id = $1 AND expires > $3 AND request IS NULL'
        : 'UPDATE pairings SET answer = $2 WHERE id = $1 AND expires > $3 AND answer IS NULL AND request IS NOT NULL',
      [id, buf(box), now],
    );
    if (filled.rowCount === 1) return;
    const { rows } = await this.pool.query<{ request: boolean; answer: boolean }>(
      'SELECT request IS NOT NULL AS request, answer IS NOT NULL AS answer FROM pairings WHERE id = $1 AND expires > $2',
      [id, now],
    );
    const p = rows[0];
    if (!p) return reject('not-found', 'no device is showing that linking code (it may have expired)');
    if (p[slot]) reject('duplicate', 'that linking code was already used');
    reject('invalid-argument', 'there is no request to answer yet');
  }

  private async getPairingSql(id: string, slot: PairingSlot, now: number): Promise<Uint8Array | undefined> {
    if (!SLOTS.includes(slot)) reject('invalid-argument', `no pairing slot ${String(slot)}`);
    const { rows } = await this.pool.query<{ box: Buffer | null }>({
      name: `pairing_${slot}`,
      text: `SELECT ${slot} AS box FROM pairings WHERE id = $1 AND expires > $2`,
      values: [id, now],
    });
    return rows[0]?.box ? bytes(rows[0].box) : undefined;
  }

  private async sweepSql(now: number): Promise<void> {
    await this.pool.query('DELETE FROM pairings WHERE expires <= $1', [now]);
    await this.pool.query('DELETE FROM rate_buckets WHERE full_at <= $1', [now]);
    await this.pool.query('DELETE FROM counts WHERE touched <= $1', [now - COUNT_IDLE_MS]);
  }
}
