/**
 * `npm run bench`: fan-out speed and CPU per delivery, loss under throttling, a topic of
 * 100,000 under an account-wide rate limit (one invocation vs sliced) with its extrapolation to
 * AWS (cost per delivery, memory, slice threshold), read cost per publish and Lambda package size, each compared side by side in this one run (every fan-out
 * and throttling cell three times, the approaches taking turns). Progress goes to stderr; the
 * results (Markdown) go to stdout and to bench/results.md.
 *
 *   npm run bench                    full run (about ten minutes on 2 cores)
 *   npm run bench -- --quick         tiny sizes, for a smoke run
 *   BENCH_SCALE=0.1 npm run bench    every count scaled down (also --scale 0.1)
 *   npm run bench -- --only read,bundles --out /tmp/results.md
 *   npm run bench -- --render bench/out/results.json   re-render the last run's numbers
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ENV } from '../protocol/env';
import { runBundles } from './bundles';
import { runFanout } from './fanout';
import { runLargeTopic } from './large-topic';
import { CONFIG_DEFAULTS } from '../protocol/stack-settings';
import { startAwsSide } from './lib/aws-side';
import { machineInfo } from './lib/machine';
import { SINGLE_INVOCATION_ENV } from './lib/publishers';
import { stderrProgress, type Progress } from './lib/progress';
import { FULL_PLAN, quickPlan, scalePlan, SECTIONS, type BenchPlan, type Section } from './plan';
import { renderResults, type BenchResults } from './report';
import { runReadCost } from './read-cost';

const REPO_ROOT = path.resolve(__dirname, '..');

export async function runBench(plan: BenchPlan, command: string, progress: Progress): Promise<BenchResults> {
  const started = Date.now();
  const results: BenchResults = { machine: machineInfo(), date: new Date().toISOString(), command, durationMs: 0 };
  if (plan.sections.includes('fanout') || plan.sections.includes('large')) {
    progress('starting the local system (worker thread)');
    const side = await startAwsSide({ env: { [ENV.publishConcurrency]: String(plan.systemConcurrency), ...SINGLE_INVOCATION_ENV }, visibilityTimeoutSeconds: plan.visibilityTimeoutSeconds });
    try {
      if (plan.sections.includes('fanout')) results.fanout = await runFanout(side, { ...plan, progress });
      if (plan.sections.includes('large')) {
        results.largeTopic = await runLargeTopic(side, {
          subscribers: plan.large.subscribers,
          latencyMs: plan.latencyMs,
          concurrency: plan.systemConcurrency,
          deliverEnvironments: plan.large.deliverEnvironments,
          deliveryBatchSize: CONFIG_DEFAULTS.deliveryBatchSize,
          sliceThreshold: CONFIG_DEFAULTS.sliceThreshold,
          sliceSize: CONFIG_DEFAULTS.sliceSize,
          bucketShareOfCeiling: plan.large.bucketShareOfCeiling,
          functionTimeoutMs: CONFIG_DEFAULTS.publishTimeoutSeconds * 1000,
          runDeadlineMs: plan.large.runDeadlineMs,
          progress,
        });
      }
    } finally {
      await side.stop();
    }
  }
  if (plan.sections.includes('read')) {
    results.readCost = await runReadCost({
      tableRows: plan.readRows,
      topicSubscribers: plan.topicSubscribers,
      subscriptionsPerConnection: plan.subscriptionsPerConnection,
      progress,
    });
  }
  if (plan.sections.includes('bundles')) {
    results.bundles = await runBundles({ repoRoot: REPO_ROOT, outDir: path.join(REPO_ROOT, 'bench', 'out', 'bundles'), initRuns: plan.initRuns, progress });
  }
  results.durationMs = Date.now() - started;
  results.loadAverageAtEnd = os.loadavg();
  return results;
}

function parseScale(value: string): number {
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1) throw new InvalidArgumentError('expected a number in (0, 1]');
  return scale;
}

function parseSections(value: string): Section[] {
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (bad.length > 0) throw new InvalidArgumentError(`unknown section(s) ${bad.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  return names as Section[];
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('bench')
    .description('Fan-out speed, loss under throttling, read cost and Lambda package size')
    .option('--quick', 'tiny sizes: a smoke run in under a minute')
    .option('--scale <factor>', 'scale every count by this factor in (0, 1] (env BENCH_SCALE)', parseScale)
    .option('--only <sections>', `comma-separated subset of ${SECTIONS.join(',')}`, parseSections)
    .option('--out <file>', 'where to write the results', path.join('bench', 'results.md'))
    .option('--render <results.json>', 'measure nothing: render the results of an earlier run (bench/out/results.json) with the current report code')
    .parse(argv);
  const opts = program.opts<{ quick?: boolean; scale?: number; only?: Section[]; out: string; render?: string }>();
  if (opts.render) {
    const earlier = JSON.parse(readFileSync(opts.render, 'utf8')) as BenchResults;
    writeFileSync(path.resolve(opts.out), renderResults(earlier));
    process.stderr.write(`rendered ${opts.render} to ${opts.out}\n`);
    return;
  }
  const envScale = process.env.BENCH_SCALE;
  const scale = opts.scale ?? (envScale ? parseScale(envScale) : undefined);
  let plan = opts.quick ? quickPlan() : FULL_PLAN;
  if (scale !== undefined) plan = scalePlan(plan, scale);
  if (opts.only) plan = { ...plan, sections: opts.only };

  const command = ['npm run bench', ...(argv.length > 2 ? ['--', ...argv.slice(2)] : [])].join(' ') + (envScale ? ` (BENCH_SCALE=${envScale})` : '');
  const progress = stderrProgress();
  // Only the results go to stdout: anything else a library prints goes to stderr.
  const writeStdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

  const results = await runBench(plan, command, progress);
  const markdown = renderResults(results);
  const out = path.resolve(opts.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, markdown);
  mkdirSync(path.join(REPO_ROOT, 'bench', 'out'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'bench', 'out', 'results.json'), JSON.stringify(results, null, 2));
  progress(`wrote ${path.relative(process.cwd(), out)}`);
  writeStdout(markdown);
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  main(process.argv).then(
    // Exit at once: nothing left to wait for, and closing tens of thousands of subscribers would take longer than the run.
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
