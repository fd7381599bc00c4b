import type { ErrorCode } from '../protocol/error-codes.js';
import type { ErrorReply } from './frames.js';

/** Codes the client raises itself; the server never sends these. */
export const CLIENT_ERROR_CODES = [
  'CONNECTION_FAILED', // the socket could not be opened (refused, $connect rejected, bad URL) or was lost
  'UNAUTHORIZED', // the handshake was refused with 401: no token, or one that is not valid (e.g. expired)
  'CLOSED', // close() was called before the request finished
  'CANCELLED', // unsubscribe() was called before the subscription was confirmed
  'NOT_PRESENCE', // presence() on a topic the server keeps no members of (not in the stack's presenceTopics)
  'TIMEOUT', // no reply within requestTimeoutMs
  'PROTOCOL', // the server sent a frame the protocol does not know
  'HANDLER', // one of your handlers threw; `cause` holds what it threw
] as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

/** Every error the client raises or emits: a server error code (ERROR_CODES) or a client one. */
export class RealtimeError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  /** The topics the error is about (from the server's reply, or the request's topics). */
  readonly topics: string[];

  constructor(code: ErrorCode | ClientErrorCode, message: string, topics: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RealtimeError';
    this.code = code;
    this.topics = [...topics];
  }

  static fromReply(reply: ErrorReply): RealtimeError {
    return new RealtimeError(reply.code, reply.message, reply.topics ?? []);
  }
}
