import { FreeholdError } from '@freehold/core';

/** How long a provider's HTTP answer may take. */
export const HTTP_TIMEOUT_MS = 10_000;

/**
 * fetch, settled within `ms` either way. The timer also keeps a command's process alive while it waits: a request
 * whose connection the far side drops as it opens (a provider's process gone behind a live proxy) can stay
 * pending with nothing left for Node to wait on, and the process would end without a word.
 */
export async function boundedFetch(url: string, init: RequestInit = {}, ms = HTTP_TIMEOUT_MS): Promise<Response> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new FreeholdError('unavailable', `${new URL(url).host} did not answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([fetch(url, { ...init, signal: abort.signal }), late]);
  } finally {
    clearTimeout(timer);
  }
}
