/**
 * Smoke runs of the benchmark code at tiny sizes, so it cannot rot between full runs. They
 * assert the shape of the results and that deliveries are complete; never a timing.
 */
import { expect } from 'chai';
import { runBundles } from '../../bench/bundles';
import { fanoutTopic, publisherTarget, runFanout, type FanoutResults, type FanoutRow, type Run } from '../../bench/fanout';
import { startAwsSide, type AwsSide } from '../../bench/lib/aws-side';
import { markdownTable } from '../../bench/lib/format';
import { machineInfo } from '../../bench/lib/machine';
import { silentProgress } from '../../bench/lib/progress';
import { startPublisherSide } from '../../bench/lib/publisher-side';
import { publishEnv, SINGLE_INVOCATION_ENV, SINGLE_INVOCATION_THRESHOLD } from '../../bench/lib/publishers';
import { loadConfig } from '../../functions/lib/config';
import { ReceiptLog } from '../../bench/lib/receipts';
import { percentile, spread } from '../../bench/lib/stats';
import { FULL_PLAN, quickPlan, scalePlan } from '../../bench/plan';
import { runReadCost, type ReadCostRow } from '../../bench/read-cost';
import { fanoutComparison, fanoutTable, renderResults, suggestedConcurrency } from '../../bench/report';
import { ENV } from '../../protocol/env';
import { runLargeTopic } from '../../bench/large-topic';
import { budgetForTime, costPerMillion, estimateLargeTopic, invocationRate, sliceBreakEven, suggestedMemory } from '../../bench/lib/aws-model';
import * as path from 'node:path';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

describe('bench: helpers', () => {
  it('percentile uses the nearest rank and rejects out-of-range p', () => {
    const values = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).to.equal(5);
    expect(percentile(values, 99)).to.equal(10);
    expect(percentile(values, 0)).to.equal(1);
    expect(percentile([], 50)).to.be.NaN;
    expect(() => percentile(values, 101)).to.throw(/0\.\.100/);
  });

  it('counts each subscriber once and duplicates apart, by message id', () => {
    const log = new ReceiptLog();
    const run = log.start('m1', 2, 1000);
    const frame = JSON.stringify({ type: 'message', topic: 't', id: 'm1', data: null, publishedAt: '' });
    log.record('a', frame, 1010);
    log.record('a', frame, 1020);
    log.record('b', frame, 1050);
    log.record('b', JSON.stringify({ type: 'message', topic: 't', id: 'other', data: null, publishedAt: '' }), 1060);
    log.record('c', 'not json', 1070);
    expect(run.complete).to.equal(true);
    expect(run.summary()).to.include({ expected: 2, delivered: 2, duplicates: 1, firstMs: 10, durationMs: 50, p50Ms: 10, p99Ms: 50 });
    expect(log.stray).to.equal(2);
  });

  it('spread: the median and range of the measured values, leaving out NaN', () => {
    expect(spread([3, NaN, 1, 2])).to.deep.equal({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([NaN]).n).to.equal(0);
    expect(spread([NaN]).median).to.be.NaN;
  });

  it('the full plan repeats every cell at least 3 times and measures both post paths; --quick is still tiny', () => {
    expect(FULL_PLAN.repeats).to.be.at.least(3);
    expect(FULL_PLAN.postPaths).to.deep.equal(['sdk', 'lean']);
    expect(FULL_PLAN.sizes).to.include(20_000);
    expect(FULL_PLAN.concurrencies).to.include(FULL_PLAN.systemConcurrency);
    const quick = quickPlan();
    expect(Math.max(...quick.sizes)).to.be.at.most(400);
    expect(quick.repeats).to.be.at.least(2);
  });

  it('scales every count of the plan and keeps the published topic inside the table', () => {
    const small = scalePlan(FULL_PLAN, 0.1);
    expect(small.sizes).to.deep.equal([100, 500, 2000]);
    expect(small.throttle).to.include({ perSecond: 200, seconds: 10 });
    expect(small.viaQueueMaxSubscribers).to.equal(2000);
    expect(small.readRows).to.deep.equal([1000, 10000]);
    expect(small.topicSubscribers).to.equal(10);
    expect(() => scalePlan(FULL_PLAN, 0)).to.throw(/scale/);
    expect(() => scalePlan(FULL_PLAN, 2)).to.throw(/scale/);
  });

  it('the AWS model: CPU-bound invocations cost the same per delivery at any memory up to the concurrency bound; memory, slices and the large topic by the numbers', () => {
    const p = { cpuUsPerDelivery: 100, concurrency: 64, latencyMs: 20 };
    // 1,769 MB: one vCPU, 10,000/s of CPU, but 64 in flight / 20 ms = 3,200/s.
    expect(invocationRate(1769, p)).to.equal(3200);
    expect(invocationRate(442.25, p)).to.be.closeTo(2500, 1e-6);
    expect(invocationRate(4000, p)).to.equal(3200);
    // CPU-bound below ~566 MB: the same cost per delivery; above, memory only adds cost.
    expect(costPerMillion(256, p, 1)).to.be.closeTo(costPerMillion(512, p, 1), 1e-9);
    expect(costPerMillion(1024, p, 1)).to.be.closeTo((1e6 / 3200) * 1, 1e-9);
    expect(costPerMillion(2048, p, 1)).to.be.closeTo(2 * costPerMillion(1024, p, 1), 1e-9);
    // With 2x headroom (200 us): 3,200/s needs 0.64 vCPU = 1,132 MB.
    expect(suggestedMemory([512, 1024, 1536, 2048], p, 2)).to.equal(1536);
    expect(suggestedMemory([512, 1024, 1536, 2048], p, 1)).to.equal(1024);
    expect(sliceBreakEven(3200, 0.3)).to.be.closeTo(960, 1e-9);
    const model = { subscribers: 100_000, accountLimit: 10_000, sliceShare: 0.75, sliceThreshold: 1000, perInvocation: 2000, deliveryConcurrency: 20, overheadS: 1, timeoutS: 60 };
    const atDefault = estimateLargeTopic({ ...model, rateBudget: 5000 });
    expect(atDefault).to.deep.include({ singlePerSecond: 2000, singleS: 50, singleFits: true, slicedPerSecond: 3750, slicedBoundBy: 'rate budget share' });
    expect(atDefault.slicedS).to.be.closeTo(1 + 99_000 / 3750, 1e-9);
    expect(estimateLargeTopic({ ...model, rateBudget: 0 })).to.deep.include({ slicedPerSecond: 10_000, slicedBoundBy: 'account limit' });
    expect(estimateLargeTopic({ ...model, rateBudget: 0, deliveryConcurrency: 2 })).to.deep.include({ slicedPerSecond: 4000, slicedBoundBy: 'delivery concurrency' });
    // 12 s: 99,000 in 11 s = 9,000/s of slices = a budget of 12,000 at share 0.75; within the account limit only at a larger share.
    expect(budgetForTime(model, 12)).to.equal(12_000);
    expect(budgetForTime({ ...model, sliceShare: 0.9 }, 12)).to.equal(10_000);
    expect(budgetForTime({ ...model, accountLimit: 8000 }, 12)).to.equal(undefined);
  });

  it('renders Markdown tables and refuses ragged rows', () => {
    expect(markdownTable(['a', 'b'], [['1', 'x|y']], ['r', 'l'])).to.equal('| a | b |\n|---:|---|\n| 1 | x\\|y |');
    expect(() => markdownTable(['a', 'b'], [['1']])).to.throw(/1 cells/);
  });

  /** A row whose runs delivered at these rates (and CPU per delivery). */
  const row = (approach: FanoutRow['approach'], subscribers: number, concurrency: FanoutRow['concurrency'], perSecond: number[], cpuUs: number[] = [], extra: Partial<FanoutRow> = {}): FanoutRow => ({
    subscribers,
    approach,
    concurrency,
    estimated: false,
    ...(approach === 'ours' ? { postPath: 'sdk' as const } : {}),
    ...extra,
    runs: perSecond.map(
      (rate, i): Run => ({
        answer: 'ok',
        cpuUs: (cpuUs[i] ?? NaN) * subscribers,
        cpuPerDeliveryUs: cpuUs[i] ?? NaN,
        publisherBusy: 1,
        systemBusy: 1,
        result: { expected: subscribers, delivered: subscribers, duplicates: 0, firstMs: 1, durationMs: 1, deliveriesPerSecond: rate, p50Ms: 1, p99Ms: 1 },
      }),
    ),
  });
  const resultsOf = (rows: FanoutRow[]): FanoutResults => ({
    rows,
    throttle: [],
    latencyMs: 20,
    repeats: 3,
    throttleRequestedPerSecond: 2000,
    throttlePerSecond: 2000,
    throttleSeconds: 10,
    peakPerSecond: 5000,
    maxReceives: 5,
    articleSocketLimit: 50,
    articleSocketLimitSource: 'agent',
    shippedPostPath: 'sdk',
    comparison: { subscribers: 1000, concurrency: 64 },
  });

  it('suggests the smallest concurrency within 10 % of the best median of complete runs at the largest fan-out, on the shipped path', () => {
    const incomplete = row('ours', 1000, 128, [5000, 5000, 5000]);
    incomplete.runs[1].result.delivered = 999;
    const results = resultsOf([
      row('ours', 100, 16, [9999, 9999, 9999]),
      row('ours', 1000, 16, [500, 500, 500]),
      // median 950: within 10 % of 1000
      row('ours', 1000, 32, [100, 950, 2000]),
      row('ours', 1000, 64, [1000, 1000, 1000]),
      incomplete,
      row('ours', 1000, 8, [4000, 4000, 4000], [], { postPath: 'lean' }),
    ]);
    expect(suggestedConcurrency(results)).to.deep.equal({ concurrency: 32, subscribers: 1000, best: 1000 });
  });

  it('compares ours with the article at the largest size (ratio of medians, and repeat by repeat); lean / SDK only when both were measured', () => {
    const sdkOnly = resultsOf([
      row('ours', 100, 64, [1, 1, 1], [1, 1, 1]),
      row('ours', 1000, 64, [2000, 2200, 1800], [400, 500, 450]),
      row('ours', 1000, 128, [9000, 9000, 9000], [1, 1, 1]),
      row('article', 1000, 'unbounded', [1000, 1000, 1200], [600, 600, 500], { boundPerSecond: 2500 }),
    ]);
    const c = fanoutComparison(sdkOnly);
    expect(c.cpuLeanOverSdk).to.equal(undefined);
    expect(c.oursOverArticle.lean).to.equal(undefined);
    expect(c.oursOverArticle.sdk).to.deep.include({ value: 2, numerator: 2000, denominator: 1000 });
    expect(c.oursOverArticle.sdk?.perRepeat).to.deep.include({ min: 1.5, max: 2.2, n: 3 });
    expect(c.cpuOursOverArticle.sdk?.value).to.equal(0.75);

    const table = fanoutTable(sdkOnly);
    expect(table).to.contain('| 1,000 | article: Scan + unbounded Promise.all | unbounded (SDK: 50 sockets) | 1,000/1,000 |');
    // The article's real bound: 50 sockets / 20 ms.
    expect(table).to.contain('| 2,500 (40 %) |');
    expect(table).to.contain('| 2,000 (1,800–2,200) | 450 (400–500) |');
    const markdown = renderResults({ machine: machineInfo(), date: '2026-01-01T00:00:00.000Z', command: 'x', durationMs: 1, fanout: sdkOnly });
    expect(markdown).to.contain('- CPU per delivery, lean / SDK: not measured in this run');
    expect(markdown).to.contain('- Deliveries/s, ours / article: SDK path **2.00×** (2,000 / 1,000 per s; repeat by repeat 1.50–2.20×)');

    const both = resultsOf([...sdkOnly.rows, row('ours', 1000, 64, [3000, 3000, 3000], [100, 150, 125], { postPath: 'lean' })]);
    const withLean = fanoutComparison(both);
    expect(withLean.cpuLeanOverSdk?.value).to.equal(125 / 450);
    expect(withLean.cpuLeanOverSdk?.perRepeat).to.deep.include({ min: 0.25, max: 0.3 });
    expect(withLean.oursOverArticle.lean?.value).to.equal(3);
    expect(renderResults({ machine: machineInfo(), date: '2026-01-01T00:00:00.000Z', command: 'x', durationMs: 1, fanout: both })).to.contain('- CPU per delivery, lean / SDK: **0.28×** (125 / 450 µs');
  });
});

describe('bench: smoke runs at tiny sizes', function () {
  this.timeout(60_000);
  let side: AwsSide | undefined;
  let fanout: FanoutResults;
  let readCost: ReadCostRow[];

  before(async () => {
    side = await startAwsSide({ env: { [ENV.publishConcurrency]: '8', ...SINGLE_INVOCATION_ENV }, visibilityTimeoutSeconds: 30 });
  });

  after(async () => {
    await side?.stop();
  });

  it('fan-out: every approach delivers to everyone in every repeat, the approaches take turns, and the publisher CPU is measured per run', async () => {
    const labels: string[] = [];
    fanout = await runFanout(side as AwsSide, {
      sizes: [10, 20],
      concurrencies: [8, 16],
      postPaths: ['sdk', 'lean'],
      systemConcurrency: 16,
      repeats: 2,
      // The regression guard for the quiet window: every post takes 100 ms, so via SQS the first
      // receipt comes long after a 1 ms quiet window; the window must start only once the
      // publisher is done (it used to start at SendMessage and end the run with 0 counted).
      latencyMs: 100,
      quietMs: 1,
      sequentialMaxPosts: 3,
      viaQueueMaxSubscribers: 20,
      // A limit so high it is lowered to half our peak, over 0.1 s of traffic: well inside the
      // bucket's one-second burst, so nothing is throttled.
      throttle: { perSecond: 1_000_000, seconds: 0.1, maxReceives: 3 },
      runDeadlineMs: 20_000,
      progress: (line) => labels.push(line),
    });
    // Per size: ours at each concurrency, ours via SQS, the article, the sequential loop (sampled on 3 posts).
    expect(fanout.rows.map((r) => `${r.subscribers} ${r.approach} ${r.postPath ?? '-'} ${r.concurrency}${r.estimated ? ' est' : ''}`)).to.deep.equal([
      '10 ours sdk 8',
      '10 ours sdk 16',
      '10 ours lean 8',
      '10 ours lean 16',
      '10 ours-sqs - 16',
      '10 article - unbounded',
      '10 sequential - 1 est',
      '20 ours sdk 8',
      '20 ours sdk 16',
      '20 ours lean 8',
      '20 ours lean 16',
      '20 ours-sqs - 16',
      '20 article - unbounded',
      '20 sequential - 1 est',
    ]);
    // ABCABC, not AAABBB: the measured runs of the first size, in the order they ran.
    const measured = labels.filter((l) => / #\d+: /.test(l) && !l.includes('throttled')).map((l) => l.trim().split(':')[0]);
    expect(measured.slice(0, 14)).to.deep.equal([
      'ours sdk c=8 #1',
      'ours sdk c=16 #1',
      'ours lean c=8 #1',
      'ours lean c=16 #1',
      'ours via SQS c=16 #1',
      'article #1',
      'sequential (3 posts) #1',
      'ours sdk c=8 #2',
      'ours sdk c=16 #2',
      'ours lean c=8 #2',
      'ours lean c=16 #2',
      'ours via SQS c=16 #2',
      'article #2',
      'sequential (3 posts) #2',
    ]);
    for (const row of fanout.rows) {
      const name = `${row.subscribers} ${row.approach} ${row.concurrency}`;
      expect(row.runs, name).to.have.length(2);
      for (const run of row.runs) {
        expect(run.result.delivered, name).to.equal(row.subscribers);
        expect(run.result.duplicates, name).to.equal(0);
        expect(run.result.firstMs, name).to.be.at.most(run.result.durationMs);
        expect(run.result.p50Ms, name).to.be.at.most(run.result.p99Ms);
        expect(run.result.deliveriesPerSecond, name).to.be.greaterThan(0);
        // CPU of the publisher process, except via SQS (its handler runs in the local system).
        if (row.approach === 'ours-sqs') expect(run.cpuPerDeliveryUs, name).to.be.NaN;
        else expect(run.cpuPerDeliveryUs, name).to.be.greaterThan(0);
      }
    }
    const answers = (approach: string) => [...new Set(fanout.rows.filter((r) => r.approach === approach).flatMap((r) => r.runs.map((run) => run.answer)))];
    expect(answers('ours')).to.deep.equal(['record succeeded']);
    expect(answers('ours-sqs')).to.deep.equal(['record succeeded']);
    expect(answers('article')).to.deep.equal(['HTTP 200']);
    expect(fanout.rows.find((r) => r.approach === 'ours' && r.concurrency === 8)?.boundPerSecond).to.equal(80);
    // The article's bound comes from its SDK client's agent: 50 sockets / 100 ms.
    expect(fanout).to.include({ articleSocketLimit: 50, articleSocketLimitSource: 'agent', shippedPostPath: 'lean', repeats: 2 });
    expect(fanout.rows.find((r) => r.approach === 'article')?.boundPerSecond).to.equal(500);
    expect(fanout.comparison).to.deep.equal({ subscribers: 20, concurrency: 16 });
    const comparison = fanoutComparison(fanout);
    expect(comparison.oursOverArticle.sdk?.perRepeat.n).to.equal(2);
    expect(comparison.oursOverArticle.lean?.perRepeat.n).to.equal(2);
    expect(comparison.cpuLeanOverSdk?.value).to.be.greaterThan(0);

    expect(fanout.throttlePerSecond).to.be.below(fanout.throttleRequestedPerSecond);
    expect(fanout.throttlePerSecond).to.be.at.most(fanout.peakPerSecond / 2);
    expect(fanout.throttle.map((r) => r.approach)).to.deep.equal(['ours', 'ours', 'article', 'article']);
    for (const row of fanout.throttle) {
      expect(row.subscribers).to.equal(Math.max(1, Math.round(fanout.throttlePerSecond * 0.1)));
      expect(row.runs).to.have.length(2);
      for (const run of row.runs) {
        expect(run.result.delivered, row.variant).to.equal(row.subscribers);
        expect(run.result.duplicates).to.equal(0);
        expect(run.posts).to.equal(row.subscribers);
        expect(run.throttled).to.equal(0);
      }
    }
  });

  it('our handler runs as one invocation with no shared budget, and has the delivery queue it needs', () => {
    const target = publisherTarget((side as AwsSide).outputs);
    const config = loadConfig(publishEnv(target, 4));
    expect(config).to.include({ sliceThreshold: SINGLE_INVOCATION_THRESHOLD, rateBudget: 0, publishConcurrency: 4, deliveryQueueUrl: target.deliveryQueueUrl, deliveryDlqUrl: target.deliveryDlqUrl });
    expect(config.aws.sqsEndpoint).to.equal(target.sqsEndpoint);
  });

  it('restarting the publisher process cuts off the run in flight, and the fresh process publishes', async () => {
    const aws = side as AwsSide;
    const publishers = await startPublisherSide(publisherTarget(aws.outputs));
    try {
      // Every post now takes 5 s: the first publish is certainly still in flight when the process is replaced.
      await aws.setFaults({ latencyMs: 5_000 });
      const cutOff = publishers.publish({ approach: 'article', retries: true, topic: fanoutTopic(10), id: 'cut-off' }).then(
        () => 'finished',
        (e: Error) => e.message,
      );
      await publishers.restart();
      expect(await cutOff).to.match(/publisher process exited/);
      await aws.setFaults({});
      const run = await publishers.publish({ approach: 'article', retries: true, topic: fanoutTopic(10), id: 'after-restart' });
      expect(run.answer).to.equal('HTTP 200');
      expect(run.cpuUserUs + run.cpuSystemUs).to.be.greaterThan(0);
    } finally {
      await aws.setFaults({});
      await publishers.stop();
    }
  });

  it('large topic: the ceiling, then one invocation and slices under a bucket scaled to it, every subscriber reached once, nothing dead-lettered', async () => {
    const lines: string[] = [];
    const large = await runLargeTopic(side as AwsSide, {
      subscribers: 300,
      latencyMs: 5,
      concurrency: 8,
      deliverEnvironments: 2,
      deliveryBatchSize: 2,
      sliceThreshold: 50,
      sliceSize: 50,
      bucketShareOfCeiling: 0.7,
      functionTimeoutMs: 10_000,
      runDeadlineMs: 30_000,
      progress: (line) => lines.push(line),
    });
    expect(large.runs.map((r) => r.variant)).to.deep.equal(['ceiling', 'single', 'sliced', 'sliced-budget-at-bucket']);
    expect(large.bucketPerSecond).to.equal(Math.max(10, Math.round((0.7 * large.ceilingPerSecond) / 10) * 10));
    expect(large.rateBudget).to.equal(Math.ceil(large.bucketPerSecond / large.sliceBudgetShare));
    for (const run of large.runs) {
      expect(run.result.delivered, run.variant).to.equal(300);
      expect(run.result.duplicates, run.variant).to.equal(0);
      expect(run.deadLettered, run.variant).to.equal(0);
      expect(run.cpuPerDeliveryUs, run.variant).to.be.greaterThan(0);
      expect(run.answer, run.variant).to.equal('record succeeded');
    }
    const [ceiling, single, sliced, atBucket] = large.runs;
    expect(ceiling).to.include({ bucketPerSecond: undefined, rateBudget: 0, sliceThreshold: 50 });
    expect(single).to.include({ bucketPerSecond: large.bucketPerSecond, rateBudget: large.rateBudget, sliceThreshold: SINGLE_INVOCATION_THRESHOLD });
    expect(single.deliver).to.equal(undefined);
    // 250 of 300 subscribers in slices of 50: 5 jobs, taken by the delivery environments.
    expect(sliced.deliver).to.include({ environments: 2, records: 5, failedRecords: 0 });
    expect(atBucket.rateBudget).to.equal(large.bucketPerSecond);
    const markdown = renderResults({ machine: machineInfo(), date: '2026-01-01T00:00:00.000Z', command: 'x', durationMs: 1, largeTopic: large });
    expect(markdown).to.contain('## Large topic: 300 subscribers under an account-wide bucket');
    expect(markdown).to.contain('## Extrapolated to AWS');
  });

  it('read cost: the GSI query reads only the topic, the Scan reads every item', async () => {
    readCost = await runReadCost({ tableRows: [100, 200], topicSubscribers: 5, subscriptionsPerConnection: 5, progress: silentProgress });
    expect(readCost.map((r) => [r.subscriptionRows, r.tableItems])).to.deep.equal([
      [100, 120],
      [200, 240],
    ]);
    for (const r of readCost) {
      expect(r.query).to.include({ requests: 1, itemsRead: 5, subscribersFound: 5 });
      expect(r.scan).to.include({ itemsRead: r.tableItems, subscribersFound: 5 });
      expect(r.query.capacityUnits).to.be.greaterThan(0);
      expect(r.scan.capacityUnits).to.be.greaterThan(r.query.capacityUnits);
      expect(r.scanFirstPageSubscribers).to.equal(5);
    }
  });

  it('bundles: builds a handler as deployed and loads it in fresh processes, source maps on, off and inlined; the report has every section', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'bench-bundles-'));
    try {
      // publish too: its makeHandler needs the most configuration (the delivery queue), and a bundle whose handler cannot be built fails the run.
      const bundles = await runBundles({ repoRoot: path.resolve(__dirname, '../..'), outDir, handlers: ['default', 'publish'], initRuns: 1, progress: silentProgress });
      expect(bundles.map((x) => x.handler)).to.deep.equal(['default', 'publish']);
      expect(bundles[1].loadAndBuild?.cpuMs).to.be.greaterThan(0);
      const [b] = bundles;
      expect(b.handler).to.equal('default');
      expect(b.bytes).to.be.greaterThan(10_000);
      expect(b.gzipBytes).to.be.lessThan(b.bytes as number);
      expect(b.mapBytes).to.be.greaterThan(0);
      for (const t of [b.load, b.loadAndBuild, b.loadNoSourceMaps, b.loadInlineMap]) {
        expect(t?.wallMs).to.be.greaterThan(0);
        expect(t?.cpuMs).to.be.greaterThan(0);
      }
      expect(b.loadAndBuild?.wallMs).to.be.at.least(b.load?.wallMs as number);
      // What was loaded: the deployed pair, and the copy whose map is a data URL.
      expect(readdirSync(path.join(outDir, 'default')).sort()).to.deep.equal(['index.js', 'index.js.map']);
      expect(readdirSync(path.join(outDir, 'publish')).sort()).to.deep.equal(['index.js', 'index.js.map']);
      expect(readFileSync(path.join(outDir, 'default-inline-map', 'index.js'), 'utf8')).to.contain('sourceMappingURL=data:application/json;base64,');

      const markdown = renderResults({ machine: machineInfo(), date: '2026-01-01T00:00:00.000Z', command: 'npm run bench -- --quick', durationMs: 1, fanout, readCost, bundles });
      for (const heading of ['# Benchmark results', '## Fan-out', '## Under throttling', '## Read cost per publish', '## Lambda packages']) {
        expect(markdown).to.contain(heading);
      }
      expect(markdown).to.contain('`npm run bench -- --quick`');
      expect(markdown).to.contain(`Node.js ${process.version}`);
      expect(markdown).to.match(/- Load average \(1\/5\/15 min\) at the start: \d+\.\d \/ \d+\.\d \/ \d+\.\d \(/);
      expect(markdown).to.match(/\| 20 \| ours, SDK path \| 16 \| 20\/20 \|/);
      expect(markdown).to.contain('is lowered to half the peak');
      expect(markdown).to.match(/\| default \| [\d.]+ KB \| [\d.]+ KB \| [\d.]+ KB \|( \d+ ms \(\d+ ms\) \|){4}/);
      expect(markdown).to.contain('- Deliveries/s, ours / article: SDK path **');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
