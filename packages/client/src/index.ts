export { ProviderLink, syncUrl, type WebSocketFactory, type WebSocketLike } from './link.js';
export { ReconnectingLink } from './reconnecting-link.js';
export {
  CLIENT_BACKOFF,
  type Backoff,
  type LinkEvent,
  type LinkOptions,
  type LinkStatus,
  type PushReport,
  type Refusal,
  type SyncReport,
} from './link-options.js';
export { answered, Providers, type Outcome, type ProviderStatus } from './providers.js';
export { claimHandle, fetchCard, findLog, handleUrl, hostOf, inboxSettings, outbox, refreshLog, register, resolveHandle, type FoundLog, type OutboxItem } from './http.js';
export { CODE_LENGTH, linkFingerprint, newPairingCode, offerLink, parsePairingCode, requestLink, type LinkOffer, type LinkRequest, type PendingLink } from './pairing.js';
export { providerInfo, type ProviderInfo } from './provider-info.js';
