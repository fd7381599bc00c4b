/**
 * publish: deliver publish envelopes to every subscriber of their topics.
 *
 * Input is either an SQS event from the publish queue (answered with a partial batch response)
 * or a raw EventBridge event whose `detail` is the envelope (a failure throws, so EventBridge
 * retries it). Delivery is at least once; every frame carries an `id` that stays the same across
 * retries, and clients drop duplicates.
 *
 * For each topic of an envelope: the message gets its place in the topic's stream (`seq`, kept
 * across redeliveries of the same id) and is retained for resuming subscribers (history/), then
 * fanned out (delivery/topic-fan-out.ts): the topic's first SLICE_THRESHOLD subscribers are
 * posted to here, the rest cut into slice jobs for the delivery function, and connections whose
 * post failed or was not sent by the deadline handed to retry jobs. A record succeeds once
 * every job is queued: a failure of some deliveries never has SQS redeliver the whole message
 * to everyone. It fails (and SQS retries it) only when sequencing, retention or queueing fails,
 * or the deadline comes before every subscriber was read.
 *
 * An envelope that can never be delivered (not JSON, fails the schema, more topics than the
 * subscription cap, data nested too deep, frame over the size limit, a rule message whose event
 * does not fill its topic template) is logged with its reason and counted as processed: it is
 * never retried. A connection subscribed to several topics of one envelope receives one frame
 * per topic.
 *
 * The queue also carries client publishes (from the relay: an envelope with `from`, delivered as
 * is) and presence events (`{"presence":…}`, from presence/): those are fanned out the same way
 * but take no place in the stream and are not retained.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import type { StreamPosition } from '../../protocol/history';
import type { EnvMap } from '../lib/config';
import { retryDeadline } from '../lib/deadline';
import { Deliverer } from '../lib/delivery/deliverer';
import type { JobQueue } from '../lib/delivery/job-queue';
import type { Poster } from '../lib/delivery/management-api';
import { makePosting } from '../lib/delivery/posting';
import { SubscriberReader, TOPIC_QUERY_CONCURRENCY } from '../lib/delivery/subscribers';
import { fanOutTopic, type TopicResult } from '../lib/delivery/topic-fan-out';
import { Sequencer } from '../lib/history/sequencer';
import { lambdaEntry } from '../lib/lazy-handler';
import { prepareMessage, toIsoTime, type PreparedMessage, type PublishInput } from '../lib/publish-input';
import { makeRuntime } from '../lib/runtime';
import { describeError, MetricUnit } from '../lib/telemetry';

export type PublishEvent = SQSEvent | EventBridgeEvent<string, unknown>;

/** What one envelope came to. */
export interface PublishOutcome {
  id: string;
  /** delivered: every subscriber reached here; queued: the rest is on the delivery queue; failed: retried by SQS / EventBridge. */
  status: 'delivered' | 'queued' | 'rejected' | 'failed';
  reason?: string;
  /** Each topic's place of this message in its stream (none without history). */
  positions?: Record<string, StreamPosition>;
  subscribers: number;
  delivered: number;
  gone: number;
  /** Deliveries API Gateway refused as too large (never retried). */
  rejectedDeliveries: number;
  /** Connections handed to slice jobs. */
  sliced: number;
  /** Connections whose post failed here, handed to retry jobs. */
  retrying: number;
  /** Connections not sent to by the deadline, handed to rest jobs. */
  rest: number;
  /** The deadline passed before every page of subscribers was read: the envelope is retried. */
  unfetched: boolean;
}

/** The result for a raw EventBridge event (an SQS event gets `{ batchItemFailures }`). */
export type EventBridgeResult = PublishOutcome;

export class DeliveryFailedError extends Error {
  constructor(readonly outcome: PublishOutcome) {
    super(`message ${outcome.id}: the deadline passed before every subscriber of its topics was read (${outcome.subscribers} read)`);
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
  /**
   * Told what each envelope came to once it settled, with its topics (none when it failed before
   * they were known): the local mode prints it. What it throws is ignored.
   */
  onOutcome?: (outcome: PublishOutcome, topics: readonly string[]) => void;
}

const EMPTY: Omit<PublishOutcome, 'id' | 'status'> = { subscribers: 0, delivered: 0, gone: 0, rejectedDeliveries: 0, sliced: 0, retrying: 0, rest: 0, unfetched: false };

export function makeHandler(
  env: EnvMap,
  options: PublishHandlerOptions = {},
): (event: PublishEvent, context?: Context | unknown) => Promise<SQSBatchResponse | EventBridgeResult> {
  const now = options.now ?? (() => performance.now());
  const runtime = makeRuntime(env, 'realtime-publish');
  const { ddb, tableName, logger, metrics, config } = runtime;
  const { poster, jobs, budget, forgetConnection } = makePosting(runtime, env, options);
  const sequencer = config.history ? new Sequencer(ddb, config.history) : undefined;
  const report = (outcome: PublishOutcome, topics: readonly string[]) => {
    try {
      options.onOutcome?.(outcome, topics);
    } catch {
      // an observer never changes what happens to the message
    }
  };
  /** A record that failed before it had an outcome (sequencing, retention or queueing threw): SQS or EventBridge retries it. */
  const reportFailure = (id: string, error: unknown) => {
    if (!(error instanceof DeliveryFailedError)) report({ id, status: 'failed', reason: describeError(error).message, ...EMPTY }, []);
  };

  /** What one invocation shares across its records: the posts-in-flight bound, the query bound, the topics in progress. */
  interface Invocation {
    deliverer: Deliverer;
    reader: SubscriberReader;
    topics: ReturnType<typeof pLimit>;
  }

  /** One topic of a message: its place in the stream, retention, fan-out. */
  async function publishTopic(inv: Invocation, message: PreparedMessage, topic: string): Promise<TopicResult & { position?: StreamPosition }> {
    let position: StreamPosition | undefined;
    if (sequencer && message.sequenced) {
      const assigned = await sequencer.assign(topic, message.id);
      position = { seq: assigned.seq, epoch: assigned.epoch };
      if (assigned.repeated) logger.info('redelivered message keeps its place', { messageId: message.id, topic, seq: assigned.seq });
    }
    const frame = message.frameFor(topic, position);
    // Retained before anyone can see it, so a subscriber that resumes later finds it (a repeated put is harmless).
    if (sequencer && position) await sequencer.retain(topic, position.seq, message.id, frame);
    const result = await fanOutTopic({ reader: inv.reader, deliverer: inv.deliverer, jobs, settings: config, logger }, { topic, messageId: message.id, frame });
    return { ...result, position };
  }

  /** Deliver one envelope; resolves with its outcome (never throws for a bad envelope). */
  async function publishOne(inv: Invocation, input: PublishInput): Promise<PublishOutcome> {
    const prepared = prepareMessage(input, config);
    if (!prepared.ok) {
      logger.error('envelope rejected, not retried', { messageId: prepared.id, reason: prepared.reason });
      metrics.addMetric('rejected', MetricUnit.Count, 1);
      const rejected: PublishOutcome = { id: prepared.id, status: 'rejected', reason: prepared.reason, ...EMPTY };
      report(rejected, []);
      return rejected;
    }
    const started = performance.now();
    // Every topic settles before the record is answered, a failed one too: no post or job of this message outlives the invocation.
    const settled = await Promise.allSettled(prepared.topics.map((topic) => inv.topics(() => publishTopic(inv, prepared, topic))));
    const failure = settled.find((s) => s.status === 'rejected');
    if (failure) throw failure.reason;
    const results = settled.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof publishTopic>>>).value);
    metrics.addMetric('fanOutDuration', MetricUnit.Milliseconds, performance.now() - started);
    const sum = (key: 'subscribers' | 'delivered' | 'gone' | 'rejected' | 'sliced' | 'retrying' | 'rest') => results.reduce((n, r) => n + r[key], 0);
    const unfetched = results.some((r) => r.unfetched);
    const queued = sum('sliced') + sum('retrying') + sum('rest');
    const outcome: PublishOutcome = {
      id: prepared.id,
      status: unfetched ? 'failed' : queued > 0 ? 'queued' : 'delivered',
      ...(sequencer && prepared.sequenced ? { positions: Object.fromEntries(prepared.topics.map((t, i) => [t, results[i].position!])) } : {}),
      subscribers: sum('subscribers'),
      delivered: sum('delivered'),
      gone: sum('gone'),
      rejectedDeliveries: sum('rejected'),
      sliced: sum('sliced'),
      retrying: sum('retrying'),
      rest: sum('rest'),
      unfetched,
    };
    if (outcome.rejectedDeliveries > 0) {
      outcome.reason = `API Gateway refused ${outcome.rejectedDeliveries} deliveries as too large; not retried`;
      logger.error('deliveries refused as too large', { messageId: prepared.id, topics: prepared.topics, refused: outcome.rejectedDeliveries });
    }
    const { bound, reductions } = inv.deliverer.limit;
    logger.info('published', { messageId: prepared.id, topics: prepared.topics, ...outcome, concurrency: bound, concurrencyReductions: reductions });
    report(outcome, prepared.topics);
    return outcome;
  }

  function flushCounts(deliverer: Deliverer) {
    const c = deliverer.counts;
    for (const name of ['delivered', 'gone', 'throttled', 'failed', 'notSent'] as const) metrics.addMetric(name, MetricUnit.Count, c[name]);
    // 413s apart from `failed` (they are never retried), and apart from `rejected` (envelopes dropped before any post).
    metrics.addMetric('rejectedDeliveries', MetricUnit.Count, c.rejected);
    // How hard API Gateway pushed back: bound cuts, and the lowest bound the invocation ran at.
    metrics.addMetric('concurrencyReductions', MetricUnit.Count, deliverer.limit.reductions);
    metrics.addMetric('minConcurrency', MetricUnit.Count, deliverer.limit.lowest);
    runtime.flushMetrics();
  }

  /** What one invocation shares, with the deadline taken from its context. */
  const newInvocation = (context: unknown): Invocation => ({
    deliverer: new Deliverer({ poster, ddb, tableName, config, logger, now, budget, forgetConnection, retryDeadline: retryDeadline(context, config.publishRetryBudgetMs, now()) }),
    reader: new SubscriberReader(ddb, tableName),
    topics: pLimit(TOPIC_QUERY_CONCURRENCY),
  });

  async function handleSqs(event: SQSEvent, context: unknown): Promise<SQSBatchResponse> {
    const inv = newInvocation(context);
    const jobsBefore = { ...jobs.counts };
    // One processor per invocation: a container may run one invocation after another, never two at once, but tests do.
    const processor = new BatchProcessor(EventType.SQS);
    const recordHandler = async (record: SQSRecord) => {
      try {
        const outcome = await publishOne(inv, {
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
        reportFailure(record.messageId, error);
        throw error;
      }
    };
    try {
      return await processPartialResponse(event, recordHandler, processor, { context: context as Context, throwOnFullBatchFailure: false });
    } finally {
      addJobMetrics(jobsBefore);
      flushCounts(inv.deliverer);
    }
  }

  function addJobMetrics(before: JobQueue['counts']) {
    metrics.addMetric('jobsQueued', MetricUnit.Count, jobs.counts.enqueued - before.enqueued);
    metrics.addMetric('jobsDeadLettered', MetricUnit.Count, jobs.counts.deadLettered - before.deadLettered);
  }

  async function handleEventBridge(event: EventBridgeEvent<string, unknown>, context: unknown): Promise<EventBridgeResult> {
    const inv = newInvocation(context);
    const jobsBefore = { ...jobs.counts };
    try {
      const outcome = await publishOne(inv, { payload: event.detail, fallbackId: event.id, publishedAt: toIsoTime(event.time) });
      // Throwing makes EventBridge retry the event (same id, so it keeps its seq and clients de-duplicate).
      if (outcome.status === 'failed') throw new DeliveryFailedError(outcome);
      return outcome;
    } catch (error) {
      logger.warn('event failed, EventBridge will retry it', { messageId: event.id, error: describeError(error) });
      reportFailure(event.id, error);
      throw error;
    } finally {
      addJobMetrics(jobsBefore);
      flushCounts(inv.deliverer);
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
