import { asArray, asRecord, asString, fromId, reject, type RejectReason } from '@freehold/core';
import { boundedFetch } from './bounded-fetch.js';

/** A provider as its well-known document describes it. */
export interface ProviderInfo {
  /** Its canonical base URL: what identity logs list, and the name signed requests are bound to. */
  url: string;
  host: string;
  /** Its Ed25519 public key. */
  key: Uint8Array;
  protocols: string[];
}

const known = new Map<string, Promise<ProviderInfo>>();

async function load(base: string): Promise<ProviderInfo> {
  const fail = (reason: RejectReason, why: string): never => reject(reason, `${new URL(base).host}: ${why}`);
  const res = await boundedFetch(`${base}/.well-known/freehold/provider`).catch(() =>
    reject('unavailable', `cannot reach a Freehold provider at ${base} (is it running?)`),
  );
  if (!res.ok) fail(res.status === 404 ? 'not-found' : 'unavailable', `answered ${res.status} for its provider document (is it a Freehold provider?)`);
  const doc = asRecord(await res.json().catch(() => fail('malformed', 'sent a provider document that is not JSON')), 'provider document');
  const url = asString(doc.url, 'provider document url', 512);
  if (!/^https?:\/\/[^/]+$/.test(url)) fail('malformed', `names ${url.slice(0, 80)} as its URL`);
  const host = new URL(url).host;
  if (asString(doc.host, 'provider document host', 256) !== host) fail('malformed', 'sent a provider document whose host and URL disagree');
  return {
    url,
    host,
    key: fromId(asString(doc.key, 'provider document key', 64), 'provider key'),
    protocols: asArray(doc.protocols, 'provider document protocols', 16).map((p, i) => asString(p, `protocols[${i}]`, 64)),
  };
}

/**
 * What the provider reached at `base` says it is, fetched once per base URL. A provider may be reached under
 * several names (localhost and 127.0.0.1, say); clients sign for, and list in identity logs, the canonical one.
 * `fresh` fetches it again (a provider that lost its data comes back with a new key).
 */
export function providerInfo(base: string, opts: { fresh?: boolean } = {}): Promise<ProviderInfo> {
  const key = base.replace(/\/$/, '');
  let info = opts.fresh ? undefined : known.get(key);
  if (!info) {
    known.set(key, (info = load(key)));
    info.catch(() => known.get(key) === info && known.delete(key));
  }
  return info;
}
