export { ConnectionClosed, ProviderLink, RECONNECT_CLOSE, syncUrl, type WebSocketFactory, type WebSocketLike } from './link.js';
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
export {
  claimHandle,
  fetchCard,
  findLog,
  entryCounts,
  fingerprints,
  followLog,
  handleUrl,
  hostOf,
  inboxSettings,
  outbox,
  refreshLog,
  register,
  registrationTerms,
  resolveHandle,
  type Delivery,
  type FoundLog,
  type OutboxItem,
  type SpaceFingerprint,
} from './http.js';
export { Deliveries, type DeliveryOptions, type DeliveryState, type SentPlace } from './deliveries.js';
export { providerInfo, type ProviderInfo } from './provider-info.js';
export { MovedError } from './moved.js';
export { accountBytes, compareHoldings, localFingerprints, type Held, type SpaceCheck } from './holdings.js';
export { declareMirrors, LinkGroup, movedLine, why, type LinkGroupOptions } from './link-group.js';
export { MOVE_STEPS, moveAccount, type MoveOptions, type MoveProgress, type MoveReport, type MoveStep } from './move.js';
export { othersServe, probeProvider, providerStates, providerUrl, type ProviderState } from './provider-state.js';
export { deleteAccount, type ProviderDeletion } from './delete-account.js';
