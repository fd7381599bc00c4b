/** The realtime pub/sub client SDK, for browsers and Node. */
export { RealtimeClient, CLIENT_DEFAULTS, connectionTarget } from './client';
export type { ConnectionState, MessageHandler, RealtimeClientEvents, RealtimeClientOptions, TokenSource } from './client';
export { RealtimeError, CLIENT_ERROR_CODES } from './errors';
export type { ClientErrorCode } from './errors';
export type { WebSocketConstructor, WebSocketLike } from './websocket';
export { ERROR_CODES } from '../protocol/messages';
export type { DeliveredMessage, ErrorCode } from '../protocol/messages';
