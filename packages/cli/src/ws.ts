import WebSocket from 'ws';
import type { WebSocketFactory } from '@freehold/client';

/** Node's WebSocket for the client link (browsers pass their own). */
export const WS = WebSocket as unknown as WebSocketFactory;
