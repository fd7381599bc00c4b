/**
 * What a failed PostToConnection means for the fan-out. Errors are told apart by `name` (the
 * management client, like the SDK v3 before it, names them from the `x-amzn-ErrorType` header),
 * never by HTTP status code alone.
 */

export type PostErrorKind =
  /** 410: the connection is gone; delete its rows, not a failure of the message. */
  | 'gone'
  /** 429 LimitExceeded: back off and retry. */
  | 'throttled'
  /** 5xx, timeouts, network errors: back off and retry. */
  | 'transient'
  /** 413: the frame itself is too large; retrying cannot help. */
  | 'tooLarge'
  /** 403 and anything unrecognised: not retried here, counted failed. */
  | 'permanent';

const THROTTLING_NAMES = new Set(['LimitExceededException', 'ThrottlingException', 'TooManyRequestsException']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

interface SdkErrorLike {
  name?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export function classifyPostError(error: unknown): PostErrorKind {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorLike;
  const name = typeof e.name === 'string' ? e.name : '';
  if (name === 'GoneException') return 'gone';
  if (THROTTLING_NAMES.has(name)) return 'throttled';
  if (name === 'PayloadTooLargeException') return 'tooLarge';
  if (name === 'ForbiddenException') return 'permanent';
  if (TIMEOUT_NAMES.has(name)) return 'transient';
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return 'transient';
  // A service-side fault: any 5xx, whatever the SDK named it.
  if (e.$fault === 'server' || (e.$metadata?.httpStatusCode ?? 0) >= 500) return 'transient';
  return 'permanent';
}

export function isRetryable(kind: PostErrorKind): boolean {
  return kind === 'throttled' || kind === 'transient';
}
