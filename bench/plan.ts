/**
 * What `npm run bench` measures, at full size or scaled down for a quick run.
 *
 * Sized for about ten minutes on 2 cores with every fan-out cell measured three times: the
 * concurrency grid is 32 / 64 / 128 (below 32 throughput only follows the bound c / latency,
 * above 128 nothing changes but latency; 16 alone cost 29 s per run at 20,000 subscribers), and
 * the sequential loop is sampled on 250 posts (it runs at a steady 1 / latency, so the sample
 * extrapolates exactly).
 */
import { LOCAL_DEFAULTS } from '../local/system';
import { DEFAULTS } from '../protocol/limits';
import type { PostPath } from './lib/publishers';

export const SECTIONS = ['fanout', 'large', 'read', 'bundles'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchPlan {
  sections: readonly Section[];
  /** Fan-out sizes (subscribers per publish). */
  sizes: number[];
  /** PUBLISH_CONCURRENCY values of our handler. */
  concurrencies: number[];
  /** How our handler posts; each path runs at every concurrency. */
  postPaths: PostPath[];
  /** Measurements per fan-out and throttling cell, the approaches alternating. */
  repeats: number;
  /** The concurrency of the system's own publish function (the SQS path). */
  systemConcurrency: number;
  latencyMs: number;
  sequentialMaxPosts: number;
  /** The full SQS path (SendMessage → poller → handler) runs for fan-outs up to this size. */
  viaQueueMaxSubscribers: number;
  /**
   * The publish queue's visibility timeout. The local publish function's timeout is a sixth of
   * it (as in the stack), and must outlast the longest fan-out through it (runDeadlineMs), or on
   * a busy machine the function stops at its deadline and the record comes back mid-benchmark.
   */
  visibilityTimeoutSeconds: number;
  /** Rate limit (posts/s), seconds of traffic at that rate per publish, receives before the DLQ. */
  throttle: { perSecond: number; seconds: number; maxReceives: number };
  runDeadlineMs: number;
  /**
   * The large-topic scenario: subscribers, concurrent delivery environments (processes), the
   * bucket as a share of the measured ceiling, and the run deadline.
   */
  large: { subscribers: number; deliverEnvironments: number; bucketShareOfCeiling: number; runDeadlineMs: number };
  /** Read cost: subscription rows of the tables, subscribers of the published topic. */
  readRows: number[];
  topicSubscribers: number;
  subscriptionsPerConnection: number;
  /** Fresh processes per handler for module-init time. */
  initRuns: number;
}

export const FULL_PLAN: BenchPlan = {
  sections: SECTIONS,
  sizes: [1_000, 5_000, 20_000],
  concurrencies: [32, 64, 128],
  postPaths: ['sdk', 'lean'],
  repeats: 3,
  systemConcurrency: DEFAULTS.publishConcurrency,
  latencyMs: 20,
  sequentialMaxPosts: 250,
  viaQueueMaxSubscribers: 20_000,
  visibilityTimeoutSeconds: 600,
  throttle: { perSecond: 2_000, seconds: 10, maxReceives: LOCAL_DEFAULTS.maxReceiveCount },
  runDeadlineMs: 90_000,
  // Four environments: more only share the same two cores (the stack allows 20 in AWS).
  large: { subscribers: 100_000, deliverEnvironments: 4, bucketShareOfCeiling: 0.7, runDeadlineMs: 300_000 },
  readRows: [10_000, 100_000],
  topicSubscribers: 100,
  subscriptionsPerConnection: 5,
  initRuns: 7,
};

/**
 * Scales every count (subscribers, rows, the rate limit) by `scale`, so a small run keeps the
 * same shape: the rate limit still bites, the published topic is still a small part of the table.
 */
export function scalePlan(plan: BenchPlan, scale: number): BenchPlan {
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1) throw new Error(`scale must be a number in (0, 1], got ${scale}`);
  const s = (n: number, min: number) => Math.max(min, Math.round(n * scale));
  const topicSubscribers = s(plan.topicSubscribers, 5);
  return {
    ...plan,
    sizes: [...new Set(plan.sizes.map((n) => s(n, 5)))],
    sequentialMaxPosts: s(plan.sequentialMaxPosts, 5),
    viaQueueMaxSubscribers: s(plan.viaQueueMaxSubscribers, 5),
    throttle: { ...plan.throttle, perSecond: s(plan.throttle.perSecond, 1) },
    large: { ...plan.large, subscribers: s(plan.large.subscribers, 50) },
    readRows: [...new Set(plan.readRows.map((n) => s(n, topicSubscribers * plan.subscriptionsPerConnection)))],
    topicSubscribers,
  };
}

/** `--quick`: a smoke run (a minute or two, mostly the bundles). */
export function quickPlan(): BenchPlan {
  const plan = scalePlan(FULL_PLAN, 0.02);
  // Two repeats and two seconds of throttled traffic still exercise every path, in a fraction of the time.
  return { ...plan, concurrencies: [32, 64], repeats: 2, throttle: { ...plan.throttle, seconds: 2 }, initRuns: 2, runDeadlineMs: 30_000 };
}
