export { ProviderLink, syncUrl, type WebSocketFactory, type WebSocketLike } from './link.js';
export { claimHandle, fetchCard, handleUrl, hostOf, inboxSettings, refreshLog, register, resolveHandle } from './http.js';
export { CODE_LENGTH, linkFingerprint, newPairingCode, offerLink, parsePairingCode, requestLink, type LinkOffer, type LinkRequest, type PendingLink } from './pairing.js';
export { providerInfo, type ProviderInfo } from './provider-info.js';
