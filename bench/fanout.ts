/**
 * Fan-out speed and loss under throttling, in local mode: one publish to N subscribers whose
 * deliveries all go through the gateway's management API over HTTP (virtual connections, so
 * tens of thousands of subscribers cost no sockets), with latency injected on every call.
 *
 * Approaches, run side by side against the same gateway and table:
 *   ours       the publish handler (makeHandler) invoked in this thread with an SQS event, at
 *              several PUBLISH_CONCURRENCY values;
 *   ours-sqs   the full path: SendMessage to the local queue, the poller invokes the system's
 *              publish function (in the local system's thread);
 *   article    baselines/article.ts: Scan + FilterExpression, unbounded Promise.all, no retry;
 *   sequential baselines/sequential.ts: one post after another (extrapolated past a cap).
 * Latency per subscriber = its first receipt − the moment the publish was sent.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { makeHandler as makePublishHandler } from '../functions/handlers/publish';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/constants';
import { lambdaContext, type GatewayStats } from '../local/gateway';
import { ENV } from '../protocol/env';
import { deliveredMessage } from '../protocol/envelope';
import type { StackOutputs } from '../protocol/outputs';
import { makeArticlePublisher, type ArticlePublisher, type BaselineTarget } from './baselines/article';
import { makeSequentialPublisher } from './baselines/sequential';
import type { AwsSide } from './lib/aws-side';
import { dynamoClient } from './lib/local-dynamo';
import type { Progress } from './lib/progress';
import type { DeliverySummary } from './lib/receipts';
import { putItems, subscriptionItem } from './lib/rows';
import { sqsEventOf } from './lib/sqs-event';
import { queueDepth, queueDrained } from './lib/sqs-queue';
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
  /** The full SQS path runs for sizes up to this (its handler shares the local system's thread). */
  viaQueueMaxSubscribers: number;
  /**
   * The throttling comparison: the gateway's rate limit in posts/s, and how many seconds of
   * traffic at that rate one publish makes (subscribers = perSecond × seconds). A limit the
   * publishers cannot reach here is lowered to half the best rate measured, and reported.
   */
  throttle: { perSecond: number; seconds: number; maxReceives: number };
  /** Longest wait for one run's deliveries. */
  runDeadlineMs: number;
  progress: Progress;
}

export type Approach = 'ours' | 'ours-sqs' | 'article' | 'sequential';

export interface Measured {
  result: DeliverySummary;
  /** What the publisher itself answered (status code, failed records). */
  answer: string;
  /** Share of the run this thread (the publishers) and the local system's thread were busy. */
  publisherBusy: number;
  systemBusy: number;
}

export interface FanoutRow extends Measured {
  subscribers: number;
  approach: Approach;
  /** Posts allowed in flight; 'unbounded' for the article's Promise.all. */
  concurrency: number | 'unbounded';
  /** concurrency / latency, in posts per second (undefined when unbounded). */
  boundPerSecond?: number;
  /** Extrapolated from a smaller run instead of measured (the sequential loop on large N). */
  estimated: boolean;
}

export interface ThrottleRow extends Measured {
  approach: Approach;
  variant: string;
  subscribers: number;
  /** POST calls the gateway received, and how many it answered 429. */
  posts: number;
  throttled: number;
}

export interface FanoutResults {
  rows: FanoutRow[];
  throttle: ThrottleRow[];
  latencyMs: number;
  /** The rate limit asked for, and the one used (lower when this machine cannot reach the first). */
  throttleRequestedPerSecond: number;
  throttlePerSecond: number;
  /** Our best deliveries/s at the largest fan-out, unthrottled. */
  peakPerSecond: number;
  maxReceives: number;
  /** The SDK's default sockets per client, which silently bounds the article's "unbounded" fan-out. */
  articleSocketLimit: number;
}

/** @smithy/node-http-handler's default `maxSockets` for a client built without a request handler. */
export const SDK_DEFAULT_MAX_SOCKETS = 50;

export function fanoutTopic(subscribers: number): string {
  return `bench/fanout-${subscribers}`;
}

const WARM_UP_SUBSCRIBERS = 100;
const WARM_UP_TOPIC = 'bench/warm-up';
const THROTTLE_TOPIC = 'bench/throttled';

interface Publisher {
  /** Publishes message `id`; resolves with what the publisher answered. */
  send(id: string): Promise<string>;
  /** How long without a receipt ends an incomplete run. */
  quietMs?: number;
  /** Runs after the receipts are in; its answer replaces send's. */
  finish?(): Promise<string>;
}

/** Stands in for the visibility timeout between two receives of a failed record. */
const RETRY_PAUSE_MS = 1000;

/** A run ends this long after its last receipt when not every subscriber got the message. */
const QUIET_MS = 500;

export async function runFanout(side: AwsSide, settings: FanoutSettings): Promise<FanoutResults> {
  const { outputs } = side;
  const { progress, latencyMs } = settings;
  const target = baselineTarget(outputs);
  const largest = Math.max(...settings.sizes);
  progress(`fan-out: connecting ${largest.toLocaleString('en-US')} virtual subscribers through $connect`);
  const ids = await side.connect(largest);
  await seedSubscriptions(target, [...settings.sizes.map((n) => ({ topic: fanoutTopic(n), ids: ids.slice(0, n) })), { topic: WARM_UP_TOPIC, ids: ids.slice(0, WARM_UP_SUBSCRIBERS) }], progress);

  const ours = new Map<number, ReturnType<typeof makePublishHandler>>();
  const oursAt = (c: number) => {
    let handler = ours.get(c);
    if (!handler) ours.set(c, (handler = makePublishHandler(publishEnv(outputs, c))));
    return handler;
  };
  const article = makeArticlePublisher({ ...target, paginate: true });
  const articleNoRetry = makeArticlePublisher({ ...target, paginate: true, maxAttempts: 1 });
  const sequential = makeSequentialPublisher(target);
  const sqs = new SQSClient({ region: target.region, credentials: target.credentials, endpoint: requiredOutput(outputs, 'sqsEndpoint') });
  let runNumber = 0;

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

  /** One measured publish: start the clock, let the publisher send, wait for the receipts. */
  async function measure(subscribers: number, label: string, publisher: Publisher): Promise<Measured> {
    await quiesce();
    const id = `bench-${++runNumber}-${randomUUID()}`;
    await side.expect(id, subscribers);
    const publisherStart = performance.eventLoopUtilization();
    const systemBusy = side.busy();
    const sentAt = wallClockMs();
    let answer = await Promise.race([
      publisher.send(id).catch((error: unknown) => `threw: ${(error as Error).message}`),
      sleep(settings.runDeadlineMs).then(() => `still running after ${settings.runDeadlineMs} ms`),
    ]);
    const result = await side.wait(id, sentAt, publisher.quietMs ?? QUIET_MS, settings.runDeadlineMs);
    const busy = { publisherBusy: performance.eventLoopUtilization(publisherStart).utilization, systemBusy: systemBusy() };
    if (publisher.finish) answer = await publisher.finish();
    progress(`  ${label}: ${result.delivered}/${subscribers} delivered in ${Math.round(result.durationMs)} ms`);
    return { result, answer, ...busy };
  }

  const envelope = (topic: string, id: string) => JSON.stringify({ topic, id, data: benchData(id) });
  /** Our handler, as SQS would invoke it: up to `receives` times until the record succeeds. */
  const invokeOurs = (c: number, topic: string, receives = 1): Publisher => ({
    send: async (id) => {
      for (let receive = 1; ; receive++) {
        const response = await oursAt(c)(sqsEventOf(envelope(topic, id), outputs.queueArn, target.region, receive), benchContext());
        const failed = 'batchItemFailures' in response && response.batchItemFailures.length > 0;
        if (!failed) return receive === 1 ? 'record succeeded' : `record succeeded on receive ${receive}`;
        if (receive >= receives) return receives === 1 ? 'record reported failed (SQS retries it)' : `record failed ${receive} receives (to the DLQ)`;
        // SQS hands the record back after the visibility timeout (minutes on AWS); a second here
        // refills the gateway's token bucket just as well.
        await sleep(RETRY_PAUSE_MS);
      }
    },
  });
  const viaQueue = (topic: string): Publisher => {
    let deadLettersBefore = 0;
    return {
      send: async (id) => {
        deadLettersBefore = await queueDepth(sqs, outputs.dlqUrl);
        await sqs.send(new SendMessageCommand({ QueueUrl: outputs.queueUrl, MessageBody: envelope(topic, id) }));
        return 'sent';
      },
      finish: async () => {
        if (!(await queueDrained(sqs, outputs.queueUrl, settings.runDeadlineMs))) return 'record still in the queue at the deadline';
        return (await queueDepth(sqs, outputs.dlqUrl)) > deadLettersBefore ? 'record moved to the DLQ' : 'record succeeded';
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
  const bound = (c: number) => c / (latencyMs / 1000);
  try {
    await side.setFaults({ latencyMs });
    progress(`fan-out: warming up on ${WARM_UP_SUBSCRIBERS} subscribers (not measured)`);
    for (const c of new Set([...settings.concurrencies, settings.systemConcurrency])) await measure(WARM_UP_SUBSCRIBERS, `warm-up ours c=${c}`, invokeOurs(c, WARM_UP_TOPIC));
    await measure(WARM_UP_SUBSCRIBERS, 'warm-up ours via SQS', viaQueue(WARM_UP_TOPIC));
    await measure(WARM_UP_SUBSCRIBERS, 'warm-up article', viaArticle(article, WARM_UP_TOPIC));
    await measure(WARM_UP_SUBSCRIBERS, 'warm-up article without retries', viaArticle(articleNoRetry, WARM_UP_TOPIC));

    let sequentialSample: SequentialSample | undefined;
    for (const n of settings.sizes) {
      const topic = fanoutTopic(n);
      progress(`fan-out: ${n.toLocaleString('en-US')} subscribers, ${latencyMs} ms per management call`);
      for (const c of settings.concurrencies) {
        rows.push({ subscribers: n, approach: 'ours', concurrency: c, ...(await measure(n, `ours c=${c}`, invokeOurs(c, topic))), boundPerSecond: bound(c), estimated: false });
      }
      if (n <= settings.viaQueueMaxSubscribers) {
        const c = settings.systemConcurrency;
        rows.push({ subscribers: n, approach: 'ours-sqs', concurrency: c, ...(await measure(n, `ours via SQS c=${c}`, viaQueue(topic))), boundPerSecond: bound(c), estimated: false });
      }
      rows.push({ subscribers: n, approach: 'article', concurrency: 'unbounded', ...(await measure(n, 'article', viaArticle(article, topic))), estimated: false });

      if (!sequentialSample || n <= settings.sequentialMaxPosts) {
        const posts = Math.min(n, settings.sequentialMaxPosts);
        const measured = await measure(posts, `sequential (${posts} posts)`, {
          send: async (id) => {
            const out = await sequential.publish(topic, frameFor(topic, id), posts);
            sequentialSample = { posts: out.posted, postingMs: out.postingMs, queryMs: out.queryMs };
            return `${out.posted} posted, ${out.failed} failed`;
          },
        });
        if (posts === n) {
          rows.push({ subscribers: n, approach: 'sequential', concurrency: 1, ...measured, boundPerSecond: bound(1), estimated: false });
          continue;
        }
      }
      const sample = sequentialSample as SequentialSample;
      rows.push({
        subscribers: n,
        approach: 'sequential',
        concurrency: 1,
        result: extrapolate(n, sample),
        answer: `extrapolated from ${sample.posts} posts in ${Math.round(sample.postingMs)} ms`,
        publisherBusy: NaN,
        systemBusy: NaN,
        boundPerSecond: bound(1),
        estimated: true,
      });
    }

    // Throttling: the limit must be one the publishers can exceed here, or nothing is throttled.
    const peak = Math.max(...rows.filter((r) => r.approach === 'ours' && r.subscribers === largest).map((r) => r.result.deliveriesPerSecond));
    const requested = settings.throttle.perSecond;
    const perSecond = peak >= 2 * requested ? requested : Math.max(10, Math.floor(peak / 2 / 10) * 10);
    const tn = Math.max(1, Math.min(largest, Math.round(perSecond * settings.throttle.seconds)));
    await seedSubscriptions(target, [{ topic: THROTTLE_TOPIC, ids: ids.slice(0, tn) }], progress);
    progress(`throttling: ${tn.toLocaleString('en-US')} subscribers, rate limit ${perSecond} posts/s (${requested} asked; our peak here ${Math.round(peak)}/s), ${latencyMs} ms per call`);
    const throttled = async (approach: Approach, variant: string, publisher: Publisher) => {
      await quiesce();
      // setFaults starts a fresh, full token bucket: every run meets the same limit.
      await side.setFaults({ latencyMs, rateLimit: { perSecond } });
      const before = await side.stats();
      const m = await measure(tn, `throttled ${approach}, ${variant}`, publisher);
      await quiesce();
      const delta = statsDelta(before, await side.stats());
      throttleRows.push({ approach, variant, subscribers: tn, ...m, posts: delta.posts, throttled: delta.throttled });
    };
    const c = settings.systemConcurrency;
    const { maxReceives } = settings.throttle;
    await throttled('ours', `c=${c}, one invocation`, invokeOurs(c, THROTTLE_TOPIC));
    await throttled('ours', `c=${c}, record retried as SQS would (up to ${maxReceives} receives, 1 s apart)`, invokeOurs(c, THROTTLE_TOPIC, maxReceives));
    await throttled('article', 'SDK default retries (3 attempts)', viaArticle(article, THROTTLE_TOPIC));
    await throttled('article', 'no retry at all (maxAttempts 1)', viaArticle(articleNoRetry, THROTTLE_TOPIC));
    return {
      rows,
      throttle: throttleRows,
      latencyMs,
      throttleRequestedPerSecond: requested,
      throttlePerSecond: perSecond,
      peakPerSecond: peak,
      maxReceives,
      articleSocketLimit: SDK_DEFAULT_MAX_SOCKETS,
    };
  } finally {
    await side.setFaults({});
    article.destroy();
    articleNoRetry.destroy();
    sequential.destroy();
    sqs.destroy();
  }
}

interface SequentialSample {
  posts: number;
  postingMs: number;
  queryMs: number;
}

/** The k-th of n subscribers waits k posts: latencies spread evenly over the run. */
function extrapolate(n: number, sample: SequentialSample): DeliverySummary {
  const perPost = sample.postingMs / Math.max(1, sample.posts);
  return {
    expected: n,
    delivered: n,
    duplicates: 0,
    durationMs: sample.queryMs + n * perPost,
    deliveriesPerSecond: 1000 / perPost,
    p50Ms: sample.queryMs + 0.5 * n * perPost,
    p99Ms: sample.queryMs + 0.99 * n * perPost,
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
    [ENV.logLevel]: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: target.region,
    AWS_ENDPOINT_URL_DYNAMODB: target.dynamodbEndpoint,
    AWS_ACCESS_KEY_ID: target.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
  };
}

/** Subscription rows, as the subscribe handler writes them, for each topic's connections. */
async function seedSubscriptions(target: BaselineTarget, topics: readonly { topic: string; ids: readonly string[] }[], progress: Progress): Promise<void> {
  const now = Date.now();
  const items = topics.flatMap(({ topic, ids }) => ids.map((id) => subscriptionItem(id, topic, now)));
  progress(`fan-out: writing ${items.length.toLocaleString('en-US')} subscription rows`);
  const client = dynamoClient(target.dynamodbEndpoint);
  try {
    await putItems(client, target.tableName, items);
  } finally {
    client.destroy();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
