import { FreeholdError, type Device } from '@freehold/core';

/**
 * A provider the account's newest identity log no longer lists: the account moved away from it. The log (which
 * the provider sent, and which verified) names where it lives now.
 */
export class MovedError extends FreeholdError {
  constructor(
    readonly url: string,
    readonly providers: string[],
  ) {
    super('moved', `${new URL(url).host} no longer hosts this account; it lives at ${providers.map((p) => new URL(p).host).join(', ') || 'no provider'} now`);
  }
}

/** Whether the device's account still lives at `url` by its newest log; a MovedError to throw if not. */
export function movedFrom(device: Device, url: string): MovedError | undefined {
  const providers = device.identity().providers;
  return providers.includes(url) ? undefined : new MovedError(url, providers);
}
