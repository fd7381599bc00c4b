/** Turns benchmark results into the Markdown of bench/results.md (and stdout). */
import { MAX_BUNDLE_BYTES } from '../components/bundle';
import type { BundleRow, LoadTime } from './bundles';
import type { FanoutResults, FanoutRow, Run } from './fanout';
import { formatBytes, formatInt, formatMs, formatNumber, formatPercent, markdownTable } from './lib/format';
import { POST_PATHS, type PostPath } from './lib/publishers';
import { spread, type Spread } from './lib/stats';
import type { MachineInfo } from './lib/machine';
import type { ReadCostRow } from './read-cost';
import type { LargeTopicResults, LargeTopicVariant } from './large-topic';
import { CONFIG_DEFAULTS } from '../protocol/stack-settings';
import { AWS_ASSUMPTIONS, costPerMillion, estimateLargeTopic, budgetForTime, invocationRate, LAMBDA_PRICE_PER_GB_S, MB_PER_VCPU, sliceBreakEven, suggestedMemory, vcpuOf, type PostingCost } from './lib/aws-model';

/** The delivery function's default share of RATE_BUDGET (sliceBudgetPercent). */
const SLICE_SHARE = CONFIG_DEFAULTS.sliceBudgetPercent / 100;

export interface BenchResults {
  machine: MachineInfo;
  date: string;
  command: string;
  durationMs: number;
  /** 1, 5 and 15-minute load averages when the run ended. */
  loadAverageAtEnd?: number[];
  fanout?: FanoutResults;
  largeTopic?: LargeTopicResults;
  readCost?: ReadCostRow[];
  bundles?: BundleRow[];
}

const APPROACH_LABEL: Record<FanoutRow['approach'], string> = {
  ours: 'ours (publish handler)',
  'ours-sqs': 'ours, via SQS (SendMessage → poller → handler)',
  article: 'article: Scan + unbounded Promise.all',
  sequential: 'sequential loop',
};

const POST_PATH_LABEL: Record<PostPath, string> = { sdk: 'SDK path', lean: 'lean path' };

function approachLabel(r: Pick<FanoutRow, 'approach' | 'postPath'>): string {
  return r.approach === 'ours' && r.postPath ? `ours, ${POST_PATH_LABEL[r.postPath]}` : APPROACH_LABEL[r.approach];
}

/** The median of a per-run number, and its range when the runs differ: `1,234 (1,200–1,300)`. */
function withRange(s: Spread, format: (n: number) => string): string {
  if (s.n === 0) return '—';
  const median = format(s.median);
  if (s.n === 1 || format(s.min) === format(s.max)) return median;
  return `${median} (${format(s.min)}–${format(s.max)})`;
}

const over = <R>(runs: readonly R[], value: (run: R) => number): Spread => spread(runs.map(value));

export function fanoutTable(results: FanoutResults): string {
  const rows = results.rows.map((r) => {
    const perSecond = over(r.runs, (run) => run.result.deliveriesPerSecond);
    const worst = Math.min(...r.runs.map((run) => run.result.delivered));
    const bound = r.boundPerSecond;
    const med = (value: (run: Run) => number) => over(r.runs, value).median;
    return [
      formatInt(r.subscribers),
      approachLabel(r) + (r.estimated ? ' (est.)' : ''),
      r.concurrency === 'unbounded' ? `unbounded (SDK: ${results.articleSocketLimit} sockets)` : String(r.concurrency),
      `${formatInt(worst)}/${formatInt(r.runs[0]?.result.expected ?? NaN)}`,
      formatMs(med((run) => run.result.firstMs)),
      formatMs(med((run) => run.result.durationMs)),
      withRange(perSecond, formatInt),
      withRange(over(r.runs, (run) => run.cpuPerDeliveryUs), formatInt),
      formatMs(med((run) => run.result.p50Ms)),
      formatMs(med((run) => run.result.p99Ms)),
      bound === undefined ? '—' : `${formatInt(bound)} (${formatPercent(perSecond.median / bound, 0)})`,
      r.estimated ? '—' : `${formatPercent(med((run) => run.publisherBusy), 0)} / ${formatPercent(med((run) => run.systemBusy), 0)}`,
    ];
  });
  return markdownTable(
    [
      'Subscribers',
      'Approach',
      'Concurrency',
      'Delivered (worst run)',
      'Send → first receipt',
      'Send → last receipt',
      'Deliveries/s (min–max)',
      'CPU µs per delivery (min–max)',
      'p50',
      'p99',
      'Bound /s (reached)',
      'Busy: publisher / local AWS',
    ],
    rows,
    ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** A ratio of two approaches' medians, with the range of the ratios taken repeat by repeat (adjacent runs). */
export interface Ratio {
  value: number;
  numerator: number;
  denominator: number;
  perRepeat: Spread;
}

export interface FanoutComparison {
  subscribers: number;
  concurrency: number;
  repeats: number;
  /** CPU µs per delivery, lean ÷ SDK (undefined when a path was not measured). */
  cpuLeanOverSdk?: Ratio;
  /** Deliveries/s, ours ÷ the article's, per post path measured. */
  oursOverArticle: Partial<Record<PostPath, Ratio>>;
  /** CPU µs per delivery, ours ÷ the article's, per post path measured. */
  cpuOursOverArticle: Partial<Record<PostPath, Ratio>>;
}

function ratio(a: FanoutRow | undefined, b: FanoutRow | undefined, value: (run: Run) => number): Ratio | undefined {
  if (!a || !b) return undefined;
  const numerator = over(a.runs, value).median;
  const denominator = over(b.runs, value).median;
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return undefined;
  const paired = a.runs.slice(0, b.runs.length).map((run, i) => value(run) / value(b.runs[i]));
  return { value: numerator / denominator, numerator, denominator, perRepeat: spread(paired) };
}

/** The ratios the issue asks for, at the largest fan-out, ours at the system's concurrency. */
export function fanoutComparison(results: FanoutResults): FanoutComparison {
  const { subscribers, concurrency } = results.comparison;
  const at = results.rows.filter((r) => r.subscribers === subscribers && !r.estimated);
  const ours = (postPath: PostPath) => at.find((r) => r.approach === 'ours' && r.postPath === postPath && r.concurrency === concurrency);
  const article = at.find((r) => r.approach === 'article');
  const perSecond = (run: Run) => run.result.deliveriesPerSecond;
  const cpu = (run: Run) => run.cpuPerDeliveryUs;
  const oursOverArticle: FanoutComparison['oursOverArticle'] = {};
  const cpuOursOverArticle: FanoutComparison['cpuOursOverArticle'] = {};
  for (const postPath of POST_PATHS) {
    const speed = ratio(ours(postPath), article, perSecond);
    if (speed) oursOverArticle[postPath] = speed;
    const cost = ratio(ours(postPath), article, cpu);
    if (cost) cpuOursOverArticle[postPath] = cost;
  }
  return { subscribers, concurrency, repeats: results.repeats, cpuLeanOverSdk: ratio(ours('lean'), ours('sdk'), cpu), oursOverArticle, cpuOursOverArticle };
}

function ratioLines(results: FanoutResults): string[] {
  const c = fanoutComparison(results);
  const times = (r: Ratio) => `${formatNumber(r.value, 2)}×`;
  const repeats = (r: Ratio) => (r.perRepeat.n > 1 ? `; repeat by repeat ${formatNumber(r.perRepeat.min, 2)}–${formatNumber(r.perRepeat.max, 2)}×` : '');
  const paths = (ratios: Partial<Record<PostPath, Ratio>>, unit: string, digits: (n: number) => string) => {
    const parts = POST_PATHS.flatMap((p) => {
      const r = ratios[p];
      return r ? [`${POST_PATH_LABEL[p]} **${times(r)}** (${digits(r.numerator)} / ${digits(r.denominator)} ${unit}${repeats(r)})`] : [];
    });
    return parts.length > 0 ? parts.join('; ') : 'not measured in this run';
  };
  const lean = c.cpuLeanOverSdk;
  return [
    `At ${formatInt(c.subscribers)} subscribers, ours at concurrency ${c.concurrency}, medians of ${c.repeats} repeats:`,
    '',
    `- CPU per delivery, lean / SDK: ` +
      (lean ? `**${times(lean)}** (${formatInt(lean.numerator)} / ${formatInt(lean.denominator)} µs${repeats(lean)})` : 'not measured in this run (both post paths must run)'),
    `- Deliveries/s, ours / article: ${paths(c.oursOverArticle, 'per s', formatInt)}`,
    `- CPU per delivery, ours / article: ${paths(c.cpuOursOverArticle, 'µs', formatInt)}`,
  ];
}

/** Each distinct answer of a cell's runs, with how many runs gave it. */
function answers(runs: readonly { answer: string }[]): string {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.answer, (counts.get(run.answer) ?? 0) + 1);
  return [...counts].map(([answer, n]) => (runs.length > 1 ? `${answer} ×${n}` : answer)).join('; ');
}

export function throttleTable(results: FanoutResults): string {
  const rows = results.throttle.map((r) => {
    const delivered = over(r.runs, (run) => run.result.delivered / run.result.expected);
    return [
      APPROACH_LABEL[r.approach],
      r.variant,
      formatInt(r.subscribers),
      withRange(delivered, (n) => formatPercent(n)),
      formatPercent(1 - delivered.median),
      withRange(over(r.runs, (run) => run.result.duplicates), formatInt),
      formatMs(over(r.runs, (run) => run.result.durationMs).median),
      withRange(over(r.runs, (run) => run.posts), formatInt),
      withRange(over(r.runs, (run) => run.throttled), formatInt),
      answers(r.runs),
    ];
  });
  return markdownTable(
    ['Approach', 'Variant', 'Subscribers', 'Delivered (min–max)', 'Lost', 'Duplicates', 'Send → last receipt', 'POSTs', '429s', 'Publisher answered'],
    rows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

export function readCostTable(rows: readonly ReadCostRow[]): string {
  const body = rows.flatMap((r) =>
    [r.query, r.scan].map((m) => [
      `${formatInt(r.subscriptionRows)} (${formatInt(r.tableItems)} items)`,
      m.method === 'query' ? 'ours: Query byTopic GSI' : 'article: Scan + FilterExpression',
      formatInt(m.requests),
      formatInt(m.itemsRead),
      formatNumber(m.capacityUnits, 1),
      formatInt(m.subscribersFound),
      formatMs(m.ms),
    ]),
  );
  return markdownTable(
    ['Subscription rows (table items)', 'Method', 'Requests', 'Items read', 'Read capacity units', 'Subscribers found', 'Time (dynalite)'],
    body,
    ['r', 'l', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function bundlesTable(rows: readonly BundleRow[]): string {
  const time = (t: LoadTime | undefined) => (t ? `${formatMs(t.cpuMs)} (${formatMs(t.wallMs)})` : '—');
  const body = rows.map((r) =>
    r.bytes === undefined
      ? [r.handler, 'missing', '—', '—', '—', '—', '—', '—']
      : [
          r.handler,
          formatBytes(r.bytes),
          formatBytes(r.gzipBytes ?? NaN),
          formatBytes(r.mapBytes ?? NaN),
          time(r.load),
          time(r.loadAndBuild),
          time(r.loadNoSourceMaps),
          time(r.loadInlineMap),
        ],
  );
  return markdownTable(
    ['Handler', 'index.js', 'Gzipped', 'index.js.map', 'Module load', 'Load + makeHandler', 'Load, source maps off', 'Load, map inlined'],
    body,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/**
 * The concurrency the numbers favour: the smallest one whose median throughput at the largest
 * fan-out is within `tolerance` of the best measured, on the post path the function ships with,
 * among cells whose every run delivered to everyone. More in flight than that buys nothing
 * locally and only pushes harder on API Gateway's account-wide request rate.
 */
export function suggestedConcurrency(results: FanoutResults, tolerance = 0.1): { concurrency: number; subscribers: number; best: number } | undefined {
  const ours = results.rows.filter((r) => r.approach === 'ours' && r.postPath === results.shippedPostPath && typeof r.concurrency === 'number');
  if (ours.length === 0) return undefined;
  const largest = Math.max(...ours.map((r) => r.subscribers));
  const complete = ours.filter((r) => r.subscribers === largest && r.runs.length > 0 && r.runs.every((run) => run.result.delivered === run.result.expected));
  if (complete.length === 0) return undefined;
  const rate = (r: FanoutRow) => over(r.runs, (run) => run.result.deliveriesPerSecond).median;
  const best = Math.max(...complete.map(rate));
  const good = complete.filter((r) => rate(r) >= (1 - tolerance) * best).map((r) => r.concurrency as number);
  return { concurrency: Math.min(...good), subscribers: largest, best };
}

const LARGE_VARIANT_LABEL: Record<LargeTopicVariant, string> = {
  ceiling: "sliced, no bucket, no budget: this machine's ceiling",
  single: 'one invocation (SLICE_THRESHOLD above the topic)',
  sliced: 'sliced',
  'sliced-budget-at-bucket': 'sliced, RATE_BUDGET = the bucket',
};

export function largeTopicTable(l: LargeTopicResults): string {
  const rows = l.runs.map((r) => {
    const ideal = r.bucketPerSecond ? (l.subscribers / r.bucketPerSecond) * 1000 : NaN;
    return [
      LARGE_VARIANT_LABEL[r.variant],
      r.bucketPerSecond ? formatInt(r.bucketPerSecond) : 'none',
      r.rateBudget > 0 ? formatInt(r.rateBudget) : '0 (off)',
      r.sliceThreshold >= l.subscribers ? 'above the topic' : formatInt(r.sliceThreshold),
      `${formatInt(r.result.delivered)}/${formatInt(r.result.expected)}`,
      formatInt(r.result.duplicates),
      formatMs(r.result.firstMs),
      formatMs(r.result.durationMs),
      Number.isFinite(ideal) ? `${formatMs(ideal)} (**${formatNumber(r.result.durationMs / ideal, 2)}×**)` : '—',
      formatInt(r.result.deliveriesPerSecond),
      formatInt(r.posts),
      formatInt(r.throttled),
      formatInt(r.cpuPerDeliveryUs),
      r.deliver ? `${formatInt(r.deliver.invocations)} (${formatInt(r.deliver.records)} jobs)` : '—',
      formatInt(r.deadLettered),
    ];
  });
  return markdownTable(
    ['Variant', 'Bucket /s', 'RATE_BUDGET', 'SLICE_THRESHOLD', 'Delivered', 'Duplicates', 'Send → first receipt', 'Send → last receipt', 'N ÷ bucket (last ÷ it)', 'Deliveries/s', 'POSTs', '429s', 'CPU µs per delivery', 'Delivery invocations', 'Delivery DLQ'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** CPU µs per delivery the model starts from: ours (lean, SDK) and the article's at the comparison size, and the sliced path's. */
export interface ModelInputs {
  lean?: number;
  sdk?: number;
  article?: number;
  /** Publisher + delivery environments per delivery, the sliced run without a bucket. */
  sliced?: number;
  /** Where the fan-out numbers come from. */
  subscribers?: number;
  concurrency?: number;
}

export function modelInputs(results: BenchResults): ModelInputs {
  const inputs: ModelInputs = {};
  if (results.fanout) {
    const c = fanoutComparison(results.fanout);
    inputs.subscribers = c.subscribers;
    inputs.concurrency = c.concurrency;
    inputs.lean = c.cpuOursOverArticle.lean?.numerator;
    inputs.sdk = c.cpuOursOverArticle.sdk?.numerator;
    inputs.article = c.cpuOursOverArticle.lean?.denominator ?? c.cpuOursOverArticle.sdk?.denominator;
  }
  const ceiling = results.largeTopic?.runs.find((r) => r.variant === 'ceiling');
  if (ceiling && Number.isFinite(ceiling.cpuPerDeliveryUs)) inputs.sliced = ceiling.cpuPerDeliveryUs;
  return inputs;
}

const MEMORY_CANDIDATES = [512, 1024, 1536, 1769, 2048];
const usd = (n: number) => `$${n < 0.01 ? n.toFixed(4) : n.toFixed(3)}`;

/** The AWS model: cost per million deliveries by memory, the memory and slice threshold the numbers favour, and the large topic at the account limit. */
export function awsModelLines(results: BenchResults): string[] {
  const inputs = modelInputs(results);
  const a = AWS_ASSUMPTIONS;
  const concurrency = CONFIG_DEFAULTS.publishConcurrency;
  const posting = (cpuUsPerDelivery: number): PostingCost => ({ cpuUsPerDelivery, concurrency, latencyMs: a.postLatencyMs });
  const paths: [string, number | undefined][] = [
    ['ours, lean path (shipped)', inputs.lean],
    ['ours, sliced (publish + delivery environments, incl. SQS)', inputs.sliced],
    ['ours, SDK path', inputs.sdk],
    ["article's Promise.all (SDK)", inputs.article],
  ];
  const measured = paths.filter((p): p is [string, number] => p[1] !== undefined && Number.isFinite(p[1]));
  if (measured.length === 0) return ['No CPU per delivery was measured in this run: nothing to extrapolate.'];
  const rows = measured.flatMap(([label, cpu]) =>
    MEMORY_CANDIDATES.map((mb) => [
      label,
      formatInt(cpu),
      `${formatInt(mb)} MB${mb === CONFIG_DEFAULTS.publishMemoryMb ? ' (default)' : ''}`,
      formatNumber(vcpuOf(mb), 2),
      formatInt(invocationRate(mb, posting(cpu))),
      usd(costPerMillion(mb, posting(cpu), LAMBDA_PRICE_PER_GB_S.arm64)),
      usd(costPerMillion(mb, posting(cpu), LAMBDA_PRICE_PER_GB_S.x86_64)),
    ]),
  );
  const leanCpu = inputs.lean ?? measured[0][1];
  const memory = suggestedMemory(MEMORY_CANDIDATES, posting(leanCpu), a.cpuHeadroom);
  const perInvocation = invocationRate(CONFIG_DEFAULTS.publishMemoryMb, posting(inputs.sliced ?? leanCpu));
  const breakEven = sliceBreakEven(invocationRate(CONFIG_DEFAULTS.publishMemoryMb, posting(leanCpu)), a.sliceHopS);
  const n = 100_000;
  const base = {
    subscribers: n,
    accountLimit: a.accountLimitPerSecond,
    sliceShare: SLICE_SHARE,
    sliceThreshold: CONFIG_DEFAULTS.sliceThreshold,
    perInvocation,
    deliveryConcurrency: CONFIG_DEFAULTS.deliveryMaximumConcurrency,
    overheadS: a.sliceOverheadS,
    timeoutS: a.publishTimeoutS,
  };
  const atDefault = estimateLargeTopic({ ...base, rateBudget: CONFIG_DEFAULTS.rateBudget });
  const atLimit = estimateLargeTopic({ ...base, rateBudget: a.accountLimitPerSecond });
  const needed = budgetForTime(base, 12);
  // The stack settings a team whose big topics matter most would pick: the whole account limit, 90 % of it for slices.
  const tunedPercent = 90;
  const tuned = estimateLargeTopic({ ...base, rateBudget: a.accountLimitPerSecond, sliceShare: tunedPercent / 100 });
  const shareNeeded = (n - base.sliceThreshold) / (12 - a.sliceOverheadS) / a.accountLimitPerSecond;
  return [
    `Assumptions: Lambda on-demand price ${usd(LAMBDA_PRICE_PER_GB_S.arm64 * 1e6)} per million GB-s on arm64 (the stack's architecture) and ${usd(LAMBDA_PRICE_PER_GB_S.x86_64 * 1e6)} on x86_64 (us-east-1, first tier; per-request charges of $0.20 per million invocations are left out: one invocation carries a batch); ` +
      `one vCPU at ${formatInt(MB_PER_VCPU)} MB, CPU in proportion below it, and no faster above it (the fan-out is one JavaScript thread); a Lambda vCPU as fast as one core of this machine; ` +
      `PostToConnection ${a.postLatencyMs} ms; PUBLISH_CONCURRENCY ${concurrency} (so one invocation posts at most ${formatInt(concurrency / (a.postLatencyMs / 1000))}/s); ` +
      `CPU per delivery as measured here${inputs.subscribers ? ` (medians at ${formatInt(inputs.subscribers)} subscribers, concurrency ${inputs.concurrency}; the sliced path from the large topic's ceiling run)` : ''}. ` +
      'An invocation is billed for its wall time × memory: while CPU-bound, the cost per delivery is the same at any memory; once the concurrency bound binds, more memory only costs more.',
    '',
    markdownTable(['Path', 'CPU µs per delivery', 'Memory', 'vCPU', 'Deliveries/s per invocation', 'Per million deliveries, arm64', 'x86_64'], rows, ['l', 'r', 'l', 'r', 'r', 'r', 'r']),
    '',
    `- **Publish memory**: the smallest size at which one invocation reaches its concurrency bound even with ${a.cpuHeadroom}× the CPU measured here (a slower vCPU, bursts of retries) is **${formatInt(memory)} MB** (default ${formatInt(CONFIG_DEFAULTS.publishMemoryMb)} MB). ` +
      `At ${formatInt(memory)} MB the lean path costs ${usd(costPerMillion(memory, posting(leanCpu), LAMBDA_PRICE_PER_GB_S.arm64))} per million deliveries on arm64; one vCPU (${formatInt(MB_PER_VCPU)} MB) would cost ${usd(costPerMillion(MB_PER_VCPU, posting(leanCpu), LAMBDA_PRICE_PER_GB_S.arm64))} for no more speed.`,
    `- **SLICE_THRESHOLD**: one invocation at ${formatInt(CONFIG_DEFAULTS.publishMemoryMb)} MB posts ~${formatInt(invocationRate(CONFIG_DEFAULTS.publishMemoryMb, posting(leanCpu)))}/s; the slices beyond the threshold first travel through the delivery queue (assumed ~${formatNumber(a.sliceHopS, 1)} s: SendMessageBatch and the mapping's pick-up), then run in parallel. ` +
      `A message reaches everyone soonest when publish's own part ends as the slices start: threshold ≈ rate × hop ≈ **${formatInt(breakEven)}** (below, publish waits idle for the slices; above, its own part finishes last). The default is ${formatInt(CONFIG_DEFAULTS.sliceThreshold)}.`,
    `- **100,000 subscribers in AWS** (account limit ${formatInt(a.accountLimitPerSecond)}/s, ${formatInt(CONFIG_DEFAULTS.deliveryMaximumConcurrency)} delivery invocations at ~${formatInt(perInvocation)}/s each, ${a.sliceOverheadS} s until the slices post, sliceBudgetPercent ${CONFIG_DEFAULTS.sliceBudgetPercent}): ` +
      `one invocation would post at ${formatInt(atDefault.singlePerSecond)}/s and need ${formatNumber(atDefault.singleS, 1)} s (${atDefault.singleFits ? 'within' : 'past'} its ${a.publishTimeoutS} s timeout). ` +
      `Sliced at the default RATE_BUDGET ${formatInt(CONFIG_DEFAULTS.rateBudget)}: the slices get ${formatInt(atDefault.slicedPerSecond)}/s (bound by the ${atDefault.slicedBoundBy}) → **${formatNumber(atDefault.slicedS, 1)} s**. ` +
      `At RATE_BUDGET ${formatInt(a.accountLimitPerSecond)} (the whole account limit): ${formatInt(atLimit.slicedPerSecond)}/s → **${formatNumber(atLimit.slicedS, 1)} s**. ` +
      (needed === undefined
        ? `≤ 12 s needs the slices to post ${formatInt((n - base.sliceThreshold) / (12 - a.sliceOverheadS))}/s: with sliceBudgetPercent ${CONFIG_DEFAULTS.sliceBudgetPercent} no RATE_BUDGET within the account limit gives that (it would take RATE_BUDGET ≥ ${formatInt(Math.ceil((n - base.sliceThreshold) / (12 - a.sliceOverheadS) / SLICE_SHARE / 100) * 100)}, above the limit, leaving the 429 back-off to do the limiting); at RATE_BUDGET ${formatInt(a.accountLimitPerSecond)} it needs a share of at least ${formatNumber(shareNeeded, 2)}.`
        : needed > a.accountLimitPerSecond
          ? `≤ 12 s needs the slices to post ${formatInt((n - base.sliceThreshold) / (12 - a.sliceOverheadS))}/s: with sliceBudgetPercent ${CONFIG_DEFAULTS.sliceBudgetPercent} that is RATE_BUDGET ≥ **${formatInt(needed)}**, above the account limit (API Gateway's 429s and the fan-out's back-off would then do the limiting, and every other API of the account would feel it); within the limit, RATE_BUDGET ${formatInt(a.accountLimitPerSecond)} with a slice share of at least ${formatNumber(shareNeeded, 2)} does it.`
          : `≤ 12 s needs RATE_BUDGET ≥ **${formatInt(needed)}**.`) +
      ` With the stack settings \`realtime:rateBudget ${a.accountLimitPerSecond}\` and \`realtime:sliceBudgetPercent ${tunedPercent}\`: ${formatInt(tuned.slicedPerSecond)}/s → **${formatNumber(tuned.slicedS, 1)} s**.`,
  ];
}

const loads = (averages: readonly number[] | undefined) => (averages ?? []).map((n) => formatNumber(n, 1)).join(' / ') || '—';

export function renderResults(results: BenchResults): string {
  const m = results.machine;
  const out: string[] = [
    '# Benchmark results',
    '',
    `Generated by \`${results.command}\` on ${results.date} in ${formatMs(results.durationMs)}.`,
    '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${formatNumber(m.memoryGiB, 1)} GiB memory, ${m.os}`,
    `- Node.js ${m.node}`,
    `- Load average (1/5/15 min) at the start: ${loads(m.loadAverage)}` +
      (results.loadAverageAtEnd ? `; at the end: ${loads(results.loadAverageAtEnd)}` : '') +
      ` (${m.cores} cores: a load above that means the run shared its CPUs with other work, which slows every approach and inflates CPU time per delivery)`,
    '- Three parts: the local system (gateway, dynalite, SQS + poller) and the subscribers run in a worker thread; the publishers in a child process of their own; the main thread only orchestrates. ' +
      'So the publishers and the local AWS side each have roughly one core, as a Lambda does not share its CPU with API Gateway.',
  ];
  if (results.fanout) {
    const f = results.fanout;
    const pick = suggestedConcurrency(f);
    const sockets = f.articleSocketLimitSource === 'agent' ? `${f.articleSocketLimit} sockets per host (read from its client's agent)` : `${f.articleSocketLimit} sockets per host (the SDK's documented default)`;
    out.push(
      '',
      '## Fan-out: one publish to N subscribers',
      '',
      `Every delivery is a PostToConnection over HTTP to the local gateway, which adds ${f.latencyMs} ms to every management API call. ` +
        'Subscribers are virtual connections (no sockets). Latency per subscriber = its receipt time − the time the publish was sent ' +
        '(for "via SQS": before SendMessage; otherwise: when the publisher was invoked). ' +
        `Each cell was measured ${f.repeats} times, the approaches of a size taking turns (ABCABC…); durations, latencies and busy shares are medians, the ranges are min–max over the repeats. ` +
        'CPU per delivery = the publisher process\'s CPU time (user + system, every thread: JavaScript, garbage collection, libuv) during the run ÷ deliveries; it includes finding the subscribers (Query or Scan). ' +
        'It is "—" for "via SQS", whose handler runs inside the local system. ' +
        'Busy = share of the run each side\'s event loop was working (not CPU: it shows saturation; local AWS: the gateway, dynalite, SQS and, for "via SQS", the publish handler). ' +
        `The bound is the posts/s that can be in flight ÷ latency: concurrency ÷ ${f.latencyMs} ms for ours; for the article's "unbounded" Promise.all, its SDK client's default HTTP agent: ${sockets}. ` +
        'The sequential loop is sampled and extrapolated (est.).',
      '',
      fanoutTable(f),
      '',
      ...ratioLines(f),
      '',
      pick
        ? `Suggested default PUBLISH_CONCURRENCY: **${pick.concurrency}** — the smallest value within 10 % of the best median throughput (${formatInt(pick.best)} deliveries/s) at ${formatInt(pick.subscribers)} subscribers, ${POST_PATH_LABEL[f.shippedPostPath]}.`
        : 'No suggestion: no complete run of ours at the largest fan-out.',
      '',
      `## Under throttling: management API limited to ${formatInt(f.throttlePerSecond)} posts/s`,
      '',
      (f.throttlePerSecond === f.throttleRequestedPerSecond
        ? ''
        : `The benchmark asks for ${formatInt(f.throttleRequestedPerSecond)} posts/s, but this machine delivers at most ${formatInt(f.peakPerSecond)} posts/s unthrottled (median), ` +
          `so that limit would never bite; it is lowered to half the peak. `) +
        `The gateway answers 429 LimitExceededException beyond its token bucket (burst = one second's worth) and still adds ${f.latencyMs} ms per call; ` +
        `one publish addresses ${formatInt(f.throttle[0]?.subscribers ?? NaN)} subscribers, about ${f.throttleSeconds.toLocaleString('en-US')} seconds of traffic at the limit. ` +
        `Each variant ran ${f.repeats} times, taking turns; medians, with min–max where the runs differ. ` +
        'A subscriber counts as delivered if its message arrived at least once; extra copies are counted as duplicates (clients drop them by message id). ' +
        `A failed SQS record comes back after the queue's visibility timeout and, after ${f.maxReceives} receives, goes to the DLQ; each receive fans out to every subscriber again.`,
      '',
      throttleTable(f),
    );
  }
  if (results.largeTopic) {
    const l = results.largeTopic;
    const sliced = l.runs.find((r) => r.variant === 'sliced');
    const single = l.runs.find((r) => r.variant === 'single');
    const ideal = (l.subscribers / l.bucketPerSecond) * 1000;
    out.push(
      '',
      `## Large topic: ${formatInt(l.subscribers)} subscribers under an account-wide bucket`,
      '',
      `One message to one topic of ${formatInt(l.subscribers)} virtual subscribers (opened without $connect; the fan-out never reads connection rows), ${l.latencyMs} ms per management call. ` +
        "The gateway's token bucket (429 LimitExceededException beyond it, burst one second's worth) stands in for API Gateway's account-wide request rate. " +
        `This machine's own ceiling was measured first: the sliced path with no bucket and no budget delivered **${formatInt(l.ceilingPerSecond)}/s**; the bucket is ${formatPercent(l.bucketShareOfCeiling, 0)} of that, **${formatInt(l.bucketPerSecond)}/s**, so the bucket binds and not this machine's CPU (N ÷ bucket = ${formatMs(ideal)}). ` +
        `Sliced: publish (the lean path, PUBLISH_CONCURRENCY ${l.concurrency}) posts to the first ${formatInt(l.sliceThreshold)} itself and queues the rest as slice jobs of ${formatInt(l.sliceSize)} on a delivery queue, which ${l.deliverEnvironments} delivery environments — each a process of its own with its own clients, as concurrent Lambda invocations — take ${l.deliveryBatchSize} at a time. ` +
        `All share one RATE_BUDGET through the ledger; the delivery function takes at most ${l.sliceBudgetShare} of it, so RATE_BUDGET is set to bucket ÷ ${l.sliceBudgetShare} = ${formatInt(l.rateBudget)} (the last run sets it to the bucket itself, to show what that share costs). ` +
        'CPU per delivery adds up every process that posted (publisher and delivery environments, SQS calls included). One run per variant. ' +
        "N ÷ bucket ignores the bucket's one-second burst, which lets any run finish up to a second sooner.",
      '',
      largeTopicTable(l),
      '',
      ...(sliced && single
        ? [
            `Sliced reached the last subscriber in ${formatMs(sliced.result.durationMs)}, **${formatNumber(sliced.result.durationMs / ideal, 2)} × N ÷ bucket** (target ≤ 1.15×), with ${formatInt(sliced.throttled)} 429s; one invocation in ${formatMs(single.result.durationMs)} (**${formatNumber(single.result.durationMs / ideal, 2)}×**). ` +
              (single.result.durationMs / ideal > 1.15
                ? `One invocation could not keep up with the bucket: it is bound by its own posts in flight (${l.concurrency} ÷ ${l.latencyMs} ms = ${formatInt(l.concurrency / (l.latencyMs / 1000))}/s at best) and its one process's CPU, while the slices spread the same work over ${l.deliverEnvironments} environments. `
                : 'On this machine one invocation kept up with the bucket: the processes share the same two cores, so one invocation here is not CPU-starved the way a Lambda (one vCPU at most) is. ') +
              'In AWS one invocation also has a timeout; the model below carries the CPU per delivery measured here to Lambda.',
          ]
        : []),
    );
  }
  if (results.fanout || results.largeTopic) {
    out.push('', '## Extrapolated to AWS: cost per delivery, publish memory, slice threshold, a topic of 100,000', '', ...awsModelLines(results));
  }
  if (results.readCost) {
    out.push(
      '',
      `## Read cost per publish (a topic of ${formatInt(results.readCost[0]?.query.subscribersFound ?? NaN)} subscribers)`,
      '',
      'Read capacity as dynalite reports it (ReturnConsumedCapacity TOTAL), which follows DynamoDB\'s rules: the size of every item read by a request, ' +
        'rounded up to 4 KB units, halved for eventually consistent reads; summed over pages. A Scan pays for every item in the table, a filter only drops them afterwards.',
      '',
      readCostTable(results.readCost),
      '',
      ...results.readCost.map(
        (r) =>
          `- ${formatInt(r.subscriptionRows)} rows: the article's sample as written reads only the first Scan page and would reach ${formatInt(r.scanFirstPageSubscribers)} of ${formatInt(r.query.subscribersFound)} subscribers.`,
      ),
    );
  }
  if (results.bundles) {
    out.push(
      '',
      '## Lambda packages',
      '',
      `Bundles built by components/bundle.ts exactly as deployed: minified CommonJS with the AWS SDK inside, index.js.map beside it (at most ${formatBytes(MAX_BUNDLE_BYTES)} each, checked by the tests). ` +
        'Init times: median of fresh `node` processes, variants alternated, as CPU time of the process (wall-clock time in brackets; CPU time stays comparable on a busy machine); "module load" is `require()` of index.js with source maps on, as the functions run (NODE_OPTIONS=--enable-source-maps: Node reads and parses the map as it loads the file), "+ makeHandler" adds building the handler (config, SDK clients); ' +
        'the last two columns load the same code with source maps off, and with the map inlined in index.js instead of beside it. ' +
        'Lambda reports more (it also starts the runtime), but the differences between bundles carry over.',
      '',
      bundlesTable(results.bundles),
    );
  }
  return out.join('\n') + '\n';
}
