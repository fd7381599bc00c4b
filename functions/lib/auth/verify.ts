/**
 * Verifies a JWT with jose and turns its claims into a principal and its topic patterns.
 *
 * Outcomes, mirroring what API Gateway does with an authorizer's answer:
 *  - TokenRejected (→ 401): no usable token; the client should get a new one (bad signature,
 *    expired, not yet valid, wrong iss/aud, wrong algorithm, unknown key, unreadable).
 *  - ClaimError (→ 403): the token is authentic but its claims are unusable (malformed `topics`,
 *    empty `sub`); a fresh token from the same issuer would not help.
 *  - anything else (→ 500): our side failed (secret unreadable, JWKS unreachable); retry later.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from './config';
import { ClaimError, MAX_PRINCIPAL_LENGTH, presenceDataFromClaim, principalFromClaim, topicPatternsFromClaim } from './claims';
import { loadOnce, secretsManagerSecretReader, ssmSecretReader, type Env } from './secret';
import { PRESENCE_CLAIM, PUBLISH_CLAIM, TOPICS_CLAIM } from '../../../protocol/auth';

/** Clock skew tolerated on exp and nbf, in seconds. */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** Tokens longer than this are refused before any parsing (a cheap guard against junk). */
export const MAX_TOKEN_LENGTH = 8192;
/** Only these algorithms per key kind: a JWKS never accepts HS256 (no public-key-as-HMAC tricks). */
export const SECRET_ALGORITHMS = ['HS256'];
export const JWKS_ALGORITHMS = ['RS256', 'ES256'];
/** A JWKS fetch gives up after this long (the whole $connect must finish well inside 29 s). */
const JWKS_TIMEOUT_MS = 3000;

export interface VerifiedPrincipal {
  principal: string;
  topics: string[];
  /** Patterns of the `publish` claim (client publish); absent without the claim. */
  publish?: string[];
  /** The `presence` claim as JSON text; absent without it. */
  presence?: string;
}

export class TokenRejected extends Error {
  constructor(
    /** jose's error code, or our own reason; safe to log (never contains the token). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejected';
  }
}

/** jose errors that mean "this token is no good" rather than "we could not check it". */
const TOKEN_ERROR_CODES = new Set([
  joseErrors.JWTExpired.code,
  joseErrors.JWTClaimValidationFailed.code,
  joseErrors.JWTInvalid.code,
  joseErrors.JWSInvalid.code,
  joseErrors.JWSSignatureVerificationFailed.code,
  joseErrors.JOSEAlgNotAllowed.code,
  joseErrors.JOSENotSupported.code,
  joseErrors.JWKSNoMatchingKey.code,
  joseErrors.JWKSMultipleMatchingKeys.code,
]);

type Key = Uint8Array | JWTVerifyGetKey;

function keyResolver(config: AuthConfig, env: Env): { key: () => Promise<Key>; algorithms: string[] } {
  const encode = (secret: string) => new TextEncoder().encode(secret);
  const source = config.keySource;
  switch (source.kind) {
    case 'secret-value': {
      const key = encode(source.secret);
      return { key: async () => key, algorithms: SECRET_ALGORITHMS };
    }
    case 'ssm-parameter': {
      const read = ssmSecretReader(env, source.name);
      return { key: loadOnce(async () => encode(await read())), algorithms: SECRET_ALGORITHMS };
    }
    case 'secrets-manager': {
      const read = secretsManagerSecretReader(env, source.secretId);
      return { key: loadOnce(async () => encode(await read())), algorithms: SECRET_ALGORITHMS };
    }
    case 'jwks': {
      // One key set per container: jose caches the keys and refetches on an unknown `kid`.
      const jwks = createRemoteJWKSet(source.url, { timeoutDuration: JWKS_TIMEOUT_MS });
      return { key: async () => jwks, algorithms: JWKS_ALGORITHMS };
    }
  }
}

/** Builds the verifier once per container; the returned function checks one token. */
export function makeTokenVerifier(config: AuthConfig, env: Env): (token: string) => Promise<VerifiedPrincipal> {
  const { key, algorithms } = keyResolver(config, env);
  const options = {
    algorithms,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['exp', 'sub'],
    ...(config.issuer ? { issuer: config.issuer } : {}),
    ...(config.audience ? { audience: config.audience } : {}),
  };
  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenRejected('TOKEN_TOO_LONG', `token longer than ${MAX_TOKEN_LENGTH} characters`);
    const resolvedKey = await key(); // a failure here is ours (→ 500), not the token's
    let payload: Record<string, unknown>;
    try {
      const verified =
        typeof resolvedKey === 'function' ? await jwtVerify(token, resolvedKey, options) : await jwtVerify(token, resolvedKey, options);
      payload = verified.payload;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && TOKEN_ERROR_CODES.has(code)) throw new TokenRejected(code, (error as Error).message);
      throw error;
    }
    try {
      const who: VerifiedPrincipal = { principal: principalFromClaim(payload.sub), topics: topicPatternsFromClaim(payload[TOPICS_CLAIM]) };
      const publish = topicPatternsFromClaim(payload[PUBLISH_CLAIM], PUBLISH_CLAIM);
      if (publish.length > 0) who.publish = publish;
      const presence = presenceDataFromClaim(payload[PRESENCE_CLAIM]);
      if (presence !== undefined) who.presence = presence;
      return who;
    } catch (error) {
      // The signature checked out, so a well-formed `sub` is trustworthy enough to name in a Deny.
      if (error instanceof ClaimError && typeof payload.sub === 'string' && payload.sub.length <= MAX_PRINCIPAL_LENGTH) {
        error.principalId = payload.sub || undefined;
      }
      throw error;
    }
  };
}
