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
  /** JSON array of the topic patterns the principal may publish to from its socket (absent: none). */
  publish: 'publish',
  /** The member data shown to a presence topic's subscribers, as JSON (absent: none). */
  presence: 'presence',
} as const;

/** The JWT claim that lists the topic patterns a principal may use. */
export const TOPICS_CLAIM = 'topics';
/** The JWT claim that lists the topic patterns a principal may publish to (client publish); same syntax as `topics`. */
export const PUBLISH_CLAIM = 'publish';
/** The JWT claim whose value (any JSON, at most MAX_PRESENCE_DATA_BYTES serialised) is the member's data in presence topics. */
export const PRESENCE_CLAIM = 'presence';
/** Largest `presence` claim, serialised as JSON, in UTF-8 bytes. */
export const MAX_PRESENCE_DATA_BYTES = 1024;

/**
 * Longest accepted pattern: a topic name's default length cap (`{sub}` expansions may make the
 * topic longer or shorter).
 */
export const MAX_PATTERN_LENGTH = 256;

/** Topic characters, as protocol/limits.ts's TOPIC_PATTERN (kept here so this module stays import-free for the client). */
const TOPIC_CHARACTERS = /^[A-Za-z0-9_.:/-]+$/;

/**
 * Why `pattern` is not a valid topic pattern, or undefined when it is. A pattern is `/`-separated
 * segments; each is `*` (exactly one non-empty segment) or topic characters with optional `{sub}`
 * placeholders. `*` inside a segment (`orders*`) is refused: it would silently never match.
 * The claims (`topics`, `publish`) and the `presenceTopics` setting share this syntax.
 */
export function topicPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'patterns are strings';
  if (pattern.length === 0) return 'patterns are not empty';
  if (pattern.length > MAX_PATTERN_LENGTH) return `patterns are at most ${MAX_PATTERN_LENGTH} characters`;
  if (pattern.startsWith('$')) return 'patterns never start with $';
  for (const segment of pattern.split('/')) {
    if (segment === '*') continue;
    const literal = segment.split('{sub}').join('');
    if (literal !== '' && !TOPIC_CHARACTERS.test(literal)) {
      return `segment "${segment}" must be "*" or use only A-Z a-z 0-9 _ . : - and {sub}`;
    }
  }
  return undefined;
}

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
