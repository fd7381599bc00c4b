/**
 * unsubscribe: `{"action":"unsubscribe","topics":[…]}` → `{"type":"unsubscribed","topics":[…]}`.
 * Idempotent: unsubscribing from a topic the connection does not hold is fine.
 */
import { batchWriteAll } from '../lib/batch-write';
import type { EnvMap } from '../lib/config';
import { deleteRequests } from '../lib/connection-rows';
import { lambdaEntry } from '../lib/lazy-handler';
import { routeResponse } from '../lib/replies';
import { makeTopicsRoute } from '../lib/topics-request';

export function makeHandler(env: EnvMap) {
  return makeTopicsRoute(env, 'unsubscribe', ({ ddb, tableName, logger }) => async (connectionId, topics) => {
    await batchWriteAll(ddb, tableName, deleteRequests(connectionId, topics));
    logger.info('unsubscribed', { connectionId, topics });
    return routeResponse({ type: 'unsubscribed', topics });
  });
}

export const handler = lambdaEntry(() => makeHandler(process.env));
