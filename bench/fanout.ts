/**
 * Fan-out speed, CPU per delivery and loss under throttling, in local mode: one publish to N
 * subscribers whose deliveries all go through the gateway's management API over HTTP (virtual
 * connections, so tens of thousands of subscribers cost no sockets), with latency injected on
 * every call.
 *
 * Three sides: the local system and the subscribers in a worker thread (lib/aws-side.ts); the
 * publishers in a child process of their own (lib/publisher-side.ts), whose CPU time per run is
 * the publisher's alone; this thread only orchestrates.
 *
 * Approaches, run side by side against the same gateway and table:
 *   ours       the publish handler (makeHandler) invoked with an SQS event, per post path
 *              ('lean', the shipped ManagementApi; 'sdk', the same handler with the AWS SDK
 *              client) and PUBLISH_CONCURRENCY, as one invocation (SLICE_THRESHOLD above the
 *              topic, RATE_BUDGET 0: see publishers.ts publishEnv);
 *   ours-sqs   the full path: SendMessage to the local queue, the poller invokes the system's
 *              publish function (in the local system's thread, so its CPU is not separable);
 *   article    baselines/article.ts: Scan + FilterExpression, unbounded Promise.all, no retry;
 *   sequential baselines/sequential.ts: one post after another (sampled, extrapolated).
 * Every cell is measured `repeats` times, the approaches of a size alternating (ABCABC), so a
 * change in the machine's load hits all of them alike. Latency per subscriber = its first
 * receipt − the moment the publisher started.
 */
import { randomUUID } from 'node:crypto';
import { PurgeQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/constants';
import type { GatewayStats } from '../local/gateway';
import type { StackOutputs } from '../protocol/outputs';
import { SDK_DEFAULT_MAX_SOCKETS, type BaselineTarget } from './baselines/article';
import type { AwsSide } from './lib/aws-side';
import { dynamoClient } from './lib/local-dynamo';
import type { Progress } from './lib/progress';
import { startPublisherSide, type PublishRun } from './lib/publisher-side';
import { envelope, type PostPath, type PublishRequest, type PublisherTarget } from './lib/publishers';
import type { DeliverySummary } from './lib/receipts';
import { putItems, subscriptionItem } from './lib/rows';
import { queueDepth, queueDrained } from './lib/sqs-queue';
import { spread, wallClockMs } from './lib/stats';

export interface FanoutSettings {
  /** Subscriber counts, e.g. 1,000 / 5,000 / 20,000. */
  sizes: readonly number[];
  /** PUBLISH_CONCURRENCY values to run our handler at (the system's own is always added). */
  concurrencies: readonly number[];
  /** How our handler posts: each path runs at every concurrency. */
  postPaths: readonly PostPath[];
  /** The concurrency the system's own publish function runs with (the SQS path, the comparisons). */
  systemConcurrency: number;
  /** Added to every management API call. */
  latencyMs: number;
  /** Measurements per cell (≥ 1; the benchmark uses 3). */
  repeats: number;
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
  /** How long without a receipt ends an incomplete run, counted from the publisher's end (default 500 ms). */
  quietMs?: number;
  progress: Progress;
}

export type Approach = 'ours' | 'ours-sqs' | 'article' | 'sequential';

/** One measurement of one cell. */
export interface Run {
  result: DeliverySummary;
  /** What the publisher itself answered (status code, failed records). */
  answer: string;
  /** The publisher process's CPU time (user + system) during the run, in µs; NaN when not separable (via SQS). */
  cpuUs: number;
  /** cpuUs ÷ deliveries. */
  cpuPerDeliveryUs: number;
  /** Event-loop utilisation during the run: the publisher's thread, and the local system's. */
  publisherBusy: number;
  systemBusy: number;
}

export interface FanoutRow {
  subscribers: number;
  approach: Approach;
  /** Ours only: how the handler posts. */
  postPath?: PostPath;
  /** Posts allowed in flight; 'unbounded' for the article's Promise.all. */
  concurrency: number | 'unbounded';
  /** The most posts/s the approach can make at this latency: concurrency (or the article's sockets) / latency. */
  boundPerSecond?: number;
  /** Extrapolated from a smaller run instead of measured (the sequential loop on large N). */
  estimated: boolean;
  /** One per repeat, in the order measured. */
  runs: Run[];
}

export interface ThrottleRun extends Run {
  /** POST calls the gateway received, and how many it answered 429. */
  posts: number;
  throttled: number;
}

export interface ThrottleRow {
  approach: Approach;
  variant: string;
  subscribers: number;
  runs: ThrottleRun[];
}

export interface FanoutResults {
  rows: FanoutRow[];
  throttle: ThrottleRow[];
  latencyMs: number;
  repeats: number;
  /** The rate limit asked for, and the one used (lower when this machine cannot reach the first). */
  throttleRequestedPerSecond: number;
  throttlePerSecond: number;
  /** Seconds of traffic at the limit one throttled publish makes. */
  throttleSeconds: number;
  /** The best median deliveries/s of ours (the shipped path) at the largest fan-out, unthrottled. */
  peakPerSecond: number;
  maxReceives: number;
  /** Sockets the article's SDK client allows, read from its agent ('agent') or the documented default. */
  articleSocketLimit: number;
  articleSocketLimitSource: 'agent' | 'default';
  /** The post path the publish function ships with: the throttling runs and the suggestion use it. */
  shippedPostPath: PostPath;
  /** Where the ratios are taken: the largest fan-out, ours at the system's concurrency. */
  comparison: { subscribers: number; concurrency: number };
}

export function fanoutTopic(subscribers: number): string {
  return `bench/fanout-${subscribers}`;
}

const WARM_UP_SUBSCRIBERS = 100;
const WARM_UP_TOPIC = 'bench/warm-up';
const THROTTLE_TOPIC = 'bench/throttled';

/** A run ends this long after the publisher finished when not every subscriber got the message. */
const QUIET_MS = 500;

/** What a publisher reports about one run, before the receipts are counted. */
interface Published {
  answer: string;
  sentAt: number;
  cpuUs: number;
  publisherBusy: number;
  sample?: PublishRun['sample'];
}

/** Publishes message `id`; resolves once the publisher is done. Marked when it runs inside the local system (via SQS). */
type Publish = ((id: string) => Promise<Published>) & { inLocalSystem?: true };

/** One cell of a size's rotation: what its row is, and how to measure it once. */
interface Cell {
  row: Omit<FanoutRow, 'runs'>;
  label: string;
  publish: Publish;
  /** Posts the run makes (fewer than the size for the sequential sample). */
  expected: number;
}

export async function runFanout(side: AwsSide, settings: FanoutSettings): Promise<FanoutResults> {
  if (!Number.isInteger(settings.repeats) || settings.repeats < 1) throw new Error(`repeats must be a whole number >= 1, got ${settings.repeats}`);
  const { outputs } = side;
  const { progress, latencyMs } = settings;
  const quietMs = settings.quietMs ?? QUIET_MS;
  const target = publisherTarget(outputs);
  const sizes = [...settings.sizes].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1];
  const concurrencies = [...new Set([...settings.concurrencies, settings.systemConcurrency])].sort((a, b) => a - b);
  // The throttling runs use the path the publish function ships with (lean), when it is measured.
  const shippedPostPath: PostPath = settings.postPaths.includes('lean') ? 'lean' : 'sdk';
  // In bulk, without running $connect for each: the fan-out never reads connection rows, and
  // 20,000 connect calls against dynalite took minutes of the run on a busy machine.
  progress(`fan-out: opening ${largest.toLocaleString('en-US')} virtual subscribers (bulk, without $connect)`);
  const ids = await side.connect(largest, true);
  const warmUpSubscribers = Math.min(WARM_UP_SUBSCRIBERS, largest);
  await seedSubscriptions(target, [...sizes.map((n) => ({ topic: fanoutTopic(n), ids: ids.slice(0, n) })), { topic: WARM_UP_TOPIC, ids: ids.slice(0, warmUpSubscribers) }], progress);

  progress('fan-out: starting the publisher process');
  const publishers = await startPublisherSide(target);
  const sqs = new SQSClient({ region: target.region, credentials: target.credentials, endpoint: requiredOutput(outputs, 'sqsEndpoint') });
  let runNumber = 0;

  /** Waits until the gateway has seen no post for a while: nothing of an earlier run is still in flight. */
  async function quiesce(): Promise<void> {
    let last = (await side.stats()).posts;
    for (let still = 0; still < 3; ) {
      await sleep(50);
      const now = (await side.stats()).posts;
      still = now === last ? still + 1 : 0;
      last = now;
    }
  }

  /**
   * One measured publish: let the publisher run to its end (every post answered), then count
   * the receipts. The quiet window starts only then, so a slow first receipt (SQS's poller, a
   * long latency) cannot end a run early: the gateway hands a frame to the subscriber before it
   * answers the post, so by then every delivery made is already counted.
   */
  async function measure(expected: number, label: string, publish: Publish): Promise<Run & { sample?: Published['sample'] }> {
    await quiesce();
    const id = `bench-${++runNumber}-${randomUUID()}`;
    await side.expect(id, expected);
    const systemBusy = side.busy();
    const started = wallClockMs();
    const failed = (answer: string): Published => ({ answer, sentAt: started, cpuUs: NaN, publisherBusy: NaN });
    let overran = false;
    const out = await Promise.race([
      publish(id).catch((error: unknown) => failed(`threw: ${(error as Error).message}`)),
      sleep(settings.runDeadlineMs).then(() => {
        overran = true;
        return failed(`still running after ${settings.runDeadlineMs} ms`);
      }),
    ]);
    if (overran && !publish.inLocalSystem) {
      // A publisher still posting would share the CPU with the next runs and spoil them.
      progress(`  ${label}: still running at the deadline; restarting the publisher process`);
      await publishers.restart();
    }
    const result = await side.wait(id, out.sentAt, quietMs, settings.runDeadlineMs);
    const run = {
      result,
      answer: out.answer,
      cpuUs: out.cpuUs,
      cpuPerDeliveryUs: result.delivered > 0 ? out.cpuUs / result.delivered : NaN,
      publisherBusy: out.publisherBusy,
      systemBusy: systemBusy(),
      sample: out.sample,
    };
    progress(`  ${label}: ${result.delivered}/${expected} delivered in ${Math.round(result.durationMs)} ms` + (Number.isFinite(run.cpuPerDeliveryUs) ? `, ${Math.round(run.cpuPerDeliveryUs)} µs CPU per delivery` : ''));
    return run;
  }

  const inProcess =
    (request: (id: string) => PublishRequest) =>
    async (id: string): Promise<Published> => {
      const out = await publishers.publish(request(id));
      return { answer: out.answer, sentAt: out.sentAt, cpuUs: out.cpuUserUs + out.cpuSystemUs, publisherBusy: out.busy, sample: out.sample };
    };
  const ours = (postPath: PostPath, concurrency: number, topic: string, receives = 1) => inProcess((id) => ({ approach: 'ours', postPath, concurrency, topic, id, receives }));
  const article = (topic: string, retries = true) => inProcess((id) => ({ approach: 'article', retries, topic, id }));
  /** The real path: SendMessage, then the record's end (deleted after success, or moved to the DLQ). */
  const viaQueue = (topic: string): Publish =>
    Object.assign(async (id: string): Promise<Published> => {
      const deadLettersBefore = await queueDepth(sqs, outputs.dlqUrl);
      const sentAt = wallClockMs();
      await sqs.send(new SendMessageCommand({ QueueUrl: outputs.queueUrl, MessageBody: envelope(topic, id) }));
      if (!(await queueDrained(sqs, outputs.queueUrl, settings.runDeadlineMs))) {
        // Or the record comes back after its visibility timeout and fans out again during later runs.
        await sqs.send(new PurgeQueueCommand({ QueueUrl: outputs.queueUrl }));
        return { answer: 'record still in the queue at the deadline (purged)', sentAt, cpuUs: NaN, publisherBusy: NaN };
      }
      const answer = (await queueDepth(sqs, outputs.dlqUrl)) > deadLettersBefore ? 'record moved to the DLQ' : 'record succeeded';
      return { answer, sentAt, cpuUs: NaN, publisherBusy: NaN };
    }, { inLocalSystem: true as const });

  const bound = (inFlight: number) => inFlight / (latencyMs / 1000);
  const rows: FanoutRow[] = [];
  const throttleRows: ThrottleRow[] = [];
  try {
    await side.setFaults({ latencyMs });
    progress(`fan-out: warming up on ${warmUpSubscribers} subscribers (not measured)`);
    const warmUp = async (label: string, publish: Publish) => {
      const run = await measure(warmUpSubscribers, `warm-up ${label}`, publish);
      if (run.answer.startsWith('threw')) throw new Error(`warm-up ${label} failed: ${run.answer}`);
    };
    for (const postPath of settings.postPaths) for (const c of concurrencies) await warmUp(`ours ${postPath} c=${c}`, ours(postPath, c, WARM_UP_TOPIC));
    await warmUp('ours via SQS', viaQueue(WARM_UP_TOPIC));
    await warmUp('article', article(WARM_UP_TOPIC));
    await warmUp('article without retries', article(WARM_UP_TOPIC, false));
    const measuredSockets = await publishers.articleSocketLimit();
    const articleSocketLimit = measuredSockets ?? SDK_DEFAULT_MAX_SOCKETS;

    // The sequential loop is sampled in the first size's rotation; every size's row comes from those samples.
    const sequentialPosts = Math.min(sizes[0], settings.sequentialMaxPosts);
    const sequentialRuns: (Run & { sample?: Published['sample'] })[] = [];
    for (const [i, n] of sizes.entries()) {
      const topic = fanoutTopic(n);
      progress(`fan-out: ${n.toLocaleString('en-US')} subscribers, ${latencyMs} ms per management call, ${settings.repeats} repeats`);
      const cells: Cell[] = [];
      for (const postPath of settings.postPaths) {
        for (const c of concurrencies) {
          cells.push({ row: { subscribers: n, approach: 'ours', postPath, concurrency: c, boundPerSecond: bound(c), estimated: false }, label: `ours ${postPath} c=${c}`, publish: ours(postPath, c, topic), expected: n });
        }
      }
      if (n <= settings.viaQueueMaxSubscribers) {
        const c = settings.systemConcurrency;
        cells.push({ row: { subscribers: n, approach: 'ours-sqs', concurrency: c, boundPerSecond: bound(c), estimated: false }, label: `ours via SQS c=${c}`, publish: viaQueue(topic), expected: n });
      }
      cells.push({ row: { subscribers: n, approach: 'article', concurrency: 'unbounded', boundPerSecond: bound(articleSocketLimit), estimated: false }, label: 'article', publish: article(topic), expected: n });
      if (i === 0) {
        const maxPosts = sequentialPosts;
        cells.push({
          row: { subscribers: n, approach: 'sequential', concurrency: 1, boundPerSecond: bound(1), estimated: false },
          label: `sequential (${maxPosts} posts)`,
          publish: inProcess((id) => ({ approach: 'sequential', topic, id, maxPosts })),
          expected: maxPosts,
        });
      }
      const runs: Run[][] = cells.map(() => []);
      for (let r = 1; r <= settings.repeats; r++) {
        for (const [k, cell] of cells.entries()) runs[k].push(await measure(cell.expected, `${cell.label} #${r}`, cell.publish));
      }
      for (const [k, cell] of cells.entries()) {
        if (cell.row.approach === 'sequential') sequentialRuns.push(...runs[k]);
        else rows.push({ ...cell.row, runs: runs[k] });
      }
      rows.push(
        sequentialPosts === n
          ? { subscribers: n, approach: 'sequential', concurrency: 1, boundPerSecond: bound(1), estimated: false, runs: sequentialRuns.map(({ sample: _, ...run }) => run) }
          : { subscribers: n, approach: 'sequential', concurrency: 1, boundPerSecond: bound(1), estimated: true, runs: sequentialRuns.map((run) => extrapolate(n, run)) },
      );
    }

    // Throttling: the limit must be one the publishers can exceed here, or nothing is throttled.
    const peak = Math.max(
      ...rows.filter((r) => r.approach === 'ours' && r.postPath === shippedPostPath && r.subscribers === largest).map((r) => spread(r.runs.map((run) => run.result.deliveriesPerSecond)).median),
    );
    const requested = settings.throttle.perSecond;
    const perSecond = peak >= 2 * requested ? requested : Math.max(10, Math.floor(peak / 2 / 10) * 10);
    const tn = Math.max(1, Math.min(largest, Math.round(perSecond * settings.throttle.seconds)));
    await seedSubscriptions(target, [{ topic: THROTTLE_TOPIC, ids: ids.slice(0, tn) }], progress);
    progress(`throttling: ${tn.toLocaleString('en-US')} subscribers, rate limit ${perSecond} posts/s (${requested} asked; our peak here ${Math.round(peak)}/s), ${latencyMs} ms per call`);
    const c = settings.systemConcurrency;
    const { maxReceives } = settings.throttle;
    const variants: { approach: Approach; variant: string; publish: Publish }[] = [
      { approach: 'ours', variant: `${shippedPostPath}, c=${c}, one invocation`, publish: ours(shippedPostPath, c, THROTTLE_TOPIC) },
      { approach: 'ours', variant: `${shippedPostPath}, c=${c}, record retried as SQS would (up to ${maxReceives} receives, 1 s apart)`, publish: ours(shippedPostPath, c, THROTTLE_TOPIC, maxReceives) },
      { approach: 'article', variant: 'SDK default retries (3 attempts)', publish: article(THROTTLE_TOPIC) },
      { approach: 'article', variant: 'no retry at all (maxAttempts 1)', publish: article(THROTTLE_TOPIC, false) },
    ];
    for (const v of variants) throttleRows.push({ approach: v.approach, variant: v.variant, subscribers: tn, runs: [] });
    for (let r = 1; r <= settings.repeats; r++) {
      for (const [k, v] of variants.entries()) {
        await quiesce();
        // setFaults starts a fresh, full token bucket: every run meets the same limit.
        await side.setFaults({ latencyMs, rateLimit: { perSecond } });
        const before = await side.stats();
        const { sample: _, ...run } = await measure(tn, `throttled ${v.approach}, ${v.variant} #${r}`, v.publish);
        await quiesce();
        throttleRows[k].runs.push({ ...run, ...statsDelta(before, await side.stats()) });
      }
    }
    return {
      rows,
      throttle: throttleRows,
      latencyMs,
      repeats: settings.repeats,
      throttleRequestedPerSecond: requested,
      throttlePerSecond: perSecond,
      throttleSeconds: settings.throttle.seconds,
      peakPerSecond: peak,
      maxReceives,
      articleSocketLimit,
      articleSocketLimitSource: measuredSockets === undefined ? 'default' : 'agent',
      shippedPostPath,
      comparison: { subscribers: largest, concurrency: settings.systemConcurrency },
    };
  } finally {
    await side.setFaults({});
    await publishers.stop();
    sqs.destroy();
  }
}

/** The k-th of n subscribers waits k posts: latencies spread evenly over the run. CPU per post carries over. */
function extrapolate(n: number, run: Run & { sample?: Published['sample'] }): Run {
  const sample = run.sample ?? { posts: 0, postingMs: NaN, queryMs: NaN };
  const perPost = sample.postingMs / Math.max(1, sample.posts);
  return {
    result: {
      expected: n,
      delivered: n,
      duplicates: 0,
      firstMs: sample.queryMs + perPost,
      durationMs: sample.queryMs + n * perPost,
      deliveriesPerSecond: 1000 / perPost,
      p50Ms: sample.queryMs + 0.5 * n * perPost,
      p99Ms: sample.queryMs + 0.99 * n * perPost,
    },
    answer: `extrapolated from ${sample.posts} posts in ${Math.round(sample.postingMs)} ms`,
    cpuUs: run.cpuPerDeliveryUs * n,
    cpuPerDeliveryUs: run.cpuPerDeliveryUs,
    publisherBusy: NaN,
    systemBusy: NaN,
  };
}

function statsDelta(before: GatewayStats, after: GatewayStats) {
  return { posts: after.posts - before.posts, throttled: after.throttled - before.throttled };
}

function requiredOutput(outputs: StackOutputs, key: 'sqsEndpoint' | 'dynamodbEndpoint'): string {
  const value = outputs[key];
  if (!value) throw new Error(`the local system's outputs have no ${key}: the benchmark needs the local endpoints`);
  return value;
}

export function publisherTarget(outputs: StackOutputs): PublisherTarget {
  return {
    tableName: outputs.tableName,
    dynamodbEndpoint: requiredOutput(outputs, 'dynamodbEndpoint'),
    managementEndpoint: outputs.managementEndpoint,
    region: outputs.region ?? LOCAL_REGION,
    credentials: { ...LOCAL_CREDENTIALS },
    queueArn: outputs.queueArn,
    deliveryQueueUrl: outputs.deliveryQueueUrl,
    deliveryDlqUrl: outputs.deliveryDlqUrl,
    sqsEndpoint: requiredOutput(outputs, 'sqsEndpoint'),
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
