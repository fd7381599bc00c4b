/** The realtime pub/sub client SDK, for browsers and Node. */
export { RealtimeClient, CLIENT_DEFAULTS, connectionTarget } from './client.js';
export type { ConnectionState, MessageHandler, PublishOptions, RealtimeClientEvents, RealtimeClientOptions, SubscribeOptions, TokenSource } from './client.js';
export { PresenceRoom } from './presence.js';
export type { PresenceRoomEvents } from './presence.js';
export { RealtimeError, CLIENT_ERROR_CODES } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type { Gap, GapReason } from './stream.js';
export type { DeliveredMessage, PresenceEvent, PresenceMember, PresenceState, SincePosition, StreamPosition } from './frames.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export { ERROR_CODES } from '../protocol/error-codes.js';
export type { ErrorCode } from '../protocol/error-codes.js';
