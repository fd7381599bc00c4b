/**
 * Mints HS256 development tokens for the local mode (`npm start -- --auth-secret …`) and tests;
 * the CLI's `realtime token` calls mintToken. The claims are the ones the authorizer reads:
 * `sub` (the principal), `topics` (allowed patterns), `exp`, and optionally `iss` / `aud`.
 */
import { SignJWT } from 'jose';
import { TOPICS_CLAIM } from '../protocol/auth';
import { principalFromClaim, topicPatternsFromClaim } from '../functions/lib/auth/claims';

/** Default lifetime of a development token. */
export const DEFAULT_TOKEN_TTL = '1h';

export interface MintTokenOptions {
  /** The HS256 secret: the same value as the local mode's --auth-secret or the stored secret. */
  secret: string;
  sub: string;
  /** Allowed topic patterns, e.g. ['orders/*', 'users/{sub}/inbox']. */
  topics: readonly string[];
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
  const expiresIn = options.expiresIn ?? DEFAULT_TOKEN_TTL;
  if (typeof expiresIn === 'number' && !(Number.isFinite(expiresIn) && expiresIn > 0)) {
    throw new Error('mintToken: expiresIn must be a positive number of seconds');
  }
  let jwt = new SignJWT({ [TOPICS_CLAIM]: topics })
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
