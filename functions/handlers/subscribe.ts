/**
 * subscribe: `{"action":"subscribe","topics":[…]}` → `{"type":"subscribed","topics":[…]}`.
 * All or nothing: every topic is checked (name, permission, cap) before anything is written.
 * Idempotent: topics the connection already holds are not written again nor counted twice.
 *
 * The cap holds under concurrency (API Gateway runs a connection's messages side by side): the
 * request first reserves its new topics on the `$connection` item's `subscriptionCount` with a
 * conditional update, then writes the rows, then gives back what it reserved but did not add (a
 * topic a concurrent request added first). A failed write takes back the rows it added.
 *
 * Each request tags its rows with its own token (`writtenBy`): an SDK retry of a put that had
 * committed still counts as our row, and a rollback deletes only rows no other request has
 * written since. After writing, it re-reads the `$connection` item: if `$disconnect` removed it
 * meanwhile (it deletes that item before querying the rows), the rows are taken back here.
 *
 * Continuity (with a history table): once subscribed, the reply gives each topic's position in
 * its stream, and the topics named in `since` are first replayed from there
 * (history/subscribe-positions.ts). Subscribing again with `since` is idempotent: it replays
 * again, which is how a client fills a gap it saw live.
 *
 * Presence (presence/): a presence topic needs a principal (else FORBIDDEN); once its row is
 * written the connection joins it (idempotent, so subscribing again repairs a membership a failed
 * request left out), and the reply lists who is there.
 */
import { topicAllowed } from '../../protocol/auth';
import { errorReply } from '../../protocol/messages';
import { TABLE, expiresAtFor } from '../../protocol/table';
import type { EnvMap } from '../lib/config';
import {
  deleteSubscriptionRows,
  getConnectionItem,
  initSubscriptionCount,
  newWriteToken,
  putSubscriptionRows,
  releaseSubscriptions,
  reserveSubscriptions,
  SUBSCRIPTION_COUNT,
  subscribedTopics,
  type ConnectionItem,
} from '../lib/connection-rows';
import { makeManagementApi } from '../lib/clients';
import { retryDeadline } from '../lib/deadline';
import { Deliverer } from '../lib/delivery/deliverer';
import type { Poster } from '../lib/delivery/management-api';
import { StreamReader } from '../lib/history/replay';
import { subscribePositions } from '../lib/history/subscribe-positions';
import { lambdaEntry } from '../lib/lazy-handler';
import { makePresence } from '../lib/presence';
import { routeResponse } from '../lib/replies';
import { describeError } from '../lib/telemetry';
import { makeTopicsRoute, type ValidTopicsRequest } from '../lib/topics-request';

const unregistered = () =>
  routeResponse(errorReply('INTERNAL', 'this connection is not registered (its $connect record is missing); reconnect and subscribe again'));

/** Test seams; production uses the defaults. */
export interface SubscribeHandlerOptions {
  /** What posts replayed frames (default: the management API client built from the env map). */
  poster?: Poster;
}

export function makeHandler(env: EnvMap, options: SubscribeHandlerOptions = {}) {
  return makeTopicsRoute(env, 'subscribe', (runtime) => {
    const { ddb, tableName, logger, config } = runtime;
    const presence = makePresence(runtime);
    const reader = config.history ? new StreamReader(ddb, config.history) : undefined;
    const poster = reader ? (options.poster ?? makeManagementApi(config, env)) : undefined;
    /** Give back `n` reserved subscriptions; a failure only leaves the count high (safe), so it is logged, not raised. */
    const release = async (connectionId: string, n: number) => {
      try {
        if (!(await releaseSubscriptions(ddb, tableName, connectionId, n))) logger.info('reservation not released: the connection is gone', { connectionId, n });
      } catch (error) {
        logger.warn('could not release reserved subscriptions; the count stays high until the connection ends', { connectionId, n, error: describeError(error) });
      }
    };

    /** The reply once subscribed: with history, each topic's position, after replaying what `since` asks for. */
    const subscribed = async (connection: ConnectionItem, topics: string[], since: ValidTopicsRequest['since'], context: unknown) => {
      const connectionId = connection.connectionId;
      const members = await presence?.state(topics);
      const withPresence = members ? { presence: members } : {};
      if (!reader || !poster) return routeResponse({ type: 'subscribed', topics, ...withPresence });
      const deliverer = new Deliverer({
        poster,
        ddb,
        tableName,
        config,
        logger,
        retryDeadline: retryDeadline(context, config.publishRetryBudgetMs),
        ...(presence ? { forgetConnection: (id: string) => presence.forget(id) } : {}),
      });
      const { positions, recovered, replayed } = await subscribePositions({ reader, deliverer, logger }, connectionId, topics, since);
      if (since) logger.info('resumed', { connectionId, topics: Object.keys(since), replayed, recovered });
      return routeResponse(recovered ? { type: 'subscribed', topics, positions, recovered, ...withPresence } : { type: 'subscribed', topics, positions, ...withPresence });
    };

    return async (connectionId, { topics, since }, context) => {
      const cap = config.maxSubscriptionsPerConnection;
      const connection = await getConnectionItem(ddb, tableName, connectionId);
      if (!connection) {
        // Never write subscriptions for a connection that $connect did not record: they would be orphans.
        logger.warn('subscribe for an unknown connection', { connectionId });
        return unregistered();
      }

      const refused = topics.filter((t) => !topicAllowed(connection.allowedTopics, t, connection.principal));
      if (refused.length > 0) {
        logger.info('subscribe forbidden', { connectionId, principal: connection.principal, topics: refused });
        return routeResponse(errorReply('FORBIDDEN', 'not allowed to subscribe to these topics', refused));
      }
      const noPrincipal = presence?.refusal(connection, topics);
      if (noPrincipal) {
        logger.info('subscribe forbidden: presence topics without a principal', { connectionId, topics: noPrincipal.topics });
        return routeResponse(noPrincipal);
      }

      const existing = await subscribedTopics(ddb, tableName, connectionId, true);
      const held = new Set(existing);
      const added = topics.filter((t) => !held.has(t));
      const tooMany = (has: number) => {
        logger.info('subscribe refused: subscription cap', { connectionId, cap, has, adds: added.length });
        return routeResponse(
          errorReply('TOO_MANY_TOPICS', `a connection holds at most ${cap} subscriptions; it has ${has} and this request adds ${added.length}`, added),
        );
      };
      if (added.length === 0) {
        logger.info('subscribed', { connectionId, topics, added: 0 });
        await presence?.join(connection, topics);
        return subscribed(connection, topics, since, context);
      }
      if (held.size + added.length > cap) return tooMany(held.size);

      // A connection item from before the count existed: start it at the rows it holds.
      if (connection[SUBSCRIPTION_COUNT] === undefined) await initSubscriptionCount(ddb, tableName, connectionId, held.size);
      if (!(await reserveSubscriptions(ddb, tableName, connectionId, added.length, cap))) {
        const now = await getConnectionItem(ddb, tableName, connectionId);
        if (!now) return unregistered();
        return tooMany(now[SUBSCRIPTION_COUNT] ?? held.size);
      }

      const nowMs = Date.now();
      // Subscriptions expire with their connection (API Gateway ends it 2 h after connecting).
      const attributes = { subscribedAt: new Date(nowMs).toISOString(), [TABLE.ttlAttribute]: connection.expiresAt ?? expiresAtFor(nowMs) };
      const token = newWriteToken();
      const written = await putSubscriptionRows(ddb, tableName, connectionId, added, attributes, token);
      if (written.failure !== undefined) {
        // All or nothing: take back the rows this request created and still owns, and give back
        // every unit reserved except those of rows it did not take back (they are still held:
        // by another request that wrote them since and gave its own unit back, or deleted by an
        // unsubscribe that lowered the count for them).
        const undone = await deleteSubscriptionRows(ddb, tableName, connectionId, written.changed, token);
        const stillHeld = written.changed.length - undone.changed.length;
        await release(connectionId, added.length - stillHeld);
        if (undone.failure !== undefined) {
          logger.error('subscribe failed and could not take back every row it wrote', { connectionId, left: stillHeld, error: describeError(undone.failure) });
        }
        throw written.failure;
      }
      // Joined before the re-read below: a $disconnect that comes after it finds our rows and leaves.
      await presence?.join(connection, topics);
      // $disconnect may have run since the reservation; it deletes the connection item before it
      // queries the rows, so if the item is still here, the query comes after our writes.
      if (!(await getConnectionItem(ddb, tableName, connectionId))) {
        await presence?.leave(connectionId, connection.principal, topics);
        const undone = await deleteSubscriptionRows(ddb, tableName, connectionId, added, token);
        if (undone.failure !== undefined) logger.error('connection closed during subscribe; some rows are left to expire by TTL', { connectionId, error: describeError(undone.failure) });
        logger.warn('subscribe: the connection closed while it wrote; rows taken back', { connectionId, topics: added });
        return routeResponse(errorReply('INTERNAL', 'connection closed while subscribing; nothing was subscribed'));
      }
      // Topics another request added between our read and our write were reserved twice.
      await release(connectionId, added.length - written.changed.length);
      logger.info('subscribed', { connectionId, topics, added: written.changed.length });
      return subscribed(connection, topics, since, context);
    };
  });
}

export const handler = lambdaEntry(() => makeHandler(process.env));
