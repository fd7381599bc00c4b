/** Shared fixtures of the authorizer tests: events as API Gateway sends them, and token signing. */
import { expect } from 'chai';
import { SignJWT, type JWTPayload } from 'jose';
import type { WebSocketAuthorizerEvent } from '../../functions/handlers/authorizer';

export const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/local/$connect';
export const SECRET = 'test-secret-that-is-long-enough-for-hs256!';
/** Keeps Powertools quiet in test output. */
export const QUIET = { POWERTOOLS_LOG_LEVEL: 'SILENT', AWS_REGION: 'us-east-1' };

export function connectEvent(parts: Partial<WebSocketAuthorizerEvent> = {}): WebSocketAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    headers: { Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com', 'Sec-WebSocket-Version': '13' },
    multiValueHeaders: { Host: ['abcdef1234.execute-api.us-east-1.amazonaws.com'], 'Sec-WebSocket-Version': ['13'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    requestContext: { connectionId: 'L0SM9cOFvHcCIhw=', identity: { sourceIp: '127.0.0.1' } },
    ...parts,
  };
}

export function queryEvent(token: string): WebSocketAuthorizerEvent {
  return connectEvent({ queryStringParameters: { token }, multiValueQueryStringParameters: { token: [token] } });
}

export function subprotocolEvent(token: string, headerName = 'Sec-WebSocket-Protocol'): WebSocketAuthorizerEvent {
  const value = `realtime, bearer.${token}`;
  const base = connectEvent();
  return connectEvent({
    headers: { ...base.headers, [headerName]: value },
    multiValueHeaders: { ...base.multiValueHeaders, [headerName]: [value] },
  });
}

const now = () => Math.floor(Date.now() / 1000);

/** Signs `claims` (defaults: sub alice, topics orders/*, exp in 1 h) with an HS256 secret or a private key. */
export async function sign(
  claims: JWTPayload & Record<string, unknown> = {},
  key: Uint8Array | CryptoKey | string = SECRET,
  header: { alg: string; kid?: string } = { alg: 'HS256' },
): Promise<string> {
  const payload = { sub: 'alice', topics: ['orders/*'], iat: now(), exp: now() + 3600, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete (payload as Record<string, unknown>)[k];
  const signingKey = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  return new SignJWT(payload).setProtectedHeader({ typ: 'JWT', ...header }).sign(signingKey);
}

export { now };

/** The handler must reject exactly as API Gateway's 401 trigger: Error('Unauthorized'). */
export async function expectUnauthorized(result: Promise<unknown>): Promise<void> {
  const error = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').to.be.instanceOf(Error);
  expect((error as Error).message).to.equal('Unauthorized');
}

/** Any other rejection becomes a 500 at API Gateway: our side failed, the token was not judged. */
export async function expectServerError(result: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').to.be.instanceOf(Error);
  expect((error as Error).message).to.not.equal('Unauthorized');
  expect((error as Error).message).to.match(pattern);
}
