import { beginRecovery, createAccount, Device, requireCurrentPhrase } from '@freehold/core';
import { secretToPhrase, phraseToSecret } from '@freehold/core/words';
import { IndexedDbStore } from '@freehold/stores/indexeddb';
import { claimHandle, findLog, providerInfo, register } from '@freehold/client';
import { requestLink as offerKeys, type PendingLink } from '@freehold/client/pairing';
import { saveIdentity, type StoredIdentity } from './keys.js';
import { Session, STORE } from './session.js';
import { PROVIDER } from './site.js';

/** Step 1 of sign-up: keys and the phrase, nothing stored until the user has confirmed the phrase. */
export function draft(name: string): { phrase: string; finish(handle: string): Promise<Session> } {
  const acct = createAccount(`${name}'s browser`, Date.now());
  return {
    phrase: secretToPhrase(acct.recoverySecret),
    async finish(handle: string) {
      const store = await IndexedDbStore.open(STORE);
      const device = await Device.open(store, acct.device, acct.state.account);
      await device.replica.commitIdentity(acct.state);
      // The log names the provider by its canonical URL, whichever of its names this page was opened at.
      const home = await providerInfo(PROVIDER);
      await device.setProviders([home.url]);
      await register(PROVIDER, device);
      const full = `${handle}@${home.host}`;
      await device.setHandles([full]);
      await claimHandle(PROVIDER, device, handle).catch(async (e) => {
        await device.setHandles([]);
        throw e;
      });
      const id: StoredIdentity = { account: acct.state.account, keys: acct.device, name };
      await saveIdentity(id);
      await store.close();
      const s = await Session.start(id);
      await s.write(async (mb) => {
        await mb.ensure();
        await mb.setProfile({ name, handle: full });
      });
      return s;
    },
  };
}

/** The host handles are made at: this provider's canonical one, whichever of its names this page was opened at. */
export async function homeHost(): Promise<string> {
  return (await providerInfo(PROVIDER)).host;
}

/** Refuses a handle that is already someone's at this page's provider (asked before the phrase is shown). */
export async function handleFree(name: string, host: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${PROVIDER}/.well-known/freehold/handles/${encodeURIComponent(name)}`);
  } catch {
    throw new Error(`Cannot reach ${host} to check the handle; try again when it is back.`);
  }
  if (res.ok) throw new Error(`${name}@${host} is taken. Choose another handle.`);
  if (res.status !== 404) throw new Error(`${host} could not check the handle (it answered ${res.status}); try again.`);
}

/** Recovery: the phrase names the account and vouches for this browser as a new device of it. */
export async function recover(phrase: string): Promise<Session> {
  // Named as a linked device is: what the other devices' lists show, until the person names it otherwise.
  const name = `${navigator.platform || 'browser'} (recovered)`;
  const pending = beginRecovery(phraseToSecret(phrase), name);
  // Nothing is kept until a provider knows the account: a mistyped phrase that still checks out names another.
  const found = await findLog(pending.account, [PROVIDER]);
  if (!found.state) {
    throw new Error(
      found.answered.length
        ? 'No provider knows the account this phrase names. Check the words and their order.'
        : `Cannot reach ${location.host} to look the account up; try again when it is back.`,
    );
  }
  requireCurrentPhrase(found.state, pending);
  const id: StoredIdentity = { account: pending.account, keys: pending.device, name, recovery: pending };
  await saveIdentity(id);
  return Session.start(id);
}

/** On the new device: offers keys under the code shown on the other device; shows the fingerprint next. */
export function requestLink(code: string): Promise<PendingLink> {
  return offerKeys(PROVIDER, code, `${navigator.platform || 'browser'} (linked)`);
}

/** Once the other device has added this one: this browser joins that account. */
export async function joinLinked(link: PendingLink, signal: AbortSignal): Promise<Session> {
  await link.accepted(signal);
  const id: StoredIdentity = { account: link.account, keys: link.keys, name: 'linked' };
  await saveIdentity(id);
  return Session.start(id);
}
