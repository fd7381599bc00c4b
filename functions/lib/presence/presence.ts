/**
 * Presence: who is subscribed to a presence topic (the `presenceTopics` setting), counted per
 * principal. What the handlers call:
 *   - subscribe: `refusal` (presence topics need a principal), `join`, then `state` for the reply;
 *   - unsubscribe: `leave`;
 *   - $disconnect and 410 cleanup: `forget`, which deletes the connection's rows and leaves
 *     every presence topic it held.
 * A join or leave is announced to the topic's subscribers as a presence event put on the publish
 * queue (announcements), fanned out by the publish function like a message. Rooms above the list
 * cap are announced no more (each event would be a post to every member: O(members²) for a
 * crowd arriving); their subscribers get the count when they subscribe.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { topicAllowed } from '../../../protocol/auth';
import type { PresenceEnvelope } from '../../../protocol/envelope';
import { errorReply, type ErrorReply, type PresenceState } from '../../../protocol/messages';
import type { Config } from '../config';
import { deleteConnectionRows, deleteConnectionRowsOf, getConnectionItem, type ConnectionItem } from '../connection-rows';
import type { PublishQueue } from '../publish-queue';
import { describeError } from '../telemetry';
import { MemberStore, type Transition } from './members';

export interface PresenceDeps {
  ddb: DynamoDBDocumentClient;
  tableName: string;
  config: Pick<Config, 'presence'>;
  logger: Logger;
  /** Where announcements go (the publish queue). */
  queue: PublishQueue;
  now?: () => number;
}

export class Presence {
  readonly store: MemberStore;
  private readonly now: () => number;

  constructor(private readonly deps: PresenceDeps) {
    this.now = deps.now ?? Date.now;
    this.store = new MemberStore({ ddb: deps.ddb, tableName: deps.tableName, now: this.now, isAlive: (id) => this.isAlive(id) });
  }

  /** Is `topic` a presence topic? */
  covers(topic: string): boolean {
    return topicAllowed(this.deps.config.presence.topics, topic);
  }

  /** The presence topics among `topics`. */
  topicsOf(topics: readonly string[]): string[] {
    return topics.filter((t) => this.covers(t));
  }

  /** Presence topics a connection without a principal (auth off) asks for: refused, naming them. */
  refusal(connection: ConnectionItem, topics: readonly string[]): ErrorReply | undefined {
    const wanted = this.topicsOf(topics);
    if (wanted.length === 0 || connection.principal) return undefined;
    return errorReply('FORBIDDEN', 'presence topics need an authenticated connection (a token with a "sub"); auth is off or the connection has no principal', wanted);
  }

  /** The connection joins every presence topic of `topics` (idempotent: a topic it is in already changes nothing). */
  async join(connection: ConnectionItem, topics: readonly string[]): Promise<void> {
    const principal = connection.principal;
    if (!principal) return;
    await Promise.all(
      this.topicsOf(topics).map(async (topic) => {
        const joined = await this.store.join(topic, principal, connection.connectionId, connection.presence);
        if (joined) await this.announce(topic, 'join', joined);
      }),
    );
  }

  /** The connection leaves these presence topics; the member leaves when it was its last connection there. */
  async leave(connectionId: string, principal: string | undefined, topics: readonly string[]): Promise<void> {
    if (!principal) return;
    await Promise.all(
      this.topicsOf(topics).map(async (topic) => {
        const left = await this.store.leave(topic, principal, connectionId);
        if (left) await this.announce(topic, 'leave', left);
      }),
    );
  }

  /** Who is in each presence topic of `topics`, for the subscribed reply; expired members found on the way leave. */
  async state(topics: readonly string[]): Promise<Record<string, PresenceState> | undefined> {
    const wanted = this.topicsOf(topics);
    if (wanted.length === 0) return undefined;
    const states = await Promise.all(
      wanted.map(async (topic) => {
        const { state, expired } = await this.store.list(topic, this.deps.config.presence.maxListed);
        for (const principal of expired) await this.expire(topic, principal);
        return [topic, state] as const;
      }),
    );
    return Object.fromEntries(states);
  }

  /**
   * Delete every row of a connection that is gone ($disconnect, 410), then leave the presence
   * topics it held. The `$connection` item is read first: it names the principal.
   * Returns the subscriptions deleted.
   */
  async forget(connectionId: string): Promise<number> {
    const { ddb, tableName } = this.deps;
    const connection = await getConnectionItem(ddb, tableName, connectionId);
    if (!connection?.principal) return deleteConnectionRows(ddb, tableName, connectionId);
    // The rows found after the `$connection` item is gone: a subscribe racing with this either
    // wrote its row before (found and left here) or sees the item gone and leaves itself.
    const topics = await deleteConnectionRowsOf(ddb, tableName, connectionId);
    await this.leave(connectionId, connection.principal, topics);
    return topics.length;
  }

  private async isAlive(connectionId: string): Promise<boolean> {
    const item = await getConnectionItem(this.deps.ddb, this.deps.tableName, connectionId);
    return item !== undefined && (item.expiresAt === undefined || item.expiresAt > this.now() / 1000);
  }

  private async expire(topic: string, principal: string): Promise<void> {
    try {
      const left = await this.store.expire(topic, principal);
      if (left) await this.announce(topic, 'leave', left);
    } catch (error) {
      this.deps.logger.warn('could not remove an expired member', { topic, principal, error: describeError(error) });
    }
  }

  /** Tell the topic's subscribers, unless the room is above the list cap on both sides of the change. */
  private async announce(topic: string, event: 'join' | 'leave', { member, count }: Transition): Promise<void> {
    const before = event === 'join' ? count - 1 : count + 1;
    const cap = this.deps.config.presence.maxListed;
    if (Math.min(before, count) > cap) {
      this.deps.logger.debug('presence change not announced: above the list cap', { topic, event, count });
      return;
    }
    const envelope: PresenceEnvelope = { presence: { topic, event, member, count } };
    await this.deps.queue.send(envelope);
    this.deps.logger.info(`presence ${event}`, { topic, member: member.id, count });
  }
}
