/**
 * REQUEST authorizer for the WebSocket API's $connect route.
 *
 * Takes a JWT from the `token` query parameter or from a `bearer.<jwt>` subprotocol entry,
 * verifies it (HS256 with a secret from SSM / Secrets Manager, or RS256/ES256 through a JWKS URL),
 * and answers as API Gateway expects:
 *   - Allow on event.methodArn, principalId = sub, context { principal, topics: JSON patterns };
 *   - throw Error('Unauthorized')  → 401: no token, or a token that is not valid (see verify.ts);
 *   - Deny policy                   → 403: an authentic token whose claims are unusable, or
 *                                       whose Allow would exceed API Gateway's 8 KB result limit;
 *   - any other throw               → 500: misconfiguration, secret or JWKS unreachable.
 * The token itself is never logged.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { APIGatewayAuthorizerResult, Context } from 'aws-lambda';
import { AUTHORIZER_RESULT_LIMIT_BYTES, AUTHORIZER_RESULT_SAFE_BYTES, authorizerResultBytes } from '../../protocol/authorizer-limits';
import { ENV } from '../../protocol/env';
import { ClaimError } from '../lib/auth/claims';
import { AuthConfigError, authConfigFromEnv } from '../lib/auth/config';
import { allowPolicy, denyPolicy } from '../lib/auth/policy';
import type { Env } from '../lib/auth/secret';
import { findToken, type TokenCarrier } from '../lib/auth/token-source';
import { lambdaEntry } from '../lib/lazy-handler';
import { makeTokenVerifier, TokenRejected, type VerifiedPrincipal } from '../lib/auth/verify';

/** A WebSocket REQUEST authorizer event (API Gateway's shape; REST-only fields are absent). */
export interface WebSocketAuthorizerEvent extends TokenCarrier {
  type?: string;
  methodArn: string;
  requestContext?: { connectionId?: string; identity?: { sourceIp?: string } } | null;
}

export type AuthorizerHandler = (event: WebSocketAuthorizerEvent, context?: Context) => Promise<APIGatewayAuthorizerResult>;

/** The exact message API Gateway turns into a 401. */
export const UNAUTHORIZED = 'Unauthorized';

export function makeHandler(env: Env): AuthorizerHandler {
  const logger = new Logger({
    serviceName: env[ENV.serviceName] ?? 'realtime-authorizer',
    ...(env[ENV.logLevel] ? { logLevel: env[ENV.logLevel] as LogLevel } : {}),
  });
  // A bad configuration must not stop the module from loading (the local mode imports every
  // handler): it fails each invocation instead, as a 500 with the reason in the logs.
  let verify: ((token: string) => Promise<VerifiedPrincipal>) | undefined;
  let configError: AuthConfigError | undefined;
  try {
    verify = makeTokenVerifier(authConfigFromEnv(env), env);
  } catch (error) {
    if (!(error instanceof AuthConfigError)) throw error;
    configError = error;
  }

  return async (event, context) => {
    if (context) logger.addContext(context);
    const request = { sourceIp: event.requestContext?.identity?.sourceIp, connectionId: event.requestContext?.connectionId };
    if (!verify) {
      logger.error('authorizer is misconfigured', { ...request, reason: configError?.message });
      throw new Error(`authorizer is misconfigured: ${configError?.message}`);
    }
    const found = findToken(event);
    if (found.kind !== 'found') {
      logger.info('connect refused: no single token', { ...request, reason: found.kind });
      throw new Error(UNAUTHORIZED);
    }
    try {
      const who = await verify(found.token);
      const allow = allowPolicy(event.methodArn, who);
      // API Gateway's WebSocket quota "Lambda authorizer result size: 8 KB" (not raisable): an
      // Allow over it fails the handshake with a 500 after we said yes. Refuse it clearly instead.
      const bytes = authorizerResultBytes(allow);
      if (bytes > AUTHORIZER_RESULT_SAFE_BYTES) {
        logger.warn('connect denied: authorizer result too large', {
          ...request,
          principal: who.principal,
          patterns: who.topics.length,
          bytes,
          reason: `the Allow with this token's principal and ${who.topics.length} topic patterns is ${bytes} bytes; API Gateway accepts at most ${AUTHORIZER_RESULT_LIMIT_BYTES} and this authorizer answers at most ${AUTHORIZER_RESULT_SAFE_BYTES}: grant fewer or shorter patterns (wildcards) or use a shorter sub`,
        });
        return denyPolicy(event.methodArn, who.principal);
      }
      logger.info('connect authorized', { ...request, principal: who.principal, via: found.via, patterns: who.topics.length, bytes });
      return allow;
    } catch (error) {
      if (error instanceof TokenRejected) {
        logger.info('connect refused: invalid token', { ...request, via: found.via, reason: error.reason, detail: error.message });
        throw new Error(UNAUTHORIZED);
      }
      if (error instanceof ClaimError) {
        logger.warn('connect denied: unusable claims', { ...request, principal: error.principalId, detail: error.message });
        return denyPolicy(event.methodArn, error.principalId ?? 'unknown');
      }
      logger.error('could not verify the token', { ...request, error: error as Error });
      throw error;
    }
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
