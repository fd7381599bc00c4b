/**
 * $connect: store the connection item (who, from where, until when) and echo the `realtime`
 * subprotocol when the client offered it (a browser drops the socket otherwise).
 * A non-2xx result makes API Gateway refuse the handshake.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { AUTH_CONTEXT, SUBPROTOCOL } from '../../protocol/auth';
import { TABLE, expiresAtFor } from '../../protocol/table';
import { offeredSubprotocols } from '../lib/auth/token-source';
import type { EnvMap } from '../lib/config';
import { SUBSCRIPTION_COUNT, type ConnectionItem } from '../lib/connection-rows';
import { lambdaEntry } from '../lib/lazy-handler';
import { makeRuntime } from '../lib/runtime';
import { describeError } from '../lib/telemetry';

/** The fields of API Gateway's CONNECT event this handler reads. */
export interface ConnectEvent {
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  requestContext: {
    connectionId: string;
    connectedAt?: number;
    identity?: { sourceIp?: string };
    authorizer?: Record<string, unknown> | null;
  };
}

export interface ConnectResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Did the client offer `realtime` in Sec-WebSocket-Protocol? (Header names are case-insensitive.) */
export function offersSubprotocol(event: ConnectEvent): boolean {
  return offeredSubprotocols(event).includes(SUBPROTOCOL);
}

/**
 * principal and allowedTopics from the authorizer's context (contract 3). No authorizer → auth
 * is off, no restriction. An authorizer context whose topics are not a JSON array of strings is
 * an error: we fail closed rather than let the connection use every topic.
 */
export function authorizedIdentity(authorizer: Record<string, unknown> | null | undefined): Pick<ConnectionItem, 'principal' | 'allowedTopics' | 'publishTopics' | 'presence'> {
  if (!authorizer) return {};
  const principal = authorizer[AUTH_CONTEXT.principal] ?? authorizer.principalId;
  const allowedTopics = patternsFromContext(authorizer, AUTH_CONTEXT.topics);
  if (allowedTopics === undefined) {
    throw new Error(`authorizer context "${AUTH_CONTEXT.topics}" must be a JSON array of strings, got ${JSON.stringify(authorizer[AUTH_CONTEXT.topics])}`);
  }
  // No `publish` entry: the token grants no client publish.
  const publishTopics = authorizer[AUTH_CONTEXT.publish] === undefined ? undefined : patternsFromContext(authorizer, AUTH_CONTEXT.publish);
  if (authorizer[AUTH_CONTEXT.publish] !== undefined && publishTopics === undefined) {
    throw new Error(`authorizer context "${AUTH_CONTEXT.publish}" must be a JSON array of strings`);
  }
  const presence = authorizer[AUTH_CONTEXT.presence];
  return {
    ...(typeof principal === 'string' && principal ? { principal } : {}),
    allowedTopics,
    ...(publishTopics && publishTopics.length > 0 ? { publishTopics } : {}),
    ...(typeof presence === 'string' ? { presence } : {}),
  };
}

/** A JSON array of strings from the authorizer's context, or undefined when it is not one. */
function patternsFromContext(authorizer: Record<string, unknown>, key: string): string[] | undefined {
  const raw = authorizer[key];
  let value: unknown;
  try {
    value = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    return undefined;
  }
  return Array.isArray(value) && value.every((t) => typeof t === 'string') ? value : undefined;
}

export function makeHandler(env: EnvMap): (event: ConnectEvent, context?: Context | unknown) => Promise<ConnectResult> {
  const runtime = makeRuntime(env, 'realtime-connect');
  const { ddb, tableName, logger } = runtime;

  return async (event, context) => {
    runtime.addContext(context);
    const { connectionId } = event.requestContext;
    try {
      const connectedAtMs = event.requestContext.connectedAt ?? Date.now();
      const item: ConnectionItem = {
        connectionId,
        sk: TABLE.connectionSortKey,
        connectedAt: new Date(connectedAtMs).toISOString(),
        sourceIp: event.requestContext.identity?.sourceIp,
        ...authorizedIdentity(event.requestContext.authorizer),
        expiresAt: expiresAtFor(connectedAtMs),
        // Subscribe reserves against this count, so the cap holds under concurrent requests.
        [SUBSCRIPTION_COUNT]: 0,
      };
      await ddb.send(new PutCommand({ TableName: tableName, Item: item }));
      logger.info('connected', { connectionId, principal: item.principal });
    } catch (error) {
      logger.error('connect failed', { connectionId, error: describeError(error) });
      return { statusCode: 500 };
    }
    return offersSubprotocol(event) ? { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': SUBPROTOCOL } } : { statusCode: 200 };
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
