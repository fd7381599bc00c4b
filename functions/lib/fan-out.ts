/**
 * Fan-out of one frame to every subscriber of a topic: query the sparse `byTopic` index page by
 * page (never Scan) and post each page through one p-limit shared by the whole invocation, so
 * the number of posts in flight never exceeds PUBLISH_CONCURRENCY however many topics and
 * records are being published. The next page is fetched while the current one is posted; at
 * most two pages wait in the limiter, which bounds memory for very large topics.
 */
import { PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import pLimit, { type LimitFunction } from 'p-limit';
import { TABLE } from '../../protocol/table';
import { fullJitterDelay, sleep } from './backoff';
import type { Config } from './config';
import { deleteConnectionRows } from './connection-rows';
import { classifyPostError, isRetryable } from './post-errors';
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

/** One per invocation: the shared concurrency bound, counters for metrics, 410 bookkeeping. */
export class FanOut {
  readonly counts = { delivered: 0, gone: 0, throttled: 0, failed: 0, retries: 0 };
  private readonly limit: LimitFunction;
  /** Connections that answered 410 in this invocation, with their cleanup; later posts skip them. */
  private readonly goneConnections = new Map<string, Promise<void>>();

  constructor(private readonly deps: FanOutDeps) {
    this.limit = pLimit(deps.config.publishConcurrency);
  }

  async toTopic(topic: string, frame: Uint8Array, messageId: string): Promise<TopicResult> {
    const result: TopicResult = { subscribers: 0, delivered: 0, gone: 0, failed: 0, rejected: 0 };
    const postPage = async (connectionIds: string[]) => {
      const outcomes = await Promise.all(connectionIds.map((id) => this.limit(() => this.deliver(id, topic, frame, messageId))));
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

  /** Post one frame to one connection, retrying 429/5xx/timeouts with full-jitter backoff. */
  private async deliver(connectionId: string, topic: string, frame: Uint8Array, messageId: string): Promise<DeliveryOutcome> {
    const { management, config, logger } = this.deps;
    if (this.goneConnections.has(connectionId)) return 'gone';
    for (let attempt = 1; ; attempt++) {
      try {
        await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
        this.counts.delivered++;
        return 'delivered';
      } catch (error) {
        const kind = classifyPostError(error);
        if (kind === 'gone') {
          this.counts.gone++;
          await this.forget(connectionId, topic, messageId);
          return 'gone';
        }
        if (kind === 'throttled') this.counts.throttled++;
        if (isRetryable(kind) && attempt < config.postMaxAttempts) {
          this.counts.retries++;
          await sleep(fullJitterDelay(attempt, config.postBaseBackoffMs, POST_BACKOFF_CAP_MS));
          continue;
        }
        this.counts.failed++;
        logger.warn('delivery failed', { connectionId, topic, messageId, kind, attempts: attempt, error: describeError(error) });
        return kind === 'tooLarge' ? 'rejected' : 'failed';
      }
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
