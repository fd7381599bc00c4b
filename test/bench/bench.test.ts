/**
 * Smoke runs of the benchmark code at tiny sizes, so it cannot rot between full runs. They
 * assert the shape of the results and that deliveries are complete; never a timing.
 */
import { expect } from 'chai';
import { runBundles } from '../../bench/bundles';
import { runFanout, type FanoutResults } from '../../bench/fanout';
import { startAwsSide, type AwsSide } from '../../bench/lib/aws-side';
import { markdownTable } from '../../bench/lib/format';
import { machineInfo } from '../../bench/lib/machine';
import { silentProgress } from '../../bench/lib/progress';
import { ReceiptLog } from '../../bench/lib/receipts';
import { percentile } from '../../bench/lib/stats';
import { FULL_PLAN, scalePlan } from '../../bench/plan';
import { runReadCost, type ReadCostRow } from '../../bench/read-cost';
import { renderResults, suggestedConcurrency } from '../../bench/report';
import { ENV } from '../../protocol/env';
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
    expect(run.summary()).to.include({ expected: 2, delivered: 2, duplicates: 1, durationMs: 50, p50Ms: 10, p99Ms: 50 });
    expect(log.stray).to.equal(2);
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

  it('renders Markdown tables and refuses ragged rows', () => {
    expect(markdownTable(['a', 'b'], [['1', 'x|y']], ['r', 'l'])).to.equal('| a | b |\n|---:|---|\n| 1 | x\\|y |');
    expect(() => markdownTable(['a', 'b'], [['1']])).to.throw(/1 cells/);
  });

  it('suggests the smallest concurrency within 10 % of the best complete run at the largest fan-out', () => {
    const row = (subscribers: number, concurrency: number, perSecond: number, delivered = subscribers) => ({
      subscribers,
      approach: 'ours' as const,
      concurrency,
      estimated: false,
      answer: '',
      publisherBusy: 1,
      systemBusy: 1,
      result: { expected: subscribers, delivered, duplicates: 0, durationMs: 1, deliveriesPerSecond: perSecond, p50Ms: 1, p99Ms: 1 },
    });
    const results: FanoutResults = {
      rows: [row(100, 16, 9999), row(1000, 16, 500), row(1000, 32, 950), row(1000, 64, 1000), row(1000, 128, 5000, 999)],
      throttle: [],
      latencyMs: 20,
      throttleRequestedPerSecond: 2000,
      throttlePerSecond: 2000,
      peakPerSecond: 5000,
      maxReceives: 5,
      articleSocketLimit: 50,
    };
    expect(suggestedConcurrency(results)).to.deep.equal({ concurrency: 32, subscribers: 1000, best: 1000 });
  });
});

describe('bench: smoke runs at tiny sizes', function () {
  this.timeout(60_000);
  let side: AwsSide | undefined;
  let fanout: FanoutResults;
  let readCost: ReadCostRow[];

  before(async () => {
    side = await startAwsSide({ env: { [ENV.publishConcurrency]: '8' }, visibilityTimeoutSeconds: 30 });
  });

  after(async () => {
    await side?.stop();
  });

  it('fan-out: ours delivers to every subscriber at every concurrency, and so do the baselines', async () => {
    fanout = await runFanout(side as AwsSide, {
      sizes: [10, 20],
      concurrencies: [4, 16],
      systemConcurrency: 8,
      latencyMs: 5,
      sequentialMaxPosts: 10,
      viaQueueMaxSubscribers: 20,
      // A limit so high it is lowered to half our peak, over 0.01 s of traffic: at least 10
      // subscribers, well inside the bucket's one-second burst, so nothing is throttled.
      throttle: { perSecond: 1_000_000, seconds: 0.01, maxReceives: 3 },
      runDeadlineMs: 20_000,
      progress: silentProgress,
    });
    // Per size: ours at each concurrency, ours via SQS, the article, the sequential loop.
    expect(fanout.rows.map((r) => `${r.subscribers} ${r.approach} ${r.concurrency}`)).to.deep.equal([
      '10 ours 4',
      '10 ours 16',
      '10 ours-sqs 8',
      '10 article unbounded',
      '10 sequential 1',
      '20 ours 4',
      '20 ours 16',
      '20 ours-sqs 8',
      '20 article unbounded',
      '20 sequential 1',
    ]);
    for (const row of fanout.rows) {
      expect(row.result.delivered, `${row.subscribers} ${row.approach} ${row.concurrency}`).to.equal(row.subscribers);
      expect(row.result.duplicates).to.equal(0);
      expect(row.result.p50Ms).to.be.at.most(row.result.p99Ms);
      expect(row.result.deliveriesPerSecond).to.be.greaterThan(0);
    }
    expect(fanout.rows.filter((r) => r.estimated).map((r) => `${r.subscribers} ${r.approach}`)).to.deep.equal(['20 sequential']);
    expect(fanout.rows.find((r) => r.approach === 'ours')?.answer).to.equal('record succeeded');
    expect(fanout.rows.find((r) => r.approach === 'ours-sqs')?.answer).to.equal('record succeeded');
    expect(fanout.rows.find((r) => r.approach === 'article')?.answer).to.equal('HTTP 200');
    expect(fanout.rows.find((r) => r.approach === 'ours' && r.concurrency === 4)?.boundPerSecond).to.equal(800);

    expect(fanout.throttlePerSecond).to.be.below(fanout.throttleRequestedPerSecond);
    expect(fanout.throttlePerSecond).to.be.at.most(fanout.peakPerSecond / 2);
    expect(fanout.throttle.map((r) => r.approach)).to.deep.equal(['ours', 'ours', 'article', 'article']);
    for (const row of fanout.throttle) {
      expect(row.subscribers).to.equal(Math.round(fanout.throttlePerSecond * 0.01));
      expect(row.result.delivered, row.variant).to.equal(row.subscribers);
      expect(row.result.duplicates).to.equal(0);
      expect(row.posts).to.equal(row.subscribers);
      expect(row.throttled).to.equal(0);
    }
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
      const bundles = await runBundles({ repoRoot: path.resolve(__dirname, '../..'), outDir, handlers: ['default'], initRuns: 1, progress: silentProgress });
      expect(bundles).to.have.length(1);
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
      expect(readFileSync(path.join(outDir, 'default-inline-map', 'index.js'), 'utf8')).to.contain('sourceMappingURL=data:application/json;base64,');

      const markdown = renderResults({ machine: machineInfo(), date: '2026-01-01T00:00:00.000Z', command: 'npm run bench -- --quick', durationMs: 1, fanout, readCost, bundles });
      for (const heading of ['# Benchmark results', '## Fan-out', '## Under throttling', '## Read cost per publish', '## Lambda packages']) {
        expect(markdown).to.contain(heading);
      }
      expect(markdown).to.contain('`npm run bench -- --quick`');
      expect(markdown).to.contain(`Node.js ${process.version}`);
      expect(markdown).to.match(/\| 20 \| ours \(publish handler\) \| 16 \| 20\/20 \|/);
      expect(markdown).to.contain('is lowered to half the peak');
      expect(markdown).to.match(/\| default \| [\d.]+ KB \| [\d.]+ KB \| [\d.]+ KB \|( \d+ ms \(\d+ ms\) \|){4}/);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
