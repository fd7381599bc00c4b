/**
 * Fan-out of one frame to every subscriber of a topic: query the sparse `byTopic` index page by
 * page (never Scan) and post each page through one limiter shared by the whole invocation, so
 * the number of posts in flight never exceeds PUBLISH_CONCURRENCY however many topics and
 * records are being published. The next page is fetched while the current one is posted; at
 * most two pages wait in the limiter, which bounds memory for very large topics.
 *
 * Under throttling the limiter adapts (AIMD, see adaptive-limit.ts): 429s lower the bound,
 * successes raise it back. A throttled post is retried until the invocation's retry deadline,
 * so a sustained limit below our rate slows the fan-out down instead of failing the record
 * (whose every redelivery would post to every subscriber again); 5xx and timeouts get at most
 * POST_MAX_ATTEMPTS attempts. A post waits for its backoff outside the limiter, so the bound
 * counts only requests actually in flight.
 */
import { PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { TABLE } from '../../protocol/table';
import { AdaptiveLimit } from './adaptive-limit';
import { fullJitterDelay, sleep } from './backoff';
import type { Config } from './config';
import { deleteConnectionRows } from './connection-rows';
import { classifyPostError, type PostErrorKind } from './post-errors';
import { describeError } from './telemetry';

/** Longest wait between two attempts of one post. */
export const POST_BACKOFF_CAP_MS = 2000;

export type DeliveryOutcome = 'delivered' | 'gone' | 'failed' | 'rejected';

export interface FanOutDeps {
  ddb: DynamoDBDocumentClient;
  management: ApiGatewayManagementApiClient;
  tableName: string;
  config: Pick<Config, 'publishConcurrency' | 'postMaxAttempts' | 'postBaseBackoffMs'>;
  logger: Logger;
  /** No retry starts after this time (`performance.now()` clock); see deadline.ts. */
  retryDeadline: number;
}

export interface TopicResult {
  subscribers: number;
  delivered: number;
  gone: number;
  /** Deliveries that still failed after retries (the record must be retried). */
  failed: number;
  /** Deliveries API Gateway refused as too large (retrying the record cannot help). */
  rejected: number;
}

/** What one attempt came to; `late` when a retry got its slot after the deadline and was not sent. */
type Attempt = { kind: 'delivered' } | { kind: PostErrorKind; error: unknown; startedAt: number } | { kind: 'late' };

/** One per invocation: the shared concurrency bound, counters for metrics, 410 bookkeeping. */
export class FanOut {
  readonly counts = { delivered: 0, gone: 0, throttled: 0, failed: 0, retries: 0 };
  /** The adaptive bound on posts in flight (its `bound`, `reductions` and `lowest` go to logs and metrics). */
  readonly limit: AdaptiveLimit;
  /** Connections that answered 410 in this invocation, with their cleanup; later posts skip them. */
  private readonly goneConnections = new Map<string, Promise<void>>();

  constructor(private readonly deps: FanOutDeps) {
    this.limit = new AdaptiveLimit({ max: deps.config.publishConcurrency });
  }

  async toTopic(topic: string, frame: Uint8Array, messageId: string): Promise<TopicResult> {
    const result: TopicResult = { subscribers: 0, delivered: 0, gone: 0, failed: 0, rejected: 0 };
    const postPage = async (connectionIds: string[]) => {
      const outcomes = await Promise.all(connectionIds.map((id) => this.deliver(id, topic, frame, messageId)));
      for (const outcome of outcomes) result[outcome]++;
    };
    const queued: Promise<void>[] = [];
    try {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.deps.ddb.send(
          new QueryCommand({
            TableName: this.deps.tableName,
            IndexName: TABLE.topicIndex,
            KeyConditionExpression: '#topic = :topic',
            ExpressionAttributeNames: { '#topic': TABLE.topicAttribute },
            ExpressionAttributeValues: { ':topic': topic },
            ExclusiveStartKey: startKey,
          }),
        );
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
    return result;
  }

  /**
   * Post one frame to one connection. 429s are retried until the retry deadline, 5xx/timeouts
   * up to POST_MAX_ATTEMPTS attempts, both with full-jitter backoff; no retry starts after the
   * deadline.
   */
  private async deliver(connectionId: string, topic: string, frame: Uint8Array, messageId: string): Promise<DeliveryOutcome> {
    const { config, logger, retryDeadline } = this.deps;
    let transientFailures = 0;
    for (let attempt = 1; ; attempt++) {
      const result = await this.limit.run((startedAt) => this.attempt(connectionId, topic, frame, messageId, attempt, startedAt));
      if (result.kind === 'delivered') return 'delivered';
      if (result.kind === 'gone') return 'gone';
      let retry = false;
      if (result.kind === 'throttled') retry = true;
      if (result.kind === 'transient') retry = ++transientFailures < config.postMaxAttempts;
      const delay = retry ? fullJitterDelay(attempt, config.postBaseBackoffMs, POST_BACKOFF_CAP_MS) : 0;
      const pastDeadline = result.kind === 'late' || (retry && performance.now() + delay >= retryDeadline);
      if (retry && !pastDeadline) {
        this.counts.retries++;
        await sleep(delay);
        continue;
      }
      this.counts.failed++;
      logger.warn('delivery failed', {
        connectionId,
        topic,
        messageId,
        kind: result.kind === 'late' ? 'throttled' : result.kind,
        attempts: result.kind === 'late' ? attempt - 1 : attempt,
        ...(pastDeadline ? { reason: 'retry deadline reached' } : {}),
        ...('error' in result ? { error: describeError(result.error) } : {}),
      });
      return result.kind === 'tooLarge' ? 'rejected' : 'failed';
    }
  }

  /** One attempt, run in a limiter slot: the post, and for a 410 the connection's cleanup. */
  private async attempt(connectionId: string, topic: string, frame: Uint8Array, messageId: string, attempt: number, startedAt: number): Promise<Attempt> {
    if (this.goneConnections.has(connectionId)) return { kind: 'gone', error: undefined, startedAt };
    // A retry that waited for its slot past the deadline is not sent: the time left is for answering.
    if (attempt > 1 && startedAt >= this.deps.retryDeadline) return { kind: 'late' };
    try {
      await this.deps.management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
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
