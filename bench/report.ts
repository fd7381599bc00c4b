/** Turns benchmark results into the Markdown of bench/results.md (and stdout). */
import { MAX_BUNDLE_BYTES } from '../components/bundle';
import type { BundleRow, LoadTime } from './bundles';
import type { FanoutResults, FanoutRow } from './fanout';
import { formatBytes, formatInt, formatMs, formatNumber, formatPercent, markdownTable } from './lib/format';
import type { MachineInfo } from './lib/machine';
import type { ReadCostRow } from './read-cost';

export interface BenchResults {
  machine: MachineInfo;
  date: string;
  command: string;
  durationMs: number;
  fanout?: FanoutResults;
  readCost?: ReadCostRow[];
  bundles?: BundleRow[];
}

const APPROACH_LABEL: Record<FanoutRow['approach'], string> = {
  ours: 'ours (publish handler)',
  'ours-sqs': 'ours, via SQS (SendMessage → poller → handler)',
  article: 'article: Scan + unbounded Promise.all',
  sequential: 'sequential loop',
};

export function fanoutTable(results: FanoutResults): string {
  const rows = results.rows.map((r) => {
    const bound = r.boundPerSecond;
    return [
      formatInt(r.subscribers),
      APPROACH_LABEL[r.approach] + (r.estimated ? ' (est.)' : ''),
      r.concurrency === 'unbounded' ? `unbounded (SDK: ${results.articleSocketLimit} sockets)` : String(r.concurrency),
      `${formatInt(r.result.delivered)}/${formatInt(r.result.expected)}`,
      formatMs(r.result.durationMs),
      formatInt(r.result.deliveriesPerSecond),
      formatMs(r.result.p50Ms),
      formatMs(r.result.p99Ms),
      bound === undefined ? '—' : formatInt(bound),
      bound === undefined ? '—' : formatPercent(r.result.deliveriesPerSecond / bound),
      r.estimated ? '—' : `${formatPercent(r.publisherBusy, 0)} / ${formatPercent(r.systemBusy, 0)}`,
    ];
  });
  return markdownTable(
    ['Subscribers', 'Approach', 'Concurrency', 'Delivered', 'Send → last receipt', 'Deliveries/s', 'p50', 'p99', 'Bound c/latency (/s)', 'Of bound', 'Busy: publishers / local AWS'],
    rows,
    ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function throttleTable(results: FanoutResults): string {
  const rows = results.throttle.map((r) => [
    APPROACH_LABEL[r.approach],
    r.variant,
    formatInt(r.subscribers),
    formatPercent(r.result.delivered / r.result.expected),
    formatPercent(1 - r.result.delivered / r.result.expected),
    formatInt(r.result.duplicates),
    formatMs(r.result.durationMs),
    formatInt(r.posts),
    formatInt(r.throttled),
    r.answer,
  ]);
  return markdownTable(
    ['Approach', 'Variant', 'Subscribers', 'Delivered', 'Lost', 'Duplicates', 'Send → last receipt', 'POSTs', '429s', 'Publisher answered'],
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
 * The concurrency the numbers favour: the smallest one whose throughput at the largest fan-out
 * is within `tolerance` of the best measured. More in flight than that buys nothing locally
 * and only pushes harder on API Gateway's account-wide request rate.
 */
export function suggestedConcurrency(results: FanoutResults, tolerance = 0.1): { concurrency: number; subscribers: number; best: number } | undefined {
  const ours = results.rows.filter((r) => r.approach === 'ours' && typeof r.concurrency === 'number');
  if (ours.length === 0) return undefined;
  const largest = Math.max(...ours.map((r) => r.subscribers));
  const atLargest = ours.filter((r) => r.subscribers === largest && r.result.delivered === r.result.expected);
  if (atLargest.length === 0) return undefined;
  const best = Math.max(...atLargest.map((r) => r.result.deliveriesPerSecond));
  const good = atLargest.filter((r) => r.result.deliveriesPerSecond >= (1 - tolerance) * best).map((r) => r.concurrency as number);
  return { concurrency: Math.min(...good), subscribers: largest, best };
}

export function renderResults(results: BenchResults): string {
  const m = results.machine;
  const out: string[] = [
    '# Benchmark results',
    '',
    `Generated by \`${results.command}\` on ${results.date} in ${formatMs(results.durationMs)}.`,
    '',
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${formatNumber(m.memoryGiB, 1)} GiB memory, ${m.os}`,
    `- Node.js ${m.node}`,
    '- One process: the local system (gateway, dynalite, SQS + poller) and the subscribers run in a worker thread, the publishers in the main thread, so each side has roughly one core, as a Lambda does not share its CPU with API Gateway.',
  ];
  if (results.fanout) {
    const f = results.fanout;
    const pick = suggestedConcurrency(f);
    out.push(
      '',
      '## Fan-out: one publish to N subscribers',
      '',
      `Every delivery is a PostToConnection over HTTP to the local gateway, which adds ${f.latencyMs} ms to every management API call. ` +
        'Subscribers are virtual connections (no sockets). Latency per subscriber = its receipt time − the time the publish was sent ' +
        '(for "via SQS": before SendMessage; otherwise: when the publish function was invoked). ' +
        'Busy = share of the run each thread\'s event loop was working (publishers: this thread; local AWS: the gateway, dynalite, SQS and, for "via SQS", the publish handler). ' +
        `"Unbounded" Promise.all is in fact capped by the SDK's default HTTP agent at ${f.articleSocketLimit} sockets per client.`,
      '',
      fanoutTable(f),
      '',
      pick
        ? `Suggested default PUBLISH_CONCURRENCY: **${pick.concurrency}** — the smallest value within 10 % of the best throughput (${formatInt(pick.best)} deliveries/s) at ${formatInt(pick.subscribers)} subscribers.`
        : 'No suggestion: no complete run of ours at the largest fan-out.',
      '',
      `## Under throttling: management API limited to ${formatInt(f.throttlePerSecond)} posts/s`,
      '',
      (f.throttlePerSecond === f.throttleRequestedPerSecond
        ? ''
        : `The benchmark asks for ${formatInt(f.throttleRequestedPerSecond)} posts/s, but this machine delivers at most ${formatInt(f.peakPerSecond)} posts/s unthrottled, ` +
          `so that limit would never bite; it is lowered to half the peak. `) +
        `The gateway answers 429 LimitExceededException beyond its token bucket (burst = one second's worth) and still adds ${f.latencyMs} ms per call; ` +
        `one publish addresses ${formatInt(f.throttle[0]?.subscribers ?? NaN)} subscribers, about ten seconds of traffic at the limit. ` +
        'A subscriber counts as delivered if its message arrived at least once; extra copies are counted as duplicates (clients drop them by message id). ' +
        `A failed SQS record comes back after the queue's visibility timeout and, after ${f.maxReceives} receives, goes to the DLQ; each receive fans out to every subscriber again.`,
      '',
      throttleTable(f),
    );
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
