import { fingerprint, toHex, toId, type Device } from '@freehold/core';
import type { SpaceFingerprint } from './http.js';

/** What one replica holds of a space: how many entries, and their reconciliation fingerprint. */
export interface Held {
  entries: number;
  fingerprint: string;
}

/** One space of the account as this device, the provider moved to and the one moved from hold it. */
export interface SpaceCheck {
  space: string;
  local?: Held;
  to?: Held;
  from?: Held;
  /** The provider moved to holds every entry: what this device holds, or else (a space it lacks) what FROM holds. */
  complete: boolean;
}

/** The fingerprints of the spaces the account created, as this device's replica holds them (what providers answer). */
export async function localFingerprints(device: Device): Promise<SpaceFingerprint[]> {
  const out: SpaceFingerprint[] = [];
  for (const { space, creator } of await device.store.spacesOf(device.account)) {
    if (!creator) continue;
    const keys = await device.store.keys(space);
    out.push({ space: toId(space), entries: keys.length, fingerprint: toHex(fingerprint(keys, 0, keys.length)) });
  }
  return out;
}

const same = (a: Held | undefined, b: Held | undefined): boolean => a !== undefined && b !== undefined && a.fingerprint === b.fingerprint;

/** Compares every space any of the three holds; `from` is absent when that provider could not be asked. */
export function compareHoldings(local: SpaceFingerprint[], to: SpaceFingerprint[], from?: SpaceFingerprint[]): SpaceCheck[] {
  const rows = new Map<string, SpaceCheck>();
  const row = (space: string) => rows.get(space) ?? rows.set(space, { space, complete: false }).get(space)!;
  const held = (f: SpaceFingerprint): Held => ({ entries: f.entries, fingerprint: f.fingerprint });
  for (const f of local) row(f.space).local = held(f);
  for (const f of to) row(f.space).to = held(f);
  for (const f of from ?? []) row(f.space).from = held(f);
  for (const r of rows.values()) r.complete = r.local ? same(r.to, r.local) : r.from ? same(r.to, r.from) : true;
  return [...rows.values()].sort((a, b) => (a.space < b.space ? -1 : 1));
}

/**
 * About what a provider would charge this account for what the replica holds: every entry of the spaces it
 * created, and its own devices' entries elsewhere (replies, likes, messages it sent).
 */
export async function accountBytes(device: Device): Promise<number> {
  const own = new Set(device.identity().devices.keys());
  const created = new Set((await device.store.spacesOf(device.account)).filter((n) => n.creator).map((n) => toHex(n.space)));
  let bytes = 0;
  for (const space of await device.store.spaces()) {
    const whole = created.has(toHex(space));
    for (const u of await device.store.spaceUsage(space)) if (whole || own.has(toHex(u.device))) bytes += u.bytes;
  }
  return bytes;
}
