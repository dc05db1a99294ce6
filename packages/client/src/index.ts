export { ProviderLink, syncUrl, type WebSocketFactory, type WebSocketLike } from './link.js';
export { claimHandle, fetchCard, handleUrl, hostOf, register, resolveHandle } from './http.js';
export { awaitLinkRequest, newPairingCode, requestLink, type LinkRequest } from './pairing.js';
