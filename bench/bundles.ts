/**
 * Lambda packages: each handler's bundle exactly as the Pulumi Lambda helper builds it
 * (components/bundle.ts: one CommonJS file, SDK included, not minified), its size minified
 * (the same bundle through esbuild's minifier) and zipped, and its module-init time, measured in
 * fresh `node` processes: the time to load the bundle, and to load it and build the handler
 * (makeHandler), median of several runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { transform } from 'esbuild';
import { bundleHandler } from '../components/bundle';
import { ENV } from '../protocol/env';
import { AUTHORIZER_HANDLER, LAMBDA_ROUTES, PUBLISH_HANDLER, handlerSourcePath, type HandlerName } from '../protocol/routes';
import type { Progress } from './lib/progress';
import { median } from './lib/stats';

export const ALL_HANDLERS: readonly HandlerName[] = [...LAMBDA_ROUTES.map((r) => r.handler), PUBLISH_HANDLER, AUTHORIZER_HANDLER];

export interface BundleOptions {
  repoRoot: string;
  outDir: string;
  handlers?: readonly HandlerName[];
  /** Fresh processes per handler for the init time. */
  initRuns: number;
  progress: Progress;
}

export interface BundleRow {
  handler: HandlerName;
  /** Bundle size as deployed; undefined when the handler's source does not exist. */
  bytes?: number;
  /** The same bundle minified. */
  minifiedBytes?: number;
  /** The deployed bundle gzip-compressed (about what the zip archive weighs). */
  gzipBytes?: number;
  /** Median ms to `require` the bundle in a fresh process. */
  loadMs?: number;
  /** Median ms to `require` it and call makeHandler(env): the work before the first event. */
  loadAndBuildMs?: number;
  /** Median ms to `require` the minified bundle. */
  minifiedLoadMs?: number;
}

/** A plausible Lambda environment, so makeHandler builds its clients as it would in AWS. */
const LAMBDA_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  [ENV.tableName]: 'realtime-connections',
  [ENV.managementEndpoint]: 'https://abcdefghij.execute-api.us-east-1.amazonaws.com/prod',
  [ENV.logLevel]: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

// Runs in the child: times require() and makeHandler() with a monotonic clock.
const INIT_PROBE = `
const t0 = process.hrtime.bigint();
const mod = require(process.argv[1]);
const t1 = process.hrtime.bigint();
if (typeof mod.makeHandler === 'function') mod.makeHandler(process.env);
const t2 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({ loadMs: Number(t1 - t0) / 1e6, buildMs: Number(t2 - t0) / 1e6 }));
`;

export async function runBundles(options: BundleOptions): Promise<BundleRow[]> {
  const outDir = path.resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const rows: BundleRow[] = [];
  for (const handler of options.handlers ?? ALL_HANDLERS) {
    const entry = path.join(options.repoRoot, handlerSourcePath(handler));
    if (!existsSync(entry)) {
      options.progress(`bundles: ${handlerSourcePath(handler)} does not exist, skipped`);
      rows.push({ handler });
      continue;
    }
    options.progress(`bundles: building ${handler}`);
    const { code } = bundleHandler(handler);
    const minified = (await transform(code, { minify: true, loader: 'js', format: 'cjs', logLevel: 'silent' })).code;
    const deployedFile = path.join(outDir, `${handler}.js`);
    const minifiedFile = path.join(outDir, `${handler}.min.js`);
    writeFileSync(deployedFile, code);
    writeFileSync(minifiedFile, minified);
    // Alternate the two files so machine noise falls on both alike.
    const samples = { deployed: [] as InitSample[], minified: [] as InitSample[] };
    for (let i = 0; i < options.initRuns; i++) {
      samples.deployed.push(await probeInit(deployedFile));
      samples.minified.push(await probeInit(minifiedFile));
    }
    rows.push({
      handler,
      bytes: Buffer.byteLength(code),
      minifiedBytes: Buffer.byteLength(minified),
      gzipBytes: gzipSync(code).length,
      loadMs: median(samples.deployed.map((s) => s.loadMs)),
      loadAndBuildMs: median(samples.deployed.map((s) => s.buildMs)),
      minifiedLoadMs: median(samples.minified.map((s) => s.loadMs)),
    });
  }
  return rows;
}

interface InitSample {
  loadMs: number;
  buildMs: number;
}

function probeInit(bundle: string): Promise<InitSample> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', INIT_PROBE, bundle],
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
