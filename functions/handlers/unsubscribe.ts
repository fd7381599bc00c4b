/**
 * unsubscribe: `{"action":"unsubscribe","topics":[…]}` → `{"type":"unsubscribed","topics":[…]}`.
 * Idempotent: unsubscribing from a topic the connection does not hold is fine.
 */
import type { Context } from 'aws-lambda';
import { batchWriteAll } from '../lib/batch-write';
import type { EnvMap } from '../lib/config';
import { deleteRequests } from '../lib/connection-rows';
import { lambdaEntry } from '../lib/lazy-handler';
import { routeResponse, type MessageEvent, type RouteResponse } from '../lib/replies';
import { answerOrInternal, makeRuntime } from '../lib/runtime';
import { parseTopicsRequest } from '../lib/topics-request';

export function makeHandler(env: EnvMap): (event: MessageEvent, context?: Context | unknown) => Promise<RouteResponse> {
  const runtime = makeRuntime(env, 'realtime-unsubscribe');
  const { ddb, tableName, logger, config } = runtime;

  return async (event, context) => {
    runtime.addContext(context);
    const { connectionId } = event.requestContext;
    const request = parseTopicsRequest(event, 'unsubscribe', config);
    if (!request.ok) {
      logger.info('unsubscribe refused', { connectionId, code: request.reply.code, reason: request.reply.message });
      return routeResponse(request.reply);
    }
    const { topics } = request;
    return answerOrInternal(runtime, { connectionId, topics }, async () => {
      await batchWriteAll(ddb, tableName, deleteRequests(connectionId, topics));
      logger.info('unsubscribed', { connectionId, topics });
      return routeResponse({ type: 'unsubscribed', topics });
    });
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
