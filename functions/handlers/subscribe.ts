/**
 * subscribe: `{"action":"subscribe","topics":[…]}` → `{"type":"subscribed","topics":[…]}`.
 * All or nothing: every topic is checked (name, permission, cap) before anything is written.
 * Idempotent: topics the connection already holds are not written again nor counted twice.
 */
import { topicAllowed } from '../../protocol/auth';
import { errorReply } from '../../protocol/messages';
import { TABLE, expiresAtFor } from '../../protocol/table';
import { batchWriteAll } from '../lib/batch-write';
import type { EnvMap } from '../lib/config';
import { getConnectionItem, subscribedTopics } from '../lib/connection-rows';
import { lambdaEntry } from '../lib/lazy-handler';
import { routeResponse } from '../lib/replies';
import { makeTopicsRoute } from '../lib/topics-request';

export function makeHandler(env: EnvMap) {
  return makeTopicsRoute(env, 'subscribe', ({ ddb, tableName, logger, config }) => async (connectionId, topics) => {
    const cap = config.maxSubscriptionsPerConnection;
    const connection = await getConnectionItem(ddb, tableName, connectionId);
    if (!connection) {
      // Never write subscriptions for a connection that $connect did not record: they would be orphans.
      logger.warn('subscribe for an unknown connection', { connectionId });
      return routeResponse(errorReply('INTERNAL', 'this connection is not registered (its $connect record is missing); reconnect and subscribe again'));
    }

    const refused = topics.filter((t) => !topicAllowed(connection.allowedTopics, t, connection.principal));
    if (refused.length > 0) {
      logger.info('subscribe forbidden', { connectionId, principal: connection.principal, topics: refused });
      return routeResponse(errorReply('FORBIDDEN', 'not allowed to subscribe to these topics', refused));
    }

    const existing = new Set(await subscribedTopics(ddb, tableName, connectionId));
    const added = topics.filter((t) => !existing.has(t));
    if (existing.size + added.length > cap) {
      return routeResponse(
        errorReply(
          'TOO_MANY_TOPICS',
          `a connection holds at most ${cap} subscriptions; it has ${existing.size} and this request adds ${added.length}`,
          added,
        ),
      );
    }

    const now = Date.now();
    // Subscriptions expire with their connection (API Gateway ends it 2 h after connecting).
    const expiresAt = connection.expiresAt ?? expiresAtFor(now);
    const subscribedAt = new Date(now).toISOString();
    await batchWriteAll(
      ddb,
      tableName,
      added.map((topic) => ({
        PutRequest: {
          Item: { [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: topic, [TABLE.topicAttribute]: topic, subscribedAt, [TABLE.ttlAttribute]: expiresAt },
        },
      })),
    );
    logger.info('subscribed', { connectionId, topics, added: added.length });
    return routeResponse({ type: 'subscribed', topics });
  });
}

export const handler = lambdaEntry(() => makeHandler(process.env));
