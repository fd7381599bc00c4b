/**
 * Builds the client as its own package, into client/dist (gitignored):
 *   dist/index.js     ESM for Node and bundlers (`ws` loaded lazily on Node 20, which has no global WebSocket)
 *   dist/browser.js   ESM for browsers (the `browser` export condition): no `ws` at all
 *   dist/types/       type declarations (tsc)
 * Both bundles inline the few zod-free constants the client takes from protocol/. The demo's
 * minified bundle (bundle.ts) is made by the same browser build. Run: npm run build:client
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type BuildOptions, type Plugin } from 'esbuild';

export const CLIENT_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(CLIENT_DIR, '..');
export const DIST_DIR = path.join(CLIENT_DIR, 'dist');

/** Browser builds take websocket-fallback.browser.ts instead of websocket-fallback.ts, so `ws` is never seen. */
const browserFallback: Plugin = {
  name: 'browser-websocket-fallback',
  setup(b) {
    b.onResolve({ filter: /\/websocket-fallback\.js$/ }, (args) => ({ path: path.join(args.resolveDir, 'websocket-fallback.browser.ts') }));
  },
};

/** esbuild options for the client's ES module: `browser` without `ws`, `node` with its lazy import. */
export function clientBuildOptions(target: 'browser' | 'node'): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: [path.join(CLIENT_DIR, 'index.ts')],
    bundle: true,
    format: 'esm',
    platform: target === 'browser' ? 'browser' : 'neutral',
    target: 'es2020',
    legalComments: 'none',
    external: target === 'node' ? ['ws'] : [],
    plugins: target === 'browser' ? [browserFallback] : [],
    logLevel: 'silent',
  };
}

/** Builds dist/ from scratch: both bundles and the declarations. */
export async function buildClientPackage(): Promise<void> {
  await rm(DIST_DIR, { recursive: true, force: true });
  await Promise.all([
    build({ ...clientBuildOptions('node'), outfile: path.join(DIST_DIR, 'index.js') }),
    build({ ...clientBuildOptions('browser'), outfile: path.join(DIST_DIR, 'browser.js') }),
    promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(CLIENT_DIR, 'tsconfig.build.json')], { cwd: ROOT }),
  ]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildClientPackage().then(
    () => console.log(`${path.relative(ROOT, DIST_DIR)}: index.js, browser.js, types/`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
