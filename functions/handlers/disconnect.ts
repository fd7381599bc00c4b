/**
 * $disconnect: delete every row of the connection, and leave the presence topics it was in
 * (presence/). Best effort on API Gateway's side (it may never run); rows it misses expire by TTL
 * or are removed when a post answers 410.
 */
import type { Context } from 'aws-lambda';
import type { EnvMap } from '../lib/config';
import { deleteConnectionRows } from '../lib/connection-rows';
import { lambdaEntry } from '../lib/lazy-handler';
import { makePresence } from '../lib/presence';
import { makeRuntime } from '../lib/runtime';
import { describeError } from '../lib/telemetry';

export interface DisconnectEvent {
  requestContext: { connectionId: string; disconnectStatusCode?: number; disconnectReason?: string };
}

export function makeHandler(env: EnvMap): (event: DisconnectEvent, context?: Context | unknown) => Promise<{ statusCode: number }> {
  const runtime = makeRuntime(env, 'realtime-disconnect');
  const { ddb, tableName, logger } = runtime;
  const presence = makePresence(runtime);

  return async (event, context) => {
    runtime.addContext(context);
    const { connectionId, disconnectStatusCode, disconnectReason } = event.requestContext;
    try {
      const deleted = presence ? await presence.forget(connectionId) : await deleteConnectionRows(ddb, tableName, connectionId);
      logger.info('disconnected', { connectionId, deleted, disconnectStatusCode, disconnectReason });
      return { statusCode: 200 };
    } catch (error) {
      // Thrown so the invocation counts as an error; TTL removes whatever is left.
      logger.error('disconnect cleanup failed', { connectionId, error: describeError(error) });
      throw error;
    }
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
