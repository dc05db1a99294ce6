import { fromUtf8, utf8, type Device } from '@freehold/core';
import { deleteAccountAt } from './http.js';

/** Once the log lists no provider, the ones still to ask are kept here, so that trying again finishes. */
const DELETING = 'account-deletion';

export interface ProviderDeletion {
  provider: string;
  spaces?: number;
  entries?: number;
  error?: string;
}

/**
 * Deletes an account, in the order that leaves nothing behind: `close` empties what contacts read of it (the
 * app's own data: posts to tombstones, a profile that says it was deleted) and sends that to its providers; the
 * log then drops every handle and provider (a log that lists a provider is consent to be hosted there); then
 * each provider is asked to delete what it holds. Run again after a provider could not be reached, it asks
 * only those that did not answer.
 */
export async function deleteAccount(device: Device, close: () => Promise<void>): Promise<ProviderDeletion[]> {
  const held = await device.store.getMeta(DELETING);
  const providers = held ? (JSON.parse(fromUtf8(held)) as string[]) : device.identity().providers;
  if (!held) {
    await close();
    await device.store.setMeta(DELETING, utf8(JSON.stringify(providers)));
    await device.setHandles([]);
    await device.setProviders([]);
  }
  const results: ProviderDeletion[] = [];
  for (const provider of providers) {
    try {
      results.push({ provider, ...(await deleteAccountAt(provider, device)) });
    } catch (e) {
      results.push({ provider, error: e instanceof Error ? e.message : String(e) });
    }
  }
  await device.store.setMeta(DELETING, utf8(JSON.stringify(results.filter((r) => r.error !== undefined).map((r) => r.provider))));
  return results;
}
