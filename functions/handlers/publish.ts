/**
 * publish: deliver publish envelopes to every subscriber of their topics.
 *
 * Input is either an SQS event from the publish queue (answered with a partial batch response:
 * only records whose deliveries still failed after retries are retried by SQS, then go to the
 * DLQ) or a raw EventBridge event whose `detail` is the envelope (a failure throws, so
 * EventBridge retries it). Delivery is at least once; every frame carries an `id` that stays the
 * same across retries, and clients drop duplicates.
 *
 * An envelope that can never be delivered (not JSON, fails the schema, more topics than the
 * subscription cap, data nested too deep, frame over the size limit, a rule message whose event
 * does not fill its topic template) is logged with its reason and counted as processed: it is
 * never retried.
 * A connection subscribed to several topics of one envelope receives one frame per topic.
 *
 * Throttled posts are retried until the invocation's deadline (the context's remaining time
 * minus a margin to answer, see lib/deadline.ts), while the fan-out lowers its concurrency: a
 * sustained rate limit slows the invocation down instead of failing the record. After the
 * deadline nothing more is sent or fetched; a record not fully delivered by then fails.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { makeManagementApi } from '../lib/clients';
import type { EnvMap } from '../lib/config';
import type { Poster } from '../lib/delivery/management-api';
import { retryDeadline } from '../lib/deadline';
import { FanOut } from '../lib/fan-out';
import { lambdaEntry } from '../lib/lazy-handler';
import { prepareFrames, toIsoTime, type PublishInput } from '../lib/publish-input';
import { makeRuntime } from '../lib/runtime';
import { describeError, MetricUnit } from '../lib/telemetry';

export type PublishEvent = SQSEvent | EventBridgeEvent<string, unknown>;

/** What one envelope came to. */
export interface PublishOutcome {
  id: string;
  status: 'delivered' | 'rejected' | 'failed';
  reason?: string;
  subscribers: number;
  delivered: number;
  gone: number;
  /** Deliveries that failed or were not sent by the deadline: the envelope is retried. */
  failed: number;
  /** Of `failed`: deliveries not sent because the deadline had passed. */
  notSent: number;
  /** Deliveries API Gateway refused as too large (never retried). */
  rejectedDeliveries: number;
  /** The deadline passed before every page of subscribers was read: the envelope is retried. */
  unfetched: boolean;
}

/** The result for a raw EventBridge event (an SQS event gets `{ batchItemFailures }`). */
export type EventBridgeResult = PublishOutcome;

export class DeliveryFailedError extends Error {
  constructor(readonly outcome: PublishOutcome) {
    const unfetched = outcome.unfetched ? '; subscribers not yet read when the deadline passed' : '';
    super(`message ${outcome.id}: ${outcome.failed} of ${outcome.subscribers} deliveries still failed after retries${unfetched}`);
    this.name = 'DeliveryFailedError';
  }
}

function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === 'object' && event !== null && Array.isArray((event as SQSEvent).Records);
}

function isEventBridgeEvent(event: unknown): event is EventBridgeEvent<string, unknown> {
  return typeof event === 'object' && event !== null && 'detail' in event && 'detail-type' in event && typeof (event as { id?: unknown }).id === 'string';
}

/** Test seams; production uses the defaults. */
export interface PublishHandlerOptions {
  /** The monotonic clock the retry deadline is measured on (default `performance.now()`). */
  now?: () => number;
  /** What sends PostToConnection (default: the management API client built from the env map). */
  poster?: Poster;
}

export function makeHandler(
  env: EnvMap,
  options: PublishHandlerOptions = {},
): (event: PublishEvent, context?: Context | unknown) => Promise<SQSBatchResponse | EventBridgeResult> {
  const now = options.now ?? (() => performance.now());
  const runtime = makeRuntime(env, 'realtime-publish');
  const { ddb, tableName, logger, metrics, config } = runtime;
  const management = options.poster ?? makeManagementApi(config, env);

  /** Deliver one envelope; resolves with its outcome (never throws for a bad envelope). */
  async function publishOne(fanOut: FanOut, input: PublishInput): Promise<PublishOutcome> {
    const prepared = prepareFrames(input, config);
    if (!prepared.ok) {
      logger.error('envelope rejected, not retried', { messageId: prepared.id, reason: prepared.reason });
      metrics.addMetric('rejected', MetricUnit.Count, 1);
      return { id: prepared.id, status: 'rejected', reason: prepared.reason, subscribers: 0, delivered: 0, gone: 0, failed: 0, notSent: 0, rejectedDeliveries: 0, unfetched: false };
    }
    const started = performance.now();
    const results = await Promise.all(prepared.frames.map((f) => fanOut.toTopic(f.topic, f.bytes, prepared.id)));
    metrics.addMetric('fanOutDuration', MetricUnit.Milliseconds, performance.now() - started);
    const sum = (key: 'subscribers' | 'delivered' | 'gone' | 'failed' | 'notSent' | 'rejected') => results.reduce((n, r) => n + r[key], 0);
    const unfetched = results.some((r) => r.unfetched);
    const outcome: PublishOutcome = {
      id: prepared.id,
      status: sum('failed') > 0 || unfetched ? 'failed' : 'delivered',
      subscribers: sum('subscribers'),
      delivered: sum('delivered'),
      gone: sum('gone'),
      failed: sum('failed'),
      notSent: sum('notSent'),
      rejectedDeliveries: sum('rejected'),
      unfetched,
    };
    if (sum('rejected') > 0) {
      outcome.reason = `API Gateway refused ${sum('rejected')} deliveries as too large; not retried`;
      logger.error('deliveries refused as too large', { messageId: prepared.id, topics: prepared.topics, refused: sum('rejected') });
    }
    const { bound, reductions } = fanOut.limit;
    logger.info('published', { messageId: prepared.id, topics: prepared.topics, ...outcome, concurrency: bound, concurrencyReductions: reductions });
    return outcome;
  }

  function flushCounts(fanOut: FanOut) {
    for (const name of ['delivered', 'gone', 'throttled', 'failed'] as const) metrics.addMetric(name, MetricUnit.Count, fanOut.counts[name]);
    // 413s apart from `failed` (they are never retried), and apart from `rejected` (envelopes dropped before any post).
    metrics.addMetric('rejectedDeliveries', MetricUnit.Count, fanOut.counts.rejected);
    // How hard API Gateway pushed back: bound cuts, and the lowest bound the invocation ran at.
    metrics.addMetric('concurrencyReductions', MetricUnit.Count, fanOut.limit.reductions);
    metrics.addMetric('minConcurrency', MetricUnit.Count, fanOut.limit.lowest);
    runtime.flushMetrics();
  }

  /** One per invocation, with the deadline taken from this invocation's context. */
  const newFanOut = (context: unknown) =>
    new FanOut({ ddb, management, tableName, config, logger, now, retryDeadline: retryDeadline(context, config.publishRetryBudgetMs, now()) });

  async function handleSqs(event: SQSEvent, context: unknown): Promise<SQSBatchResponse> {
    const fanOut = newFanOut(context);
    // One processor per invocation: the local mode may run several invocations at once.
    const processor = new BatchProcessor(EventType.SQS);
    const recordHandler = async (record: SQSRecord) => {
      try {
        const outcome = await publishOne(fanOut, {
          payload: record.body,
          fallbackId: record.messageId,
          publishedAt: toIsoTime(record.attributes?.SentTimestamp),
          ruleMessages: true,
        });
        if (outcome.status === 'failed') throw new DeliveryFailedError(outcome);
        return outcome;
      } catch (error) {
        // Reported in batchItemFailures: SQS redelivers the record after its visibility timeout.
        logger.warn('record failed, SQS will retry it', { messageId: record.messageId, error: describeError(error) });
        throw error;
      }
    };
    try {
      return await processPartialResponse(event, recordHandler, processor, {
        context: context as Context,
        throwOnFullBatchFailure: false,
      });
    } finally {
      flushCounts(fanOut);
    }
  }

  async function handleEventBridge(event: EventBridgeEvent<string, unknown>, context: unknown): Promise<EventBridgeResult> {
    const fanOut = newFanOut(context);
    try {
      const outcome = await publishOne(fanOut, { payload: event.detail, fallbackId: event.id, publishedAt: toIsoTime(event.time) });
      // Throwing makes EventBridge retry the event (same id, so clients de-duplicate).
      if (outcome.status === 'failed') throw new DeliveryFailedError(outcome);
      return outcome;
    } catch (error) {
      logger.warn('event failed, EventBridge will retry it', { messageId: event.id, error: describeError(error) });
      throw error;
    } finally {
      flushCounts(fanOut);
    }
  }

  return async (event, context) => {
    runtime.addContext(context);
    if (isSqsEvent(event)) return handleSqs(event, context);
    if (isEventBridgeEvent(event)) return handleEventBridge(event, context);
    throw new Error('publish expects an SQS event (Records) or an EventBridge event (id, detail-type, detail)');
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
