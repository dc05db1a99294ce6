import { declareMirrors, moveAccount, providerInfo, providerStates, providerUrl, register, type MoveProgress, type MoveReport, type ProviderState } from '@freehold/client';
import { WS, type Session } from './session.js';

/** What each provider of the account holds of it now (as `freehold provider list` says it). */
export function statesOf(session: Session): Promise<ProviderState[]> {
  return providerStates(session.device.identity());
}

/**
 * Registers the account with another provider, lists it in the identity log, asks it to mirror what the account
 * follows, and syncs with it (as `freehold provider add`).
 */
export async function addProvider(session: Session, typed: string): Promise<string> {
  const { url } = await providerInfo(providerUrl(typed));
  const device = session.device;
  await session.locked(async () => {
    const providers = device.identity().providers;
    if (!providers.includes(url)) await device.setProviders([...providers, url]);
    try {
      await register(url, device);
    } catch (e) {
      // Refused: the log is put back, so it names only providers that hold the account.
      if (!providers.includes(url)) await device.setProviders(device.identity().providers.filter((u) => u !== url));
      throw e;
    }
  });
  await declareMirrors(device, [url], await session.mb.mirrors(), WS);
  await session.relink();
  await session.pushPull([]);
  return url;
}

/**
 * Moves the account from one provider to another with the client library's move (the same steps as
 * `freehold provider move`), holding this browser's write lock so no other tab extends the log meanwhile.
 */
export async function moveProvider(
  session: Session,
  from: string,
  typed: string,
  progress: (p: MoveProgress) => void,
  say: (text: string) => void,
): Promise<MoveReport> {
  const mb = session.mb;
  const report = await session.locked(() =>
    moveAccount(session.device, from, providerUrl(typed), {
      WebSocket: WS,
      mirrors: () => mb.mirrors(),
      handleMoved: async (old, next) => {
        if ((await mb.profile())?.handle === old) await mb.setProfile({ handle: next });
      },
      say,
      warn: (text) => console.warn(`freehold: ${text}`),
      progress,
    }),
  );
  await session.relink();
  return report;
}
