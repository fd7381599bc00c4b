/**
 * Mints HS256 development tokens for the local mode (`npm start -- --auth-secret …`) and tests;
 * the CLI's `realtime token` calls mintToken. The claims are the ones the authorizer reads:
 * `sub` (the principal), `topics` (allowed patterns), `exp`, and optionally `iss` / `aud`,
 * `publish` (patterns the principal may publish to from its socket) and `presence` (its member
 * data in presence topics).
 */
import { SignJWT } from 'jose';
import { PRESENCE_CLAIM, PUBLISH_CLAIM, TOPICS_CLAIM } from '../protocol/auth';
import { presenceDataFromClaim, principalFromClaim, topicPatternsFromClaim } from '../functions/lib/auth/claims';

/** Default lifetime of a development token. */
export const DEFAULT_TOKEN_TTL = '1h';

export interface MintTokenOptions {
  /** The HS256 secret: the same value as the local mode's --auth-secret or the stored secret. */
  secret: string;
  sub: string;
  /** Allowed topic patterns, e.g. ['orders/*', 'users/{sub}/inbox']. */
  topics: readonly string[];
  /** Topic patterns the principal may publish to from its socket (client publish); none by default. */
  publish?: readonly string[];
  /** Member data shown in presence topics (any JSON, at most 1 KB). */
  presence?: unknown;
  issuer?: string;
  /** One audience, or several. */
  audience?: string | string[];
  /** Seconds, or a jose time span such as '15m', '2h', '7d'. Default 1h. */
  expiresIn?: number | string;
}

/** A signed compact JWT. Bad input (empty secret or sub, malformed patterns) throws a clear error. */
export async function mintToken(options: MintTokenOptions): Promise<string> {
  if (!options.secret) throw new Error('mintToken: a non-empty secret is required');
  // The same checks the authorizer applies, so a minted token is never refused for its claims.
  const sub = principalFromClaim(options.sub);
  const topics = topicPatternsFromClaim([...options.topics]);
  const publish = topicPatternsFromClaim([...(options.publish ?? [])], PUBLISH_CLAIM);
  if (options.presence !== undefined) presenceDataFromClaim(options.presence);
  const expiresIn = options.expiresIn ?? DEFAULT_TOKEN_TTL;
  if (typeof expiresIn === 'number' && !(Number.isFinite(expiresIn) && expiresIn > 0)) {
    throw new Error('mintToken: expiresIn must be a positive number of seconds');
  }
  const claims: Record<string, unknown> = { [TOPICS_CLAIM]: topics };
  if (publish.length > 0) claims[PUBLISH_CLAIM] = publish;
  if (options.presence !== undefined) claims[PRESENCE_CLAIM] = options.presence;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt();
  try {
    jwt = jwt.setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn);
  } catch {
    throw new Error(`mintToken: expiresIn ${JSON.stringify(expiresIn)} is not a time span like 900, '15m', '2h' or '7d'`);
  }
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
