import { createAccount, Device, encodeCard } from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { register } from '@freehold/client';

/** A new account's first device, its replica in memory. */
export async function newDevice(): Promise<Device> {
  const store = new MemoryStore();
  const acct = createAccount('bench', Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  return Device.open(store, acct.device, acct.state.account);
}

/** A new account registered with the provider at `url`. */
export async function registered(url: string): Promise<Device> {
  const d = await newDevice();
  await d.setProviders([url]);
  await register(url, d);
  return d;
}
