/**
 * The stand-in for Lambda's SQS event source mapping (with ReportBatchItemFailures): pollers
 * long-poll the queue, invoke the handler with a real SQSEvent, delete what succeeded and leave
 * the rest in flight, so it comes back after the visibility timeout and, after maxReceiveCount
 * receives, moves to the dead-letter queue (the queue's own redrive does that part).
 *   - `{batchItemFailures: [...]}` fails just those records; null, {} or an empty list is success;
 *   - a thrown error, or a failure entry naming no record of the batch, fails the whole batch;
 *   - at most `maximumConcurrency` invocations run at once (scalingConfig.maximumConcurrency), each
 *     in its own execution environment of a FunctionPool (own SDK clients, reused while warm).
 */
import { setMaxListeners } from 'node:events';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './constants';
import type { LambdaLike } from './gateway';
import { FunctionPool } from './lambda/function-pool';
import { md5OfAttributes, systemAttributesOf, type Delivery, type Queue } from './sqs';

export interface PollerOptions {
  queue: Queue;
  /**
   * The function the mapping invokes: `build` makes one execution environment (one per concurrent
   * invocation, reused while warm); `handler` is one instance shared by every invocation (tests).
   * Exactly one of the two.
   */
  build?: () => LambdaLike;
  handler?: LambdaLike;
  /** Records per invocation (default 10; above 10 needs a batching window, as on AWS). */
  batchSize?: number;
  /** How long to gather a batch before invoking (default 0: invoke with what one receive got). */
  maxBatchingWindowMs?: number;
  /** Concurrent invocations (default 2, Lambda's minimum for maximumConcurrency). */
  maximumConcurrency?: number;
  functionName?: string;
  /** The function timeout the context reports (getRemainingTimeInMillis). Default 60 s. */
  timeoutMs?: number;
  region?: string;
  accountId?: string;
  /** A batch failed as a whole (thrown error or malformed response). */
  onBatchError?: (error: unknown, event: SQSEvent) => void;
  /** An invocation outlasted the visibility timeout: its messages were visible again meanwhile. */
  onSlowInvocation?: (ms: number, visibilityTimeoutSeconds: number) => void;
}

export interface PollerStats {
  invocations: number;
  records: number;
  /** Records deleted after success. */
  succeeded: number;
  /** Records left for a retry (partial failures and failed batches). */
  failed: number;
  failedBatches: number;
}

export interface Poller {
  stats(): PollerStats;
  /** The invoked function's environments (stats: cold starts, concurrency). */
  readonly pool: FunctionPool;
  /** Stop receiving, let running invocations finish, and resolve. */
  stop(): Promise<void>;
}

const LONG_POLL_SECONDS = 20;
const MAX_RECEIVE = 10;

export function startPoller(options: PollerOptions): Poller {
  const batchSize = options.batchSize ?? 10;
  const windowMs = options.maxBatchingWindowMs ?? 0;
  const concurrency = options.maximumConcurrency ?? 2;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new RangeError(`batchSize must be a whole number from 1 to 10000, got ${batchSize}`);
  if (batchSize > MAX_RECEIVE && windowMs <= 0) throw new RangeError('a batchSize above 10 needs a batching window, as on AWS');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`maximumConcurrency must be a whole number >= 1, got ${concurrency}`);
  if ((options.build === undefined) === (options.handler === undefined)) throw new TypeError('startPoller takes either build or handler');
  const { queue, handler } = options;
  const region = options.region ?? LOCAL_REGION;
  // As many environments as the mapping runs invocations: none ever waits.
  const fn = new FunctionPool({
    name: options.functionName ?? 'publish',
    build: options.build ?? (() => handler!),
    maxConcurrency: concurrency,
    timeoutMs: options.timeoutMs ?? 60_000,
    region,
    accountId: options.accountId ?? LOCAL_ACCOUNT,
  });
  const stats: PollerStats = { invocations: 0, records: 0, succeeded: 0, failed: 0, failedBatches: 0 };
  const controller = new AbortController();
  const signal = controller.signal;
  // Each worker's long poll listens for the abort: Node's default bound (10) would warn on every start above it.
  setMaxListeners(concurrency, signal);

  const collect = async (): Promise<Delivery[]> => {
    const batch = await queue.receive({ maxMessages: Math.min(MAX_RECEIVE, batchSize), waitSeconds: LONG_POLL_SECONDS, signal });
    if (batch.length === 0 || windowMs <= 0) return batch;
    const deadline = Date.now() + windowMs;
    while (batch.length < batchSize && !signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      batch.push(...(await queue.receive({ maxMessages: Math.min(MAX_RECEIVE, batchSize - batch.length), waitSeconds: left / 1000, signal })));
    }
    return batch;
  };

  const invoke = async (batch: Delivery[]) => {
    const event: SQSEvent = { Records: batch.map((d) => toRecord(d, queue.arn, region)) };
    stats.invocations++;
    stats.records += batch.length;
    const started = Date.now();
    let failedIds: Set<string>;
    try {
      failedIds = failuresOf(await fn.invoke(event), batch);
    } catch (err) {
      stats.failedBatches++;
      options.onBatchError?.(err, event);
      failedIds = new Set(batch.map((d) => d.messageId));
    }
    const ms = Date.now() - started;
    if (ms > queue.settings.visibilityTimeoutSeconds * 1000) options.onSlowInvocation?.(ms, queue.settings.visibilityTimeoutSeconds);
    for (const d of batch) {
      if (failedIds.has(d.messageId)) {
        stats.failed++;
        continue;
      }
      queue.delete(d.receiptHandle);
      stats.succeeded++;
    }
  };

  const worker = async () => {
    while (!signal.aborted) {
      let batch: Delivery[];
      try {
        batch = await collect();
      } catch {
        return; // the queue was shut down
      }
      if (batch.length > 0) await invoke(batch);
    }
  };
  const workers = Array.from({ length: concurrency }, () => worker());

  let stopped: Promise<void> | undefined;
  return {
    stats: () => ({ ...stats }),
    pool: fn,
    stop: () =>
      (stopped ??= (async () => {
        controller.abort();
        await Promise.all(workers);
      })()),
  };
}

/** The record Lambda builds from one received message. */
export function toRecord(d: Delivery, queueArn: string, region: string): SQSRecord {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(d.attributes)) {
    messageAttributes[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: value.BinaryValue.toString('base64') } : {}),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType,
    };
  }
  const md5 = md5OfAttributes(d.attributes);
  return {
    messageId: d.messageId,
    receiptHandle: d.receiptHandle,
    body: d.body,
    attributes: systemAttributesOf(d) as unknown as SQSRecord['attributes'],
    messageAttributes,
    md5OfBody: d.md5OfBody,
    ...(md5 ? { md5OfMessageAttributes: md5 } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * The ids a partial batch response marks failed. A response Lambda cannot read (an entry that is
 * not an object, or names no record of this batch) fails the whole batch, as on AWS.
 */
export function failuresOf(response: unknown, batch: Delivery[]): Set<string> {
  if (response === undefined || response === null || typeof response !== 'object') return new Set();
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  const all = new Set(batch.map((d) => d.messageId));
  if (!Array.isArray(list)) return all;
  const failed = new Set<string>();
  for (const item of list) {
    const id = typeof item === 'object' && item !== null ? (item as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || !all.has(id)) return all;
    failed.add(id);
  }
  return failed;
}
