import { openDB } from 'idb';

/** The IndexedDB database of this browser's device keys (see keys.ts), apart from the replica. */
export const keyStore = () => openDB('freehold-keys', 1, { upgrade: (d) => d.createObjectStore('keys') });

/** Whether this browser holds an account's keys, known without opening them, so without the engine. */
export async function hasIdentity(): Promise<boolean> {
  return (await (await keyStore()).count('keys', 'device')) > 0;
}
