/**
 * Fan-out speed and loss under throttling, in local mode: one publish to N subscribers whose
 * deliveries all go through the gateway's management API over HTTP (virtual connections, so
 * tens of thousands of subscribers cost no sockets), with latency injected on every call.
 *
 * Approaches, run side by side against the same gateway and table:
 *   ours       the publish handler (makeHandler) invoked with an SQS event, at several
 *              PUBLISH_CONCURRENCY values;
 *   ours-sqs   the full path: SendMessage to the local queue, the poller invokes the system's
 *              publish function (its configured concurrency), SQS retries what failed;
 *   article    baselines/article.ts: Scan + FilterExpression, unbounded Promise.all, no retry;
 *   sequential baselines/sequential.ts: one post after another (extrapolated past a cap).
 * Latency per subscriber = its first receipt − the moment the publish was sent.
 */
import { GetQueueAttributesCommand, PurgeQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { makeHandler as makePublishHandler } from '../functions/handlers/publish';
import { lambdaContext, type GatewayStats } from '../local/gateway';
import { ENV } from '../protocol/env';
import { deliveredMessage } from '../protocol/envelope';
import type { StackOutputs } from '../protocol/outputs';
import { makeArticlePublisher, type ArticlePublisher, type BaselineTarget } from './baselines/article';
import { makeSequentialPublisher } from './baselines/sequential';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/constants';
import { dynamoClient } from './lib/local-dynamo';
import type { AwsSide } from './lib/aws-side';
import type { Progress } from './lib/progress';
import type { DeliverySummary } from './lib/receipts';
import { putItems, subscriptionItem } from './lib/rows';
import { sqsEventOf } from './lib/sqs-event';
import { wallClockMs } from './lib/stats';

export interface FanoutSettings {
  /** Subscriber counts, e.g. 1,000 / 5,000 / 20,000. */
  sizes: readonly number[];
  /** PUBLISH_CONCURRENCY values to run our handler at. */
  concurrencies: readonly number[];
  /** The concurrency the system's own publish function runs with (the SQS path). */
  systemConcurrency: number;
  /** Added to every management API call. */
  latencyMs: number;
  /** The sequential loop posts at most this many times; larger fan-outs are extrapolated. */
  sequentialMaxPosts: number;
  /** The throttling comparison: subscribers, and the gateway's rate limit in posts/s. */
  throttle: { subscribers: number; perSecond: number };
  /** Longest wait for one run's deliveries. */
  runDeadlineMs: number;
  progress: Progress;
}

export type Approach = 'ours' | 'ours-sqs' | 'article' | 'sequential';

export interface FanoutRow {
  subscribers: number;
  approach: Approach;
  /** Posts allowed in flight; 'unbounded' for the article's Promise.all. */
  concurrency: number | 'unbounded';
  result: DeliverySummary;
  /** concurrency / latency, in posts per second (undefined when unbounded). */
  boundPerSecond?: number;
  /** Extrapolated from a smaller run instead of measured (the sequential loop on large N). */
  estimated: boolean;
  /** What the publisher itself answered (status code, failed records). */
  answer: string;
}

export interface ThrottleRow {
  approach: Approach;
  variant: string;
  subscribers: number;
  result: DeliverySummary;
  /** POST calls the gateway received and how many it answered 429. */
  posts: number;
  throttled: number;
  answer: string;
}

export interface FanoutResults {
  rows: FanoutRow[];
  throttle: ThrottleRow[];
  latencyMs: number;
  throttlePerSecond: number;
  /** The SDK's default sockets per client, which silently bounds the article's "unbounded" fan-out. */
  articleSocketLimit: number;
}

/** @smithy/node-http-handler's default `maxSockets` for a client built without a request handler. */
export const SDK_DEFAULT_MAX_SOCKETS = 50;

export function fanoutTopic(subscribers: number): string {
  return `bench/fanout-${subscribers}`;
}

interface Publisher {
  /** Publishes message `id`; resolves with what the publisher answered. */
  send(id: string): Promise<string>;
  quietMs?: number;
  /** Runs after the receipts are in; its answer replaces send's. */
  finish?(): Promise<string>;
}

/** A run ends this long after its last receipt when not every subscriber got the message. */
const QUIET_MS = 500;

export async function runFanout(side: AwsSide, settings: FanoutSettings): Promise<FanoutResults> {
  const { outputs } = side;
  const { progress } = settings;
  const target = baselineTarget(outputs);
  const sizes = [...new Set([...settings.sizes, settings.throttle.subscribers])].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1];
  progress(`fan-out: connecting ${largest.toLocaleString('en-US')} virtual subscribers through $connect`);
  const ids = await side.connect(largest);
  await seedSubscriptions(target, ids, sizes, progress);

  const ours = new Map<number, ReturnType<typeof makePublishHandler>>();
  const oursAt = (c: number) => {
    let handler = ours.get(c);
    if (!handler) ours.set(c, (handler = makePublishHandler(publishEnv(outputs, c))));
    return handler;
  };
  const article = makeArticlePublisher({ ...target, paginate: true });
  const sequential = makeSequentialPublisher(target);
  const sqs = new SQSClient({ region: target.region, credentials: target.credentials, endpoint: requiredOutput(outputs, 'sqsEndpoint') });
  let runNumber = 0;
  const nextId = (label: string) => `bench-${++runNumber}-${label}`;

  /** Waits until the gateway has seen no post for a while: nothing of an earlier run is still in flight. */
  async function quiesce(): Promise<void> {
    let last = (await side.stats()).posts;
    for (let still = 0; still < 3; ) {
      await sleep(100);
      const now = (await side.stats()).posts;
      still = now === last ? still + 1 : 0;
      last = now;
    }
  }

  /**
   * One measured publish: start the clock, let `send` publish, wait for the receipts, let
   * `finish` tidy up. `quietMs`: how long without a receipt ends an incomplete run.
   */
  async function measure(subscribers: number, label: string, publisher: Publisher): Promise<{ result: DeliverySummary; answer: string }> {
    await quiesce();
    const id = nextId(label);
    await side.expect(id, subscribers);
    const sentAt = wallClockMs();
    let answer = await Promise.race([
      publisher.send(id).catch((error: unknown) => `threw: ${(error as Error).message}`),
      sleep(settings.runDeadlineMs).then(() => `still running after ${settings.runDeadlineMs} ms`),
    ]);
    const result = await side.wait(id, sentAt, publisher.quietMs ?? QUIET_MS, settings.runDeadlineMs);
    if (publisher.finish) answer = await publisher.finish();
    progress(`  ${label}: ${result.delivered}/${subscribers} delivered in ${Math.round(result.durationMs)} ms`);
    return { result, answer };
  }

  const invokeOurs = (c: number, topic: string): Publisher => ({
    send: async (id) => {
      const body = JSON.stringify({ topic, id, data: benchData(id) });
      const response = await oursAt(c)(sqsEventOf(body, outputs.queueArn, target.region), benchContext());
      const failures = 'batchItemFailures' in response ? response.batchItemFailures.length : 0;
      return failures === 0 ? 'record succeeded' : 'record reported failed (SQS would retry it)';
    },
  });
  // SQS redelivers a failed record after the visibility timeout: a run is over only when no
  // receipt came for longer than that.
  const visibilityMs = await visibilityTimeoutMs(sqs, outputs.queueUrl);
  const viaQueue = (topic: string): Publisher => {
    let deadLettersBefore = 0;
    return {
      send: async (id) => {
        deadLettersBefore = await queueDepth(sqs, outputs.dlqUrl);
        await sqs.send(new SendMessageCommand({ QueueUrl: outputs.queueUrl, MessageBody: JSON.stringify({ topic, id, data: benchData(id) }) }));
        return 'sent';
      },
      quietMs: visibilityMs + 2000,
      finish: async () => {
        if (await queueDrained(sqs, outputs.queueUrl, 5000)) {
          return (await queueDepth(sqs, outputs.dlqUrl)) > deadLettersBefore ? 'record failed every receive, moved to the DLQ' : 'record succeeded';
        }
        // Still failing and retried by SQS: stop it here, or it would pollute the next run.
        await sqs.send(new PurgeQueueCommand({ QueueUrl: outputs.queueUrl }));
        return 'record still failing and retried by SQS (purged)';
      },
    };
  };
  const viaArticle = (publisher: ArticlePublisher, topic: string): Publisher => ({
    send: async (id) => {
      const answer = await publisher.publish(topic, frameFor(topic, id));
      await publisher.settled();
      return `HTTP ${answer.statusCode}`;
    },
  });

  const rows: FanoutRow[] = [];
  const throttleRows: ThrottleRow[] = [];
  try {
    await side.setFaults({ latencyMs: settings.latencyMs });
    progress('fan-out: warming up (not measured)');
    const warm = fanoutTopic(sizes[0]);
    for (const c of new Set([...settings.concurrencies, settings.systemConcurrency])) await measure(sizes[0], `warm-up ours c=${c}`, invokeOurs(c, warm));
    await measure(sizes[0], 'warm-up ours-sqs', viaQueue(warm));
    await measure(sizes[0], 'warm-up article', viaArticle(article, warm));

    const bound = (c: number) => c / (settings.latencyMs / 1000);
    let sequentialSample: { postingMsPerPost: number; queryMs: number } | undefined;
    for (const n of settings.sizes) {
      const topic = fanoutTopic(n);
      progress(`fan-out: ${n.toLocaleString('en-US')} subscribers, ${settings.latencyMs} ms per management call`);
      for (const c of settings.concurrencies) {
        const m = await measure(n, `ours c=${c}`, invokeOurs(c, topic));
        rows.push({ subscribers: n, approach: 'ours', concurrency: c, ...m, boundPerSecond: bound(c), estimated: false });
      }
      const viaSqs = await measure(n, `ours via SQS c=${settings.systemConcurrency}`, viaQueue(topic));
      rows.push({ subscribers: n, approach: 'ours-sqs', concurrency: settings.systemConcurrency, ...viaSqs, boundPerSecond: bound(settings.systemConcurrency), estimated: false });
      const a = await measure(n, 'article', viaArticle(article, topic));
      rows.push({ subscribers: n, approach: 'article', concurrency: 'unbounded', ...a, estimated: false });

      if (n <= settings.sequentialMaxPosts || !sequentialSample) {
        const posts = Math.min(n, settings.sequentialMaxPosts);
        let postingMs = 0;
        const s = await measure(posts, `sequential (${posts} posts)`, {
          send: async (id) => {
            const started = performance.now();
            const out = await sequential.publish(topic, frameFor(topic, id), posts);
            postingMs = out.postingMs;
            sequentialSample = { postingMsPerPost: out.postingMs / Math.max(1, out.posted), queryMs: performance.now() - started - out.postingMs };
            return `${out.posted} posted, ${out.failed} failed`;
          },
        });
        if (posts === n) rows.push({ subscribers: n, approach: 'sequential', concurrency: 1, ...s, boundPerSecond: bound(1), estimated: false });
        else rows.push({ subscribers: n, approach: 'sequential', concurrency: 1, result: extrapolate(n, sequentialSample!), answer: `extrapolated from ${posts} posts in ${Math.round(postingMs)} ms`, boundPerSecond: bound(1), estimated: true });
      } else {
        rows.push({ subscribers: n, approach: 'sequential', concurrency: 1, result: extrapolate(n, sequentialSample), answer: `extrapolated from the ${settings.sequentialMaxPosts}-post run`, boundPerSecond: bound(1), estimated: true });
      }
    }

    const { subscribers: tn, perSecond } = settings.throttle;
    const topic = fanoutTopic(tn);
    progress(`throttling: ${tn.toLocaleString('en-US')} subscribers, rate limit ${perSecond} posts/s, ${settings.latencyMs} ms per call`);
    const throttled = async (approach: Approach, variant: string, publisher: Publisher) => {
      await quiesce();
      // setFaults starts a fresh, full token bucket: every run meets the same limit.
      await side.setFaults({ latencyMs: settings.latencyMs, rateLimit: { perSecond } });
      const before = await side.stats();
      const m = await measure(tn, `throttled ${approach} ${variant}`, publisher);
      const delta = statsDelta(before, await side.stats());
      throttleRows.push({ approach, variant, subscribers: tn, ...m, posts: delta.posts, throttled: delta.throttled });
    };
    const c = settings.systemConcurrency;
    await throttled('ours', `one invocation, c=${c}`, invokeOurs(c, topic));
    await throttled('ours-sqs', `SQS path, c=${c}, record retried by SQS`, viaQueue(topic));
    await throttled('article', 'SDK default retries (3 attempts)', viaArticle(article, topic));
    const noRetry = makeArticlePublisher({ ...target, paginate: true, maxAttempts: 1 });
    try {
      await throttled('article', 'no retry at all (maxAttempts 1)', viaArticle(noRetry, topic));
    } finally {
      noRetry.destroy();
    }
  } finally {
    await side.setFaults({});
    article.destroy();
    sequential.destroy();
    sqs.destroy();
  }
  return { rows, throttle: throttleRows, latencyMs: settings.latencyMs, throttlePerSecond: settings.throttle.perSecond, articleSocketLimit: SDK_DEFAULT_MAX_SOCKETS };
}

function extrapolate(n: number, sample: { postingMsPerPost: number; queryMs: number }): DeliverySummary {
  const durationMs = sample.queryMs + n * sample.postingMsPerPost;
  return {
    expected: n,
    delivered: n,
    duplicates: 0,
    durationMs,
    deliveriesPerSecond: 1000 / sample.postingMsPerPost,
    // The k-th of n subscribers waits k posts: latencies are spread evenly over the run.
    p50Ms: sample.queryMs + 0.5 * n * sample.postingMsPerPost,
    p99Ms: sample.queryMs + 0.99 * n * sample.postingMsPerPost,
  };
}

function statsDelta(before: GatewayStats, after: GatewayStats) {
  return { posts: after.posts - before.posts, throttled: after.throttled - before.throttled };
}

/** The payload every approach sends: small, and carrying the id the receivers count by. */
function benchData(id: string) {
  return { id, text: 'benchmark message', padding: 'x'.repeat(128) };
}

/** The frame a subscriber receives, built as the publish handler builds it. */
export function frameFor(topic: string, id: string): string {
  return JSON.stringify(deliveredMessage(topic, id, benchData(id), new Date().toISOString()));
}

function benchContext() {
  return lambdaContext({ functionName: 'bench-publish', timeoutMs: 900_000, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
}

function requiredOutput(outputs: StackOutputs, key: 'sqsEndpoint' | 'dynamodbEndpoint'): string {
  const value = outputs[key];
  if (!value) throw new Error(`the local system's outputs have no ${key}: the benchmark needs the local endpoints`);
  return value;
}

export function baselineTarget(outputs: StackOutputs): BaselineTarget {
  return {
    tableName: outputs.tableName,
    dynamodbEndpoint: requiredOutput(outputs, 'dynamodbEndpoint'),
    managementEndpoint: outputs.managementEndpoint,
    region: outputs.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  };
}

/** The env map the publish handler gets in Lambda, pointed at the local system. */
export function publishEnv(outputs: StackOutputs, concurrency: number): Record<string, string> {
  const target = baselineTarget(outputs);
  return {
    [ENV.tableName]: target.tableName,
    [ENV.managementEndpoint]: target.managementEndpoint,
    [ENV.publishConcurrency]: String(concurrency),
    [ENV.logLevel]: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: target.region,
    AWS_ENDPOINT_URL_DYNAMODB: target.dynamodbEndpoint,
    AWS_ACCESS_KEY_ID: target.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
  };
}

/** Subscription rows for each size: the first `n` connections subscribe to that size's topic. */
async function seedSubscriptions(target: BaselineTarget, ids: readonly string[], sizes: readonly number[], progress: Progress): Promise<void> {
  const now = Date.now();
  const items = sizes.flatMap((n) => ids.slice(0, n).map((id) => subscriptionItem(id, fanoutTopic(n), now)));
  progress(`fan-out: writing ${items.length.toLocaleString('en-US')} subscription rows`);
  const client = dynamoClient(target.dynamodbEndpoint);
  try {
    await putItems(client, target.tableName, items);
  } finally {
    client.destroy();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

async function visibilityTimeoutMs(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['VisibilityTimeout'] }));
  const seconds = Number(Attributes?.VisibilityTimeout);
  if (!Number.isFinite(seconds)) throw new Error(`the publish queue reports no VisibilityTimeout (${JSON.stringify(Attributes)})`);
  return seconds * 1000;
}

/** Messages in the queue, visible or in flight. */
async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** True once the queue holds no message, visible or in flight; false at the deadline. */
async function queueDrained(sqs: SQSClient, queueUrl: string, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if ((await queueDepth(sqs, queueUrl)) === 0) return true;
    await sleep(100);
  }
  return false;
}
