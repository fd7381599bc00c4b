/**
 * Why a WebSocket handshake failed, as far as the runtime lets us know, and how long to wait
 * before the next one.
 *
 * - `ws` (Node) fails with "Unexpected server response: 401": the HTTP status is known, so a
 *   refused token is UNAUTHORIZED (401) or FORBIDDEN (403).
 * - Browsers (and Node's built-in WebSocket) tell nothing: an error event, then close code 1006.
 *   The one honest signal left is the token itself: a JWT whose `exp` has passed by this
 *   device's clock is why a handshake fails often enough to say so (UNAUTHORIZED, "expired").
 *   The token is decoded, never verified, and only to explain a failure: a connection is never
 *   skipped on the client's clock alone.
 * A refused token will be refused again, so auth failures wait the longest delay (with jitter)
 * rather than climb the backoff; so do opaque failures once they repeat, since the client
 * cannot tell a refused token from a server that is down.
 */
import { RealtimeError } from './errors.js';

/** Opaque handshake failures in a row after which the client waits its longest delay. */
export const OPAQUE_FAILURES_BEFORE_MAX_DELAY = 3;

export interface HandshakeFailure {
  /** What the socket's error event said (`ws` explains; browsers don't). */
  detail?: string;
  closeCode: number;
  closeReason?: string;
  token?: string;
  /** Failed handshakes in a row, this one included. */
  consecutive: number;
  now: number;
}

export interface HandshakeVerdict {
  error: RealtimeError;
  /** `max`: wait the longest reconnect delay; `normal`: the usual backoff. */
  delay: 'normal' | 'max';
}

const STATUS = /Unexpected server response: (\d{3})/;

export function judgeHandshakeFailure(url: string, f: HandshakeFailure): HandshakeVerdict {
  const status = Number(f.detail?.match(STATUS)?.[1]) || undefined;
  const exp = f.token ? tokenExpiry(f.token) : undefined;
  const expired = exp !== undefined && exp * 1000 <= f.now ? ` (the token expired at ${new Date(exp * 1000).toISOString()})` : '';
  const where = `cannot connect to ${url}`;
  if (status === 401) {
    const why = f.token ? `the server refused the token${expired}` : 'the server requires a token and none was given';
    return { error: new RealtimeError('UNAUTHORIZED', `${where}: 401 Unauthorized: ${why}`), delay: 'max' };
  }
  if (status === 403) {
    return { error: new RealtimeError('FORBIDDEN', `${where}: 403 Forbidden: the server denied this token the connection${expired}`), delay: 'max' };
  }
  if (f.detail !== undefined) return { error: new RealtimeError('CONNECTION_FAILED', `${where}: ${f.detail}`), delay: 'normal' };
  // Opaque: a browser's 1006 (or Node's built-in WebSocket).
  const closed = `closed with ${f.closeCode}${f.closeReason ? ` ${f.closeReason}` : ''}`;
  if (expired) {
    return { error: new RealtimeError('UNAUTHORIZED', `${where}: ${closed}; likely refused: the token expired at ${new Date(exp! * 1000).toISOString()} by this device's clock`), delay: 'max' };
  }
  if (f.consecutive >= OPAQUE_FAILURES_BEFORE_MAX_DELAY) {
    const hint = `${f.consecutive} handshakes failed in a row; the runtime does not say why (the server may be down, or refusing the token: 401/403)`;
    return { error: new RealtimeError('CONNECTION_FAILED', `${where}: ${closed}; ${hint}`), delay: 'max' };
  }
  return { error: new RealtimeError('CONNECTION_FAILED', `${where}: ${closed}`), delay: 'normal' };
}

/** The `exp` claim (seconds) of a JWT, read without verifying it; undefined when there is none. */
export function tokenExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const payload = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))) as { exp?: unknown };
    return typeof payload?.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}
