/**
 * unsubscribe: `{"action":"unsubscribe","topics":[…]}` → `{"type":"unsubscribed","topics":[…]}`.
 * Idempotent: unsubscribing from a topic the connection does not hold is fine.
 * The connection's `subscriptionCount` goes down by the rows actually deleted (each delete says
 * whether its row existed), so concurrent unsubscribes of one topic count it once.
 * Leaving a presence topic's last connection makes the member leave (presence/): the
 * `$connection` item (the principal) is read and the presence topics are left BEFORE the rows go.
 * A `$disconnect` running once the rows are gone finds no row of these topics to leave and
 * deletes the `$connection` item, so leaving after the delete could lose the leave for good; a
 * leave is idempotent, so leaving a topic the connection did not hold, or twice, changes nothing.
 */
import type { EnvMap } from '../lib/config';
import { deleteSubscriptionRows, getConnectionItem, releaseSubscriptions } from '../lib/connection-rows';
import { lambdaEntry } from '../lib/lazy-handler';
import { makePresence } from '../lib/presence';
import { routeResponse } from '../lib/replies';
import { describeError } from '../lib/telemetry';
import { makeTopicsRoute } from '../lib/topics-request';

export function makeHandler(env: EnvMap) {
  return makeTopicsRoute(env, 'unsubscribe', (runtime) => {
    const { ddb, tableName, logger } = runtime;
    const presence = makePresence(runtime);
    return async (connectionId, { topics }) => {
      const leaving = presence?.topicsOf(topics) ?? [];
      if (presence && leaving.length > 0) {
        const connection = await getConnectionItem(ddb, tableName, connectionId);
        await presence.leave(connectionId, connection?.principal, leaving);
      }
      const deleted = await deleteSubscriptionRows(ddb, tableName, connectionId, topics);
      try {
        // false: the connection is gone, or its item predates the count (the next subscribe counts its rows).
        const released = await releaseSubscriptions(ddb, tableName, connectionId, deleted.changed.length);
        if (!released) logger.info('subscription count not lowered', { connectionId, deleted: deleted.changed.length });
      } catch (error) {
        // The count stays high: the cap may refuse early, never admit too many. Not the client's problem.
        logger.warn('could not lower the subscription count', { connectionId, deleted: deleted.changed.length, error: describeError(error) });
      }
      if (deleted.failure !== undefined) throw deleted.failure;
      logger.info('unsubscribed', { connectionId, topics, deleted: deleted.changed.length });
      return routeResponse({ type: 'unsubscribed', topics });
    };
  });
}

export const handler = lambdaEntry(() => makeHandler(process.env));
