/**
 * The claims the authorizer turns into a principal, its allowed topic patterns and its presence data.
 *
 * `topics` (subscribe) and `publish` (client publish) are each a JSON array of patterns
 * (`["orders/*", "users/{sub}/inbox"]`), or one string of space-separated patterns
 * (`"orders/* users/{sub}/inbox"`) for issuers that only emit string claims, such as Cognito's
 * pre-token-generation trigger v1. Topic names never contain spaces, so the two forms cannot be
 * confused. A token WITHOUT `topics` may subscribe to nothing, and without `publish` may publish
 * to nothing: the safe default, since a missing claim usually means the issuer was not set up for
 * this service. `presence` is any JSON value of at most 1 KB, nested at most 128 levels: what
 * other members of a presence topic see about this principal.
 */
import { MAX_PATTERN_LENGTH, MAX_PRESENCE_DATA_BYTES, PRESENCE_CLAIM, topicPatternProblem, TOPICS_CLAIM } from '../../../protocol/auth';
import { MAX_DATA_DEPTH } from '../../../protocol/envelope';
import { nestsDeeperThan } from '../untrusted';

export { MAX_PATTERN_LENGTH, topicPatternProblem };

/**
 * Longest accepted `sub`, in UTF-16 code units (JavaScript's length); it is stored on every
 * connection item and logged. A presence member's sort key is `member:<sub>`, and DynamoDB refuses
 * sort keys over 1024 bytes: a code unit is at most 3 bytes in UTF-8 (a pair of them, 4), so
 * 256 keep the key under 7 + 768 bytes (test/functions/presence.test.ts checks it on dynalite).
 */
export const MAX_PRINCIPAL_LENGTH = 256;
/**
 * Most patterns one claim may carry. The patterns travel in the authorizer's result, which API
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

/** Parses a claim of topic patterns (`topics` by default, or `publish`) into a list; throws ClaimError when it is malformed. */
export function topicPatternsFromClaim(claim: unknown, name: string = TOPICS_CLAIM): string[] {
  if (claim === undefined || claim === null) return [];
  const patterns = typeof claim === 'string' ? claim.split(' ').filter((p) => p !== '') : claim;
  if (!Array.isArray(patterns)) {
    throw new ClaimError(`the "${name}" claim must be an array of topic patterns or a space-separated string`);
  }
  if (patterns.length > MAX_PATTERNS) {
    throw new ClaimError(`the "${name}" claim has ${patterns.length} patterns; at most ${MAX_PATTERNS} are allowed`);
  }
  for (const pattern of patterns) {
    const problem = topicPatternProblem(pattern);
    if (problem) throw new ClaimError(`bad pattern ${JSON.stringify(pattern)} in the "${name}" claim: ${problem}`);
  }
  return [...new Set(patterns as string[])];
}

/**
 * The `presence` claim as the JSON text members are shown, or undefined without the claim;
 * throws ClaimError over 1 KB, or nested deeper than a message's data may be (the publish
 * function would drop every join and leave carrying it).
 */
export function presenceDataFromClaim(claim: unknown): string | undefined {
  if (claim === undefined || claim === null) return undefined;
  if (nestsDeeperThan(claim, MAX_DATA_DEPTH)) {
    throw new ClaimError(`the "${PRESENCE_CLAIM}" claim nests arrays and objects deeper than ${MAX_DATA_DEPTH} levels`);
  }
  const text = JSON.stringify(claim);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PRESENCE_DATA_BYTES) {
    throw new ClaimError(`the "${PRESENCE_CLAIM}" claim is ${bytes} bytes as JSON; at most ${MAX_PRESENCE_DATA_BYTES} are allowed`);
  }
  return text;
}

/** The principal: the token's `sub`, a non-empty string of bounded length. */
export function principalFromClaim(sub: unknown): string {
  if (typeof sub !== 'string' || sub.length === 0) throw new ClaimError('the "sub" claim must be a non-empty string');
  if (sub.length > MAX_PRINCIPAL_LENGTH) throw new ClaimError(`the "sub" claim is longer than ${MAX_PRINCIPAL_LENGTH} characters`);
  return sub;
}
