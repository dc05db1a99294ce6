import { Kind, type IdentityState, type Replica } from '@freehold/core';

/** Ids deleted per write: one transaction each, so a large account does not hold the store in one. */
const CHUNK = 1000;

export interface DeletedAccount {
  /** Spaces the account created, emptied. */
  spaces: number;
  entries: number;
}

/**
 * What a provider holds of an account that deletes itself: every entry of the spaces it created (what others
 * wrote there too: replies, follow requests, messages to it) and what its devices wrote in other spaces held
 * here, except membership operations, on which other spaces' members stand. Its handles are dropped (held back
 * from others for the usual time, so no one takes the name at once) and its registration is forgotten. Its
 * newest identity log stays: it no longer lists this provider, so no older copy of it registers the account
 * again, and whoever looks the account up learns it has no provider left. A second call finds nothing left.
 */
export async function deleteAccountData(replica: Replica, account: IdentityState, now: number): Promise<DeletedAccount> {
  const store = replica.store;
  let entries = 0;
  const drop = async (ids: Uint8Array[]) => {
    for (let i = 0; i < ids.length; i += CHUNK) await store.deleteEntries(ids.slice(i, i + CHUNK));
    entries += ids.length;
  };
  const created = (await store.spacesOf(account.account)).filter((n) => n.creator).map((n) => n.space);
  for (const space of created) {
    await drop((await store.keys(space)).map((k) => k.id));
    replica.forget(space);
  }
  for (const d of account.devices.values()) {
    await drop((await store.deviceEntries(null, d.device, 0)).filter((r) => r.kind !== Kind.membership).map((r) => r.id));
  }
  for (const h of await store.handlesOf(account.account)) if (h.dropped === undefined) await store.markHandleDropped(h.name, account.account, now);
  await store.deleteAccount(account.account);
  return { spaces: created.length, entries };
}
