/**
 * Bundles a Lambda handler with esbuild, in-process, so neither `pulumi up` nor the tests need a
 * build step. One CommonJS file per handler with every dependency inside (the AWS SDK included:
 * the versions we test are the versions we ship). Cached per process: a program that builds the
 * same handler twice (tests run the program several times) bundles it once.
 */
import { buildSync } from 'esbuild';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { handlerSourcePath, type HandlerName } from '../protocol/routes';

/** The repository root (this file lives in components/). */
export const REPO_ROOT = path.resolve(__dirname, '..');
/** Node.js runtime the bundles target; keep in step with LAMBDA_RUNTIME. */
export const BUNDLE_TARGET = 'node22';
/** The file name inside the archive, hence the function's `handler` setting `index.handler`. */
export const BUNDLE_FILE = 'index.js';

export interface Bundle {
  handler: HandlerName;
  code: string;
  bytes: number;
}

// Kept on globalThis so it outlives re-evaluation of this module (the tests load the program afresh per run).
const CACHE_KEY = Symbol.for('realtime.components.bundleCache');
const cache: Map<HandlerName, Bundle> = ((globalThis as Record<symbol, unknown>)[CACHE_KEY] as Map<HandlerName, Bundle> | undefined) ??
  ((globalThis as Record<symbol, unknown>)[CACHE_KEY] = new Map<HandlerName, Bundle>());

export function bundleHandler(handler: HandlerName): Bundle {
  const cached = cache.get(handler);
  if (cached) return cached;
  const entry = path.join(REPO_ROOT, handlerSourcePath(handler));
  if (!existsSync(entry)) {
    throw new Error(`Cannot bundle the "${handler}" Lambda: ${handlerSourcePath(handler)} does not exist`);
  }
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: BUNDLE_TARGET,
    format: 'cjs',
    // Prefer packages' ES module builds: esbuild can drop what the handler never uses.
    mainFields: ['module', 'main'],
    write: false,
    // Readable stack traces in CloudWatch; the size cost is small next to the SDK. The tests also
    // read the `// <path>` module headers to check each role against the calls the code makes.
    minify: false,
    keepNames: true,
    legalComments: 'none',
    // The lambda code must never pull infrastructure code in (checked by the tests too).
    external: [],
    absWorkingDir: REPO_ROOT,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for ${handlerSourcePath(handler)}: ${result.errors.map((e) => e.text).join('; ')}`);
  }
  const code = result.outputFiles[0].text;
  const bundle = { handler, code, bytes: Buffer.byteLength(code) };
  cache.set(handler, bundle);
  return bundle;
}
