/**
 * Lambda packages: each handler's bundle exactly as components/bundle.ts builds it and the Lambda
 * helper ships it (minified CommonJS with the SDK inside, index.js.map beside it), its sizes, and
 * its module-init time in fresh `node` processes, median of several runs:
 *   - load as deployed: `require` with source maps on (the functions' NODE_OPTIONS), which reads
 *     and parses index.js.map as it loads index.js; and load + makeHandler (config, SDK clients);
 *   - what source maps cost: the same load with source maps off, and with the map inlined in
 *     index.js (a data URL) instead of beside it.
 * The variants run in turn in every round, so machine noise falls on all of them alike; besides
 * wall-clock time each run reports the process's CPU time, which a busy machine inflates far less.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { BUNDLE_FILE, SOURCE_MAP_FILE, bundleHandler } from '../components/bundle';
import { NODE_OPTIONS } from '../components/lambda-function';
import { ENV } from '../protocol/env';
import { HANDLER_NAMES, handlerSourcePath, type HandlerName } from '../protocol/routes';
import type { Progress } from './lib/progress';
import { median } from './lib/stats';

export interface BundleOptions {
  repoRoot: string;
  outDir: string;
  handlers?: readonly HandlerName[];
  /** Fresh processes per handler and variant for the init time. */
  initRuns: number;
  progress: Progress;
}

/** One way of loading a bundle: medians over fresh processes, wall-clock and CPU milliseconds. */
export interface LoadTime {
  wallMs: number;
  /** User + system CPU time of the process: stays comparable on a busy machine, where wall time does not. */
  cpuMs: number;
}

export interface BundleRow {
  handler: HandlerName;
  /** index.js as deployed; undefined when the handler's source does not exist. */
  bytes?: number;
  /** index.js gzip-compressed (about what it weighs in the zip archive). */
  gzipBytes?: number;
  /** index.js.map. */
  mapBytes?: number;
  /** `require` of the bundle with source maps on, as deployed. */
  load?: LoadTime;
  /** `require` and makeHandler(env): the work before the first event. */
  loadAndBuild?: LoadTime;
  /** `require` with source maps off. */
  loadNoSourceMaps?: LoadTime;
  /** `require` with source maps on and the map inlined in index.js. */
  loadInlineMap?: LoadTime;
}

/** A plausible Lambda environment, so makeHandler builds its clients as it would in AWS. */
const LAMBDA_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  [ENV.tableName]: 'realtime-connections',
  [ENV.managementEndpoint]: 'https://abcdefghij.execute-api.us-east-1.amazonaws.com/prod',
  [ENV.deliveryQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/realtime-delivery',
  [ENV.deliveryDlqUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/realtime-delivery-dlq',
  [ENV.logLevel]: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

// Runs in the child: times require() and makeHandler() with a monotonic clock and the process's CPU time.
const INIT_PROBE = `
const cpuMs = (u) => (u.user + u.system) / 1000;
const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
const mod = require(process.argv[1]);
const t1 = process.hrtime.bigint(), c1 = process.cpuUsage(c0);
if (typeof mod.makeHandler === 'function') mod.makeHandler(process.env);
const t2 = process.hrtime.bigint(), c2 = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({
  load: { wallMs: Number(t1 - t0) / 1e6, cpuMs: cpuMs(c1) },
  build: { wallMs: Number(t2 - t0) / 1e6, cpuMs: cpuMs(c2) },
}));
`;

const SOURCE_MAPS_ON = NODE_OPTIONS.split(' ');

export async function runBundles(options: BundleOptions): Promise<BundleRow[]> {
  const outDir = path.resolve(options.outDir);
  const rows: BundleRow[] = [];
  for (const handler of options.handlers ?? HANDLER_NAMES) {
    const entry = path.join(options.repoRoot, handlerSourcePath(handler));
    if (!existsSync(entry)) {
      options.progress(`bundles: ${handlerSourcePath(handler)} does not exist, skipped`);
      rows.push({ handler });
      continue;
    }
    options.progress(`bundles: building ${handler}`);
    const { code, map } = bundleHandler(handler);
    // As the archive holds them (index.js, index.js.map), and a copy with the map inlined.
    const deployed = writeFiles(path.join(outDir, handler), { [BUNDLE_FILE]: code, [SOURCE_MAP_FILE]: map });
    const inlined = writeFiles(path.join(outDir, `${handler}-inline-map`), { [BUNDLE_FILE]: inlineMap(code, map) });
    const samples = { deployed: [] as InitSample[], noMaps: [] as InitSample[], inline: [] as InitSample[] };
    for (let i = 0; i < options.initRuns; i++) {
      samples.deployed.push(await probeInit(deployed, SOURCE_MAPS_ON));
      samples.noMaps.push(await probeInit(deployed, []));
      samples.inline.push(await probeInit(inlined, SOURCE_MAPS_ON));
    }
    rows.push({
      handler,
      bytes: Buffer.byteLength(code),
      gzipBytes: gzipSync(code).length,
      mapBytes: Buffer.byteLength(map),
      load: medianOf(samples.deployed.map((s) => s.load)),
      loadAndBuild: medianOf(samples.deployed.map((s) => s.build)),
      loadNoSourceMaps: medianOf(samples.noMaps.map((s) => s.load)),
      loadInlineMap: medianOf(samples.inline.map((s) => s.load)),
    });
  }
  return rows;
}

/** Writes `files` into `dir`; returns the path of its index.js. */
function writeFiles(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return path.join(dir, BUNDLE_FILE);
}

/** The bundle with its `sourceMappingURL` pointing at a data URL of the map instead of the file. */
function inlineMap(code: string, map: string): string {
  const comment = `//# sourceMappingURL=${SOURCE_MAP_FILE}`;
  if (!code.includes(comment)) throw new Error(`the bundle does not end with ${comment}`);
  return code.replace(comment, `//# sourceMappingURL=data:application/json;base64,${Buffer.from(map).toString('base64')}`);
}

interface InitSample {
  load: LoadTime;
  build: LoadTime;
}

function medianOf(times: readonly LoadTime[]): LoadTime {
  return { wallMs: median(times.map((t) => t.wallMs)), cpuMs: median(times.map((t) => t.cpuMs)) };
}

function probeInit(bundle: string, nodeOptions: readonly string[]): Promise<InitSample> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeOptions, '-e', INIT_PROBE, bundle],
      { env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV }, cwd: path.dirname(bundle), timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`loading ${bundle} failed: ${stderr || error.message}`));
        try {
          resolve(JSON.parse(stdout) as InitSample);
        } catch {
          reject(new Error(`loading ${bundle} printed no timing: ${stdout} ${stderr}`));
        }
      },
    );
  });
}
