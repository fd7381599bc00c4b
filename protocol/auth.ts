/**
 * Authentication contracts shared by the authorizer, the connect and subscribe handlers, the
 * local gateway and the client SDK.
 *
 * Browsers cannot set headers on a WebSocket, so a token travels either as the `token` query
 * parameter or as a subprotocol: the client offers `Sec-WebSocket-Protocol: realtime, bearer.<jwt>`;
 * the authorizer reads the `bearer.` entry, and the connect handler echoes `realtime` back
 * (a browser drops a connection whose offered subprotocol is not echoed).
 */

export const TOKEN_QUERY_PARAMETER = 'token';
export const SUBPROTOCOL = 'realtime';
export const TOKEN_SUBPROTOCOL_PREFIX = 'bearer.';

/** Keys of the authorizer's context map (values must be strings: API Gateway's rule). */
export const AUTH_CONTEXT = {
  /** The token's `sub`. */
  principal: 'principal',
  /** JSON array of the topic patterns the principal may subscribe to. */
  topics: 'topics',
} as const;

/** The JWT claim that lists the topic patterns a principal may use. */
export const TOPICS_CLAIM = 'topics';

/**
 * Does `pattern` allow `topic`? Segments are separated by `/`; `*` matches exactly one
 * non-empty segment; `{sub}` expands to the principal. `orders/*` allows `orders/42`, not
 * `orders/42/items` nor `orders`.
 */
export function topicMatches(pattern: string, topic: string, principal?: string): boolean {
  const want = pattern.split('/');
  const have = topic.split('/');
  if (want.length !== have.length) return false;
  return want.every((segment, i) => {
    if (segment === '*') return have[i] !== '';
    if (segment.includes('{sub}')) {
      // No principal (or an empty one) can never stand in for {sub}: `users//inbox` is no one's inbox.
      if (!principal) return false;
      return segment.split('{sub}').join(principal) === have[i];
    }
    return segment === have[i];
  });
}

/** Allowed when no patterns are set (auth off), else when any pattern matches. */
export function topicAllowed(patterns: readonly string[] | undefined, topic: string, principal?: string): boolean {
  if (patterns === undefined) return true;
  return patterns.some((p) => topicMatches(p, topic, principal));
}
