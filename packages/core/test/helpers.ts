import {
  createAccount,
  Device,
  encodeCard,
  syncPair,
  SyncSession,
  openDoc,
  type Store,
} from '@freehold/core';
import { MemoryStore } from '@freehold/stores';

export interface User {
  name: string;
  device: Device;
  recoverySecret: Uint8Array;
}

export async function newUser(name: string, store: Store = new MemoryStore()): Promise<User> {
  const acct = createAccount(`${name}'s laptop`, Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  return { name, device: await Device.open(store, acct.device, acct.state.account), recoverySecret: acct.recoverySecret };
}

export async function cardOf(d: Device): Promise<Uint8Array> {
  return encodeCard(d.identity());
}

/** Each side learns the other's contact card, as `freehold contact add` does. */
export async function introduce(...devices: Device[]): Promise<void> {
  for (const a of devices) for (const b of devices) if (a !== b) await a.replica.addCard(await cardOf(b));
}

export async function sync(a: Device, b: Device) {
  const left = new SyncSession(a.replica, { account: a.account });
  const right = new SyncSession(b.replica, { account: b.account });
  const { roundTrips } = await syncPair(left, right);
  return { roundTrips, left: left.stats, right: right.stats };
}

export async function put(d: Device, space: Uint8Array, doc: string, fields: Record<string, unknown>) {
  const h = await openDoc(d, space, doc);
  h.merge(fields);
  return h.flush();
}

export async function get(d: Device, space: Uint8Array, doc: string) {
  return (await openDoc(d, space, doc)).toJSON();
}
