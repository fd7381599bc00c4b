/**
 * Fan-out of one frame to every subscriber of a topic: query the sparse `byTopic` index page by
 * page (never Scan) and post each page through one limiter shared by the whole invocation, so
 * the number of posts in flight never exceeds PUBLISH_CONCURRENCY however many topics and
 * records are being published. The next page is fetched while the current one is posted; at
 * most two pages wait in the limiter, which bounds memory for very large topics.
 *
 * Under throttling the limiter adapts (AIMD, see adaptive-limit.ts): 429s lower the bound,
 * successes raise it back. A throttled post is retried until the invocation's deadline, so a
 * sustained limit below our rate slows the fan-out down instead of failing the record (whose
 * every redelivery would post to every subscriber again); 5xx and timeouts get at most
 * POST_MAX_ATTEMPTS attempts, and none after the deadline either. A post waits for its backoff
 * outside the limiter, so the bound counts only requests actually in flight.
 *
 * The deadline (deadline.ts) ends all sending: no post, first attempts included, is sent after
 * it and no further page is fetched, so the invocation answers before the Lambda times out
 * (which would have SQS redeliver the whole batch, its fully delivered records too).
 *
 * Queries are bounded too (TOPIC_QUERY_CONCURRENCY per invocation, however many topics and
 * records): an envelope naming a hundred topics must not open a hundred queries at once
 * against the DynamoDB client's socket pool, where they would time out waiting for a socket.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import pLimit from 'p-limit';
import { TABLE } from '../../protocol/table';
import { AdaptiveLimit } from './adaptive-limit';
import { fullJitterDelay, sleep } from './backoff';
import type { Config } from './config';
import { deleteConnectionRows } from './connection-rows';
import type { Poster } from './delivery/management-api';
import { classifyPostError, type PostErrorKind } from './post-errors';
import { describeError } from './telemetry';

/** Longest wait between two attempts of one post. */
export const POST_BACKOFF_CAP_MS = 2000;

/** byTopic queries in flight per invocation; well under the DynamoDB client's 50 sockets, which 410 cleanups share. */
export const TOPIC_QUERY_CONCURRENCY = 16;

export type DeliveryOutcome = 'delivered' | 'gone' | 'failed' | 'rejected';

export interface FanOutDeps {
  ddb: DynamoDBDocumentClient;
  /** Sends PostToConnection (delivery/management-api.ts in production). */
  management: Poster;
  tableName: string;
  config: Pick<Config, 'publishConcurrency' | 'postMaxAttempts' | 'postBaseBackoffMs'>;
  logger: Logger;
  /** No post is sent and no page fetched after this time (`now` clock); see deadline.ts. */
  retryDeadline: number;
  /** Monotonic milliseconds (default `performance.now()`); injectable for tests. */
  now?: () => number;
}

export interface TopicResult {
  subscribers: number;
  delivered: number;
  gone: number;
  /** Deliveries that still failed after retries, or were not sent by the deadline (the record must be retried). */
  failed: number;
  /** Of `failed`: deliveries never sent because the deadline had passed when their turn came. */
  notSent: number;
  /** Deliveries API Gateway refused as too large (retrying the record cannot help). */
  rejected: number;
  /** The deadline passed before every page of subscribers was read (the record must be retried). */
  unfetched: boolean;
}

/** What one attempt came to; `late` when it got its slot after the deadline and was not sent. */
type Attempt = { kind: 'delivered' } | Failure | { kind: 'late' };
type Failure = { kind: PostErrorKind; error: unknown; startedAt: number };

/** One per invocation: the shared concurrency bound, counters for metrics, 410 bookkeeping. */
export class FanOut {
  /**
   * Per invocation, for metrics. `failed` is what makes a record retried; `rejected` (413) is
   * never retried; `gone` counts every delivery whose outcome is gone, the skipped ones too.
   */
  readonly counts = { delivered: 0, gone: 0, throttled: 0, failed: 0, rejected: 0, retries: 0 };
  /** The adaptive bound on posts in flight (its `bound`, `reductions` and `lowest` go to logs and metrics). */
  readonly limit: AdaptiveLimit;
  /** Connections that answered 410 in this invocation, with their cleanup; later posts skip them. */
  private readonly goneConnections = new Map<string, Promise<void>>();
  /** Bounds the byTopic queries in flight across every topic and record of the invocation. */
  private readonly queries = pLimit(TOPIC_QUERY_CONCURRENCY);
  private readonly now: () => number;

  constructor(private readonly deps: FanOutDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.limit = new AdaptiveLimit({ max: deps.config.publishConcurrency, now: this.now });
  }

  async toTopic(topic: string, frame: Uint8Array, messageId: string): Promise<TopicResult> {
    const result: TopicResult = { subscribers: 0, delivered: 0, gone: 0, failed: 0, notSent: 0, rejected: 0, unfetched: false };
    const postPage = async (connectionIds: string[]) => {
      const outcomes = await Promise.all(connectionIds.map((id) => this.deliver(id, topic, frame, messageId)));
      for (const outcome of outcomes) {
        if (outcome === 'notSent') result.notSent++;
        result[outcome === 'notSent' ? 'failed' : outcome]++;
      }
    };
    const queued: Promise<void>[] = [];
    try {
      let startKey: Record<string, unknown> | undefined;
      do {
        // Past the deadline no page is fetched (checked once the query has its slot, which it
        // may have waited for): the not-sent subscribers of the pages already fetched count as
        // failed, and the record's redelivery covers the unfetched rest.
        const query = new QueryCommand({
          TableName: this.deps.tableName,
          IndexName: TABLE.topicIndex,
          KeyConditionExpression: '#topic = :topic',
          ExpressionAttributeNames: { '#topic': TABLE.topicAttribute },
          ExpressionAttributeValues: { ':topic': topic },
          ExclusiveStartKey: startKey,
        });
        const page = await this.queries(() => (this.now() >= this.deps.retryDeadline ? undefined : this.deps.ddb.send(query)));
        if (!page) {
          result.unfetched = true;
          break;
        }
        const ids = (page.Items ?? []).map((item) => String(item[TABLE.partitionKey]));
        result.subscribers += ids.length;
        queued.push(postPage(ids));
        // Backpressure: before fetching a third page, wait for the oldest one to be posted.
        if (queued.length >= 2) await queued.shift();
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    } finally {
      // postPage never rejects; wait for it even when a query failed, so counts are complete.
      await Promise.all(queued);
    }
    if (result.notSent > 0 || result.unfetched) {
      this.deps.logger.warn('deliveries not sent: retry deadline reached', { topic, messageId, notSent: result.notSent, unfetched: result.unfetched });
    }
    return result;
  }

  /**
   * Post one frame to one connection, with full-jitter backoff between attempts: 429s are
   * retried until the deadline, 5xx/timeouts up to POST_MAX_ATTEMPTS attempts and only while
   * the deadline is not reached (a later retry could not finish before the Lambda times out).
   * No attempt, the first included, starts after the deadline: it resolves `notSent` (a failure
   * logged once per topic by toTopic, not once per subscriber).
   */
  private async deliver(connectionId: string, topic: string, frame: Uint8Array, messageId: string): Promise<DeliveryOutcome | 'notSent'> {
    const { config, logger, retryDeadline } = this.deps;
    let transientFailures = 0;
    /** The latest attempt that was sent and failed: what a retry left unsent at the deadline reports. */
    let lastFailure: Failure | undefined;
    for (let attempt = 1; ; attempt++) {
      const result = await this.limit.run((startedAt) => this.attempt(connectionId, topic, frame, messageId, attempt, startedAt));
      if (result.kind === 'delivered') return 'delivered';
      if (result.kind === 'gone') return 'gone';
      if (result.kind === 'late' && attempt === 1) {
        this.counts.failed++;
        return 'notSent';
      }
      if (result.kind !== 'late') lastFailure = result;
      let retry = false;
      if (result.kind === 'throttled') retry = true;
      if (result.kind === 'transient') retry = ++transientFailures < config.postMaxAttempts;
      const delay = retry ? fullJitterDelay(attempt, config.postBaseBackoffMs, POST_BACKOFF_CAP_MS) : 0;
      const pastDeadline = result.kind === 'late' || (retry && this.now() + delay >= retryDeadline);
      if (retry && !pastDeadline) {
        this.counts.retries++;
        await sleep(delay);
        continue;
      }
      if (result.kind === 'tooLarge') this.counts.rejected++;
      else this.counts.failed++;
      // A retry left unsent at the deadline reports the failure that made it retry (429, 5xx, timeout).
      const failure = result.kind === 'late' ? lastFailure : result;
      logger.warn('delivery failed', {
        connectionId,
        topic,
        messageId,
        kind: failure?.kind,
        attempts: result.kind === 'late' ? attempt - 1 : attempt,
        ...(pastDeadline ? { reason: 'retry deadline reached' } : {}),
        ...(failure ? { error: describeError(failure.error) } : {}),
      });
      return result.kind === 'tooLarge' ? 'rejected' : 'failed';
    }
  }

  /** One attempt, run in a limiter slot: the post, and for a 410 the connection's cleanup. */
  private async attempt(connectionId: string, topic: string, frame: Uint8Array, messageId: string, attempt: number, startedAt: number): Promise<Attempt> {
    if (this.goneConnections.has(connectionId)) {
      this.counts.gone++;
      return { kind: 'gone', error: undefined, startedAt };
    }
    // An attempt (first or retry) that got its slot past the deadline is not sent: the time left is for answering.
    if (startedAt >= this.deps.retryDeadline) return { kind: 'late' };
    try {
      await this.deps.management.post(connectionId, frame);
      this.counts.delivered++;
      this.limit.succeeded();
      return { kind: 'delivered' };
    } catch (error) {
      const kind = classifyPostError(error);
      if (kind === 'gone') {
        this.counts.gone++;
        await this.forget(connectionId, topic, messageId);
      } else if (kind === 'throttled') {
        this.counts.throttled++;
        const before = this.limit.bound;
        if (this.limit.throttled(startedAt)) this.deps.logger.debug('throttled: concurrency bound lowered', { messageId, from: before, to: this.limit.bound });
      }
      return { kind, error, startedAt };
    }
  }

  /** 410: delete the connection's rows once. A failed cleanup is logged; TTL removes the rows later. */
  private forget(connectionId: string, topic: string, messageId: string): Promise<void> {
    let cleanup = this.goneConnections.get(connectionId);
    if (!cleanup) {
      const { ddb, tableName, logger } = this.deps;
      cleanup = deleteConnectionRows(ddb, tableName, connectionId).then(
        (deleted) => logger.info('connection gone, rows deleted', { connectionId, topic, messageId, deleted }),
        (error: unknown) => logger.warn('connection gone, cleanup failed', { connectionId, topic, messageId, error: describeError(error) }),
      );
      this.goneConnections.set(connectionId, cleanup);
    }
    return cleanup;
  }
}
