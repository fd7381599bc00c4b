/**
 * The claims the authorizer turns into a principal and its allowed topic patterns.
 *
 * `topics` is a JSON array of patterns (`["orders/*", "users/{sub}/inbox"]`), or one string of
 * space-separated patterns (`"orders/* users/{sub}/inbox"`) for issuers that only emit string
 * claims, such as Cognito's pre-token-generation trigger v1. Topic names never contain spaces, so
 * the two forms cannot be confused. A token WITHOUT the claim may subscribe to nothing: the safe
 * default, since a missing claim usually means the issuer was not set up for this service.
 */
import { TOPIC_PATTERN } from '../../../protocol/limits';
import { TOPICS_CLAIM } from '../../../protocol/auth';

/** Longest accepted `sub`; it is stored on every connection item and logged. */
export const MAX_PRINCIPAL_LENGTH = 256;
/**
 * Longest accepted pattern: a topic name's default length cap (`{sub}` expansions may make the
 * topic longer or shorter).
 */
export const MAX_PATTERN_LENGTH = 256;
/**
 * Most patterns one token may carry. The patterns travel in the authorizer's result, which API
 * Gateway caps at 8 KB (protocol/authorizer-limits.ts); the authorizer also measures the result
 * and denies one that would not fit, since long patterns or a long `sub` can overflow it first.
 */
export const MAX_PATTERNS = 50;

/** A claim is present but unusable: the token is authentic yet grants nothing (answered 403). */
export class ClaimError extends Error {
  /** The token's `sub` when it is a usable string, for the Deny policy and the logs. */
  principalId?: string;
  constructor(message: string) {
    super(message);
    this.name = 'ClaimError';
  }
}

/**
 * Why `pattern` is not a valid topic pattern, or undefined when it is. A pattern is `/`-separated
 * segments; each is `*` (exactly one non-empty segment) or topic characters with optional `{sub}`
 * placeholders. `*` inside a segment (`orders*`) is refused: it would silently never match.
 */
export function topicPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'patterns are strings';
  if (pattern.length === 0) return 'patterns are not empty';
  if (pattern.length > MAX_PATTERN_LENGTH) return `patterns are at most ${MAX_PATTERN_LENGTH} characters`;
  if (pattern.startsWith('$')) return 'patterns never start with $';
  for (const segment of pattern.split('/')) {
    if (segment === '*') continue;
    const literal = segment.split('{sub}').join('');
    if (literal !== '' && !TOPIC_PATTERN.test(literal)) {
      return `segment "${segment}" must be "*" or use only A-Z a-z 0-9 _ . : - and {sub}`;
    }
  }
  return undefined;
}

/** Parses the `topics` claim into a list of patterns; throws ClaimError when it is malformed. */
export function topicPatternsFromClaim(claim: unknown): string[] {
  if (claim === undefined || claim === null) return [];
  const patterns = typeof claim === 'string' ? claim.split(' ').filter((p) => p !== '') : claim;
  if (!Array.isArray(patterns)) {
    throw new ClaimError(`the "${TOPICS_CLAIM}" claim must be an array of topic patterns or a space-separated string`);
  }
  if (patterns.length > MAX_PATTERNS) {
    throw new ClaimError(`the "${TOPICS_CLAIM}" claim has ${patterns.length} patterns; at most ${MAX_PATTERNS} are allowed`);
  }
  for (const pattern of patterns) {
    const problem = topicPatternProblem(pattern);
    if (problem) throw new ClaimError(`bad pattern ${JSON.stringify(pattern)} in the "${TOPICS_CLAIM}" claim: ${problem}`);
  }
  return [...new Set(patterns as string[])];
}

/** The principal: the token's `sub`, a non-empty string of bounded length. */
export function principalFromClaim(sub: unknown): string {
  if (typeof sub !== 'string' || sub.length === 0) throw new ClaimError('the "sub" claim must be a non-empty string');
  if (sub.length > MAX_PRINCIPAL_LENGTH) throw new ClaimError(`the "sub" claim is longer than ${MAX_PRINCIPAL_LENGTH} characters`);
  return sub;
}
