/**
 * The large-topic scenario (issue 12): one message to a topic of 100,000 subscribers under an
 * account-wide token bucket, delivered by one invocation and by slices, in one run.
 *
 * Why: in AWS one publish invocation is capped by its vCPU and its timeout, and the ceiling that
 * should bind a big topic is API Gateway's account-wide request rate. Locally the gateway's token
 * bucket (429 LimitExceededException beyond it) stands in for that account limit; RATE_BUDGET is
 * the stack's shared ledger all invocations take their posts from.
 *
 * Steps:
 *   1. the machine's own ceiling: the sliced path with no bucket and no budget (deliveries/s);
 *   2. the bucket is set to a share of that ceiling (default 70 %), so it, not this machine's
 *      CPU, is what binds — the honest local stand-in for the account limit;
 *   3. under the bucket, with the same RATE_BUDGET: one invocation (SLICE_THRESHOLD above the
 *      topic) and sliced (the stack's SLICE_THRESHOLD and SLICE_SIZE: publish posts to the
 *      first subscribers itself and queues the rest as slice jobs, which several delivery
 *      environments — each a process of its own, its own clients — deliver concurrently).
 *      RATE_BUDGET is set so that the delivery function's share of it (SLICE_SHARE) is
 *      the bucket; a last run gives the budget the bucket's own rate, to show what the share costs.
 * Every run reports the time to the last delivery against N ÷ bucket, the 429s, the DLQ and the
 * CPU all its processes spent per delivery.
 */
import { randomUUID } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/constants';
import type { GatewayStats } from '../local/gateway';
import { startSqs, type SqsEndpoint } from '../local/sqs';
import { ENV } from '../protocol/env';
import { CONFIG_DEFAULTS } from '../protocol/stack-settings';
import { publisherTarget } from './fanout';
import type { AwsSide } from './lib/aws-side';
import { startDeliverSide } from './lib/deliver-side';
import { dynamoClient } from './lib/local-dynamo';
import type { Progress } from './lib/progress';
import { startPublisherSide, type PublisherSide } from './lib/publisher-side';
import { publishEnv, SINGLE_INVOCATION_THRESHOLD, type PublisherTarget } from './lib/publishers';
import type { DeliverySummary } from './lib/receipts';
import { putItems, subscriptionItem } from './lib/rows';
import { queueDepth, queueDrained } from './lib/sqs-queue';
import { wallClockMs } from './lib/stats';

/** The delivery function's default share of RATE_BUDGET (sliceBudgetPercent). */
const SLICE_SHARE = CONFIG_DEFAULTS.sliceBudgetPercent / 100;

export interface LargeTopicSettings {
  subscribers: number;
  /** Added to every management API call. */
  latencyMs: number;
  /** PUBLISH_CONCURRENCY of the publish and delivery functions. */
  concurrency: number;
  /** Concurrent delivery environments (processes) polling the delivery queue. */
  deliverEnvironments: number;
  /** Jobs per delivery invocation (the mapping's batch size). */
  deliveryBatchSize: number;
  sliceThreshold: number;
  sliceSize: number;
  /** The bucket as a share of the measured ceiling (0 < share ≤ 1). */
  bucketShareOfCeiling: number;
  /** The function timeout the contexts report (the stack's publish timeout). */
  functionTimeoutMs: number;
  runDeadlineMs: number;
  /** How long without a receipt ends an incomplete run, from the publisher's end. */
  quietMs?: number;
  progress: Progress;
}

export type LargeTopicVariant = 'ceiling' | 'single' | 'sliced' | 'sliced-budget-at-bucket';

export interface LargeTopicRun {
  variant: LargeTopicVariant;
  /** The gateway's bucket (posts/s); undefined: none. */
  bucketPerSecond?: number;
  rateBudget: number;
  sliceThreshold: number;
  result: DeliverySummary;
  answer: string;
  posts: number;
  throttled: number;
  /** CPU of every process that posted (publisher and delivery environments), µs. */
  cpuUs: number;
  cpuPerDeliveryUs: number;
  /** The delivery environments' work (sliced runs). */
  deliver?: { environments: number; invocations: number; records: number; failedRecords: number };
  deadLettered: number;
}

export interface LargeTopicResults {
  subscribers: number;
  latencyMs: number;
  concurrency: number;
  deliverEnvironments: number;
  deliveryBatchSize: number;
  sliceThreshold: number;
  sliceSize: number;
  sliceBudgetShare: number;
  /** Deliveries/s of the sliced path with no bucket and no budget: what this machine sustains. */
  ceilingPerSecond: number;
  bucketShareOfCeiling: number;
  bucketPerSecond: number;
  /** RATE_BUDGET of the runs under the bucket (but the last). */
  rateBudget: number;
  runs: LargeTopicRun[];
}

export function largeTopic(subscribers: number): string {
  return `bench/large-${subscribers}`;
}

const BENCH_QUEUE = 'bench-delivery';
const BENCH_DLQ = 'bench-delivery-dlq';
const QUIET_MS = 3000;

export async function runLargeTopic(side: AwsSide, settings: LargeTopicSettings): Promise<LargeTopicResults> {
  const { progress, subscribers: n, latencyMs } = settings;
  if (!(settings.bucketShareOfCeiling > 0 && settings.bucketShareOfCeiling <= 1)) throw new Error(`bucketShareOfCeiling must be in (0, 1], got ${settings.bucketShareOfCeiling}`);
  const topic = largeTopic(n);
  progress(`large topic: opening ${n.toLocaleString('en-US')} virtual subscribers (bulk, without $connect)`);
  const ids = await side.connect(n, true);
  progress(`large topic: writing ${n.toLocaleString('en-US')} subscription rows`);
  const base = publisherTarget(side.outputs);
  const ddb = dynamoClient(base.dynamodbEndpoint);
  try {
    const now = Date.now();
    await putItems(ddb, base.tableName, ids.map((id) => subscriptionItem(id, topic, now)));
  } finally {
    ddb.destroy();
  }

  // The bench's own delivery queue, so the local system's delivery poller (in the gateway's thread) does not take the jobs.
  const functionTimeoutSeconds = Math.ceil(settings.functionTimeoutMs / 1000);
  const sqs: SqsEndpoint = await startSqs({
    queues: [{ name: BENCH_DLQ }, { name: BENCH_QUEUE, settings: { visibilityTimeoutSeconds: 6 * functionTimeoutSeconds }, deadLetter: { queueName: BENCH_DLQ, maxReceiveCount: 5 } }],
  });
  const target: PublisherTarget = { ...base, deliveryQueueUrl: sqs.queueUrl(BENCH_QUEUE), deliveryDlqUrl: sqs.queueUrl(BENCH_DLQ), sqsEndpoint: sqs.endpoint };
  const sqsClient = new SQSClient({ region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, endpoint: sqs.endpoint });
  let publishers: PublisherSide | undefined;
  let runNumber = 0;

  const stackEnv = (rateBudget: number, sliceThreshold: number): Record<string, string> => ({
    [ENV.rateBudget]: String(rateBudget),
    [ENV.sliceThreshold]: String(sliceThreshold),
    [ENV.sliceSize]: String(settings.sliceSize),
  });

  async function quiesce(): Promise<void> {
    let last = (await side.stats()).posts;
    for (let still = 0; still < 3; ) {
      await sleep(100);
      const now = (await side.stats()).posts;
      still = now === last ? still + 1 : 0;
      last = now;
    }
  }

  async function run(variant: LargeTopicVariant, options: { bucket?: number; rateBudget: number; sliced: boolean }): Promise<LargeTopicRun> {
    const sliceThreshold = options.sliced ? settings.sliceThreshold : SINGLE_INVOCATION_THRESHOLD;
    const env = stackEnv(options.rateBudget, sliceThreshold);
    const deliverSide = options.sliced
      ? await startDeliverSide(settings.deliverEnvironments, {
          env: { ...publishEnv(target, settings.concurrency), ...env },
          queueUrl: target.deliveryQueueUrl,
          queueArn: sqs.queue(BENCH_QUEUE).arn,
          batchSize: settings.deliveryBatchSize,
          timeoutMs: settings.functionTimeoutMs,
        })
      : undefined;
    try {
      await quiesce();
      // A fresh, full bucket for every run (burst: one second's worth).
      await side.setFaults({ latencyMs, ...(options.bucket ? { rateLimit: { perSecond: options.bucket } } : {}) });
      const before = await side.stats();
      const dlqBefore = await queueDepth(sqsClient, target.deliveryDlqUrl);
      await deliverSide?.start();
      const id = `large-${++runNumber}-${randomUUID()}`;
      await side.expect(id, n);
      const started = wallClockMs();
      const out = await (publishers as PublisherSide)
        .publish({ approach: 'ours', postPath: 'lean', concurrency: settings.concurrency, topic, id, receives: 1, env })
        .catch((error: Error) => ({ answer: `threw: ${error.message}`, sentAt: started, cpuUserUs: NaN, cpuSystemUs: NaN, busy: NaN }));
      const result = await side.wait(id, out.sentAt, settings.quietMs ?? QUIET_MS, settings.runDeadlineMs);
      let deliver: LargeTopicRun['deliver'];
      let deliverCpu = 0;
      if (deliverSide) {
        await queueDrained(sqsClient, target.deliveryQueueUrl, settings.runDeadlineMs);
        const report = await deliverSide.stop();
        deliverCpu = report.cpuUs;
        deliver = { environments: report.environments, invocations: report.invocations, records: report.records, failedRecords: report.failedRecords };
      }
      await quiesce();
      const after = await side.stats();
      const cpuUs = out.cpuUserUs + out.cpuSystemUs + deliverCpu;
      const r: LargeTopicRun = {
        variant,
        bucketPerSecond: options.bucket,
        rateBudget: options.rateBudget,
        sliceThreshold,
        result,
        answer: out.answer,
        ...statsDelta(before, after),
        cpuUs,
        cpuPerDeliveryUs: result.delivered > 0 ? cpuUs / result.delivered : NaN,
        deliver,
        deadLettered: (await queueDepth(sqsClient, target.deliveryDlqUrl)) - dlqBefore,
      };
      const bound = options.bucket ? `, ${(result.durationMs / ((n / options.bucket) * 1000)).toFixed(2)} × N/bucket` : '';
      progress(`  ${variant}: ${result.delivered}/${n} delivered in ${Math.round(result.durationMs)} ms (${Math.round(result.deliveriesPerSecond)}/s${bound}), ${r.throttled} 429s, ${Math.round(r.cpuPerDeliveryUs)} µs CPU per delivery`);
      return r;
    } finally {
      await deliverSide?.close();
    }
  }

  try {
    publishers = await startPublisherSide(target);
    // No warm-up run: the first measured run is the ceiling, N posts long, of which loading the handler and opening sockets are a small part.
    const runs: LargeTopicRun[] = [];
    progress(`large topic: the machine's ceiling (sliced, ${settings.deliverEnvironments} delivery environments, no bucket, no budget)`);
    const ceiling = await run('ceiling', { rateBudget: 0, sliced: true });
    runs.push(ceiling);
    const ceilingPerSecond = ceiling.result.deliveriesPerSecond;
    const bucket = Math.max(10, Math.round((settings.bucketShareOfCeiling * ceilingPerSecond) / 10) * 10);
    // The delivery function takes at most SLICE_SHARE of RATE_BUDGET: this budget gives the slices the bucket's rate.
    const rateBudget = Math.ceil(bucket / SLICE_SHARE);
    progress(`large topic: bucket ${bucket}/s (${Math.round(settings.bucketShareOfCeiling * 100)} % of ${Math.round(ceilingPerSecond)}/s), RATE_BUDGET ${rateBudget}; N ÷ bucket = ${(n / bucket).toFixed(1)} s`);
    runs.push(await run('single', { bucket, rateBudget, sliced: false }));
    runs.push(await run('sliced', { bucket, rateBudget, sliced: true }));
    runs.push(await run('sliced-budget-at-bucket', { bucket, rateBudget: bucket, sliced: true }));
    return {
      subscribers: n,
      latencyMs,
      concurrency: settings.concurrency,
      deliverEnvironments: settings.deliverEnvironments,
      deliveryBatchSize: settings.deliveryBatchSize,
      sliceThreshold: settings.sliceThreshold,
      sliceSize: settings.sliceSize,
      sliceBudgetShare: SLICE_SHARE,
      ceilingPerSecond,
      bucketShareOfCeiling: settings.bucketShareOfCeiling,
      bucketPerSecond: bucket,
      rateBudget,
      runs,
    };
  } finally {
    await side.setFaults({});
    await publishers?.stop();
    sqsClient.destroy();
    await sqs.close();
  }
}

function statsDelta(before: GatewayStats, after: GatewayStats) {
  return { posts: after.posts - before.posts, throttled: after.throttled - before.throttled };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
