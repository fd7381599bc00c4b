/**
 * The authorizer's configuration, read from the env map (names in protocol/env.ts). Exactly one key
 * source: an HS256 secret (AUTH_SECRET_PARAMETER, AUTH_SECRET_ARN, or AUTH_SECRET for local mode
 * and tests), or a JWKS URL (AUTH_JWKS_URL) for RS256/ES256 tokens from an OIDC provider.
 */
import { ENV } from '../../../protocol/env';
import type { Env } from './secret';

export type KeySource =
  | { kind: 'secret-value'; secret: string }
  | { kind: 'ssm-parameter'; name: string }
  | { kind: 'secrets-manager'; secretId: string }
  | { kind: 'jwks'; url: URL };

export interface AuthConfig {
  keySource: KeySource;
  issuer?: string;
  /** Accepted audiences (AUTH_AUDIENCE, comma-separated): the token's `aud` must name one. */
  audience?: string[];
}

export class AuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthConfigError';
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Plain http is accepted only for a JWKS on this machine (local mode, tests). */
function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function jwksUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AuthConfigError(`${ENV.authJwksUrl} is not a URL: ${raw}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new AuthConfigError(`${ENV.authJwksUrl} must be an https URL (plain http only on localhost)`);
  }
  return url;
}

/** Reads and checks the configuration; throws AuthConfigError with a clear message. */
export function authConfigFromEnv(env: Env): AuthConfig {
  // AUTH_SECRET is not trimmed: it is the key itself, byte for byte.
  const secret = env[ENV.authSecret] ? env[ENV.authSecret] : undefined;
  const parameter = nonEmpty(env[ENV.authSecretParameter]);
  const secretArn = nonEmpty(env[ENV.authSecretArn]);
  const jwks = nonEmpty(env[ENV.authJwksUrl]);
  const given = [
    secret !== undefined ? ENV.authSecret : undefined,
    parameter ? ENV.authSecretParameter : undefined,
    secretArn ? ENV.authSecretArn : undefined,
    jwks ? ENV.authJwksUrl : undefined,
  ].filter((name) => name !== undefined);
  if (given.length === 0) {
    throw new AuthConfigError(
      `no key configured: set one of ${ENV.authSecretParameter}, ${ENV.authSecretArn}, ${ENV.authJwksUrl} (or ${ENV.authSecret} locally)`,
    );
  }
  if (given.length > 1) throw new AuthConfigError(`set only one key source, not ${given.join(' and ')}`);

  let keySource: KeySource;
  if (secret !== undefined) keySource = { kind: 'secret-value', secret };
  else if (parameter) keySource = { kind: 'ssm-parameter', name: parameter };
  else if (secretArn) keySource = { kind: 'secrets-manager', secretId: secretArn };
  else keySource = { kind: 'jwks', url: jwksUrl(jwks as string) };

  const issuer = nonEmpty(env[ENV.authIssuer]);
  const audience = nonEmpty(env[ENV.authAudience])
    ?.split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  return {
    keySource,
    ...(issuer ? { issuer } : {}),
    ...(audience && audience.length > 0 ? { audience } : {}),
  };
}
