/**
 * From CPU per delivery measured here to AWS: what one invocation can post per second at a given
 * memory size, what a million deliveries cost, and how long a large topic takes under the
 * account's request rate and the stack's RATE_BUDGET. Pure arithmetic; every assumption is a
 * named constant the report prints.
 *
 * The model: a Lambda gets CPU in proportion to its memory (1,769 MB = one vCPU); the fan-out's
 * JavaScript runs on one thread, so above one vCPU it gets no faster. One invocation posts at
 * min(CPU rate, concurrency ÷ latency); it is billed for its wall time × memory, so a CPU-bound
 * invocation costs the same per delivery at any memory up to the point where the concurrency
 * bound takes over, and more above it.
 */

/** Lambda's price per GB-second (us-east-1, on-demand, first tier), by architecture; the stack runs arm64 (components/lambda-function.ts). */
export const LAMBDA_PRICE_PER_GB_S = { arm64: 0.0000133334, x86_64: 0.0000166667 } as const;
/** Memory at which a function has one full vCPU. */
export const MB_PER_VCPU = 1769;

/** Assumptions about AWS the measurements cannot give. */
export const AWS_ASSUMPTIONS = {
  /** PostToConnection round trip inside a region (the benchmark injects the same locally). */
  postLatencyMs: 20,
  /** API Gateway's default account-wide request rate per region. */
  accountLimitPerSecond: 10_000,
  /**
   * From publish's start to the slices' first posts: the first Query page, SendMessageBatch,
   * and the event source mapping handing the jobs to delivery invocations.
   */
  sliceOverheadS: 1,
  /** What one slice's trip through the delivery queue adds (SendMessageBatch, the mapping's pick-up), once publish is under way. */
  sliceHopS: 0.3,
  /** The publish function's timeout (Pulumi.yaml publishTimeoutSeconds). */
  publishTimeoutS: 60,
  /**
   * Headroom on the CPU measured here when choosing memory: a Lambda vCPU may be slower than this
   * machine's core, and bursts (retries, several records) need more than the average.
   */
  cpuHeadroom: 2,
} as const;

export interface PostingCost {
  /** CPU µs per delivery (every thread), as measured. */
  cpuUsPerDelivery: number;
  /** Posts in flight (PUBLISH_CONCURRENCY). */
  concurrency: number;
  latencyMs: number;
}

/** The vCPU share a function of this memory has for one thread. */
export function vcpuOf(memoryMb: number): number {
  return Math.min(1, memoryMb / MB_PER_VCPU);
}

/** Deliveries/s of one invocation: its CPU or its posts in flight, whichever binds first. */
export function invocationRate(memoryMb: number, p: PostingCost): number {
  const cpuRate = (vcpuOf(memoryMb) * 1e6) / p.cpuUsPerDelivery;
  return Math.min(cpuRate, p.concurrency / (p.latencyMs / 1000));
}

/** US dollars per million deliveries: memory × wall time per delivery × the price per GB-s. */
export function costPerMillion(memoryMb: number, p: PostingCost, pricePerGbS: number): number {
  return (memoryMb / 1024) * (1e6 / invocationRate(memoryMb, p)) * pricePerGbS;
}

/**
 * The memory the numbers favour: the smallest candidate at which one invocation, even with its
 * CPU per delivery × `headroom`, still reaches its concurrency bound. Below it the invocation is
 * CPU-bound (slower, same cost per delivery); above it, memory only adds cost.
 */
export function suggestedMemory(candidates: readonly number[], p: PostingCost, headroom: number): number {
  const bound = p.concurrency / (p.latencyMs / 1000);
  const slow = { ...p, cpuUsPerDelivery: p.cpuUsPerDelivery * headroom };
  const sorted = [...candidates].sort((a, b) => a - b);
  return sorted.find((mb) => invocationRate(mb, slow) >= bound * 0.999) ?? sorted[sorted.length - 1];
}

export interface LargeTopicModel {
  subscribers: number;
  accountLimit: number;
  rateBudget: number;
  /** SLICE_BUDGET_SHARE: the most of RATE_BUDGET the delivery function takes. */
  sliceShare: number;
  sliceThreshold: number;
  /** Deliveries/s of one invocation (publish's inline part, and each delivery invocation). */
  perInvocation: number;
  /** The delivery queue's maximum concurrency. */
  deliveryConcurrency: number;
  overheadS: number;
  timeoutS: number;
}

export interface LargeTopicEstimate {
  /** One invocation: its rate, the time it would need, and whether that fits its timeout. */
  singlePerSecond: number;
  singleS: number;
  singleFits: boolean;
  /** Sliced: the slices' rate and the time to the last delivery. */
  slicedPerSecond: number;
  slicedS: number;
  /** What binds the slices. */
  slicedBoundBy: 'account limit' | 'rate budget share' | 'delivery concurrency';
}

export function estimateLargeTopic(m: LargeTopicModel): LargeTopicEstimate {
  const singlePerSecond = Math.min(m.perInvocation, m.rateBudget > 0 ? m.rateBudget : Infinity, m.accountLimit);
  const singleS = m.subscribers / singlePerSecond;
  const bounds: [LargeTopicEstimate['slicedBoundBy'], number][] = [
    ['account limit', m.accountLimit],
    ['rate budget share', m.rateBudget > 0 ? m.sliceShare * m.rateBudget : Infinity],
    ['delivery concurrency', m.deliveryConcurrency * m.perInvocation],
  ];
  const [slicedBoundBy, slicedPerSecond] = bounds.reduce((a, b) => (b[1] < a[1] ? b : a));
  const inlineS = Math.min(m.sliceThreshold, m.subscribers) / singlePerSecond;
  const slicedS = Math.max(inlineS, m.overheadS + Math.max(0, m.subscribers - m.sliceThreshold) / slicedPerSecond);
  return { singlePerSecond, singleS, singleFits: singleS <= m.timeoutS, slicedPerSecond, slicedS, slicedBoundBy };
}

/** The smallest RATE_BUDGET whose slices reach `targetS` (undefined if the account limit or the delivery concurrency cannot). */
export function budgetForTime(m: Omit<LargeTopicModel, 'rateBudget'>, targetS: number): number | undefined {
  const needed = Math.max(0, m.subscribers - m.sliceThreshold) / (targetS - m.overheadS);
  if (targetS <= m.overheadS || needed > m.accountLimit || needed > m.deliveryConcurrency * m.perInvocation) return undefined;
  return Math.ceil(needed / m.sliceShare / 100) * 100;
}

/**
 * The SLICE_THRESHOLD the numbers favour: publish posts to the first `threshold` subscribers
 * itself while the slices of the rest travel through the delivery queue (`hopS`); the message
 * reaches everyone soonest when the inline part ends as the slices start, i.e. threshold = one
 * invocation's rate × the hop. A smaller threshold leaves publish idle while the slices travel;
 * a larger one makes the inline part the last to finish.
 */
export function sliceBreakEven(perInvocation: number, hopS: number): number {
  return perInvocation * hopS;
}
