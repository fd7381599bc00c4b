/**
 * Bundles a Lambda handler with esbuild, in-process, so neither `pulumi up` nor the tests need a
 * build step. One minified CommonJS file per handler with every dependency inside (the AWS SDK
 * included: the versions we test are the versions we ship), plus a source map shipped next to it:
 * with NODE_OPTIONS=--enable-source-maps (components/lambda-function.ts) stack traces in
 * CloudWatch name functions/…ts lines, not columns of one minified line.
 * The map is a separate file, not inlined (Node then parses only what it needs, and index.js stays
 * small), and it maps our own code only (source-map-filter.ts): that keeps its cost at a cold
 * start near zero, while the SDK's frames keep their function names. bench/bundles.ts measures it.
 * esbuild's metafile says which source files made it into the bundle (`inputs`).
 * Cached per process: a program that builds the same handler twice (tests run the program
 * several times) bundles it once.
 */
import { buildSync, type Metafile } from 'esbuild';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { handlerSourcePath, type HandlerName } from '../protocol/routes';
import { keepSources } from './source-map-filter';

/** The repository root (this file lives in components/). */
export const REPO_ROOT = path.resolve(__dirname, '..');
/** Node.js runtime the bundles target; keep in step with LAMBDA_RUNTIME. */
export const BUNDLE_TARGET = 'node22';
/** The file name inside the archive, hence the function's `handler` setting `index.handler`. */
export const BUNDLE_FILE = 'index.js';
/** Its source map, next to it in the archive (named by the bundle's `sourceMappingURL` comment). */
export const SOURCE_MAP_FILE = `${BUNDLE_FILE}.map`;
/** Sources whose code the shipped map covers (paths as the map names them, relative to the repository). */
export const MAPPED_SOURCES = /^(functions|protocol)\//;
/** The most an index.js may weigh (checked by test/infra/bundles.test.ts): small code loads fast. */
export const MAX_BUNDLE_BYTES = 400 * 1024;

/**
 * Modules swapped for leaner ones in the Lambda bundles only (the tests and the local mode use
 * the originals). The SDK's default credential chain becomes the two providers Lambda can use.
 */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './functions/lib/lambda-credentials.ts',
};

export interface Bundle {
  handler: HandlerName;
  /** index.js: minified, ending with its `//# sourceMappingURL=index.js.map` comment. */
  code: string;
  /** index.js.map: positions and names in MAPPED_SOURCES only, without the sources' text. */
  map: string;
  /** Size of `code` in bytes. */
  bytes: number;
  /**
   * Files whose code is in the bundle, relative to the repository root (e.g.
   * `functions/lib/fan-out.ts`, `node_modules/@aws-sdk/client-dynamodb/dist-es/commands/QueryCommand.js`),
   * with how many bytes each contributes. Modules tree-shaken away entirely are not listed.
   */
  inputs: Readonly<Record<string, number>>;
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
    alias: { ...LAMBDA_ALIASES },
    // Not written: the outfile only names the files and roots the map's relative source paths.
    write: false,
    outfile: path.join(REPO_ROOT, BUNDLE_FILE),
    minify: true,
    // Function and class names survive minification (~7 % of the size): the SDK matches error
    // classes by constructor name, Powertools checks its processor's, and stack frames in code
    // the map leaves out still name their functions.
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    legalComments: 'none',
    // The lambda code must never pull infrastructure code in (checked by the tests too).
    external: [],
    absWorkingDir: REPO_ROOT,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for ${handlerSourcePath(handler)}: ${result.errors.map((e) => e.text).join('; ')}`);
  }
  const output = (suffix: string) => {
    const file = result.outputFiles.find((f) => f.path.endsWith(suffix));
    if (!file) throw new Error(`esbuild wrote no ${suffix} for ${handlerSourcePath(handler)}`);
    return file.text;
  };
  const code = output(`/${BUNDLE_FILE}`);
  const bundle: Bundle = {
    handler,
    code,
    map: keepSources(output(`/${SOURCE_MAP_FILE}`), (source) => MAPPED_SOURCES.test(source)),
    bytes: Buffer.byteLength(code),
    inputs: inputsOf(result.metafile),
  };
  cache.set(handler, bundle);
  return bundle;
}

function inputsOf(metafile: Metafile): Record<string, number> {
  const js = Object.entries(metafile.outputs).find(([file]) => file.endsWith(BUNDLE_FILE));
  if (!js) throw new Error('esbuild metafile lists no bundle');
  const inputs: Record<string, number> = {};
  for (const [file, { bytesInOutput }] of Object.entries(js[1].inputs)) {
    if (bytesInOutput > 0) inputs[file] = bytesInOutput;
  }
  return inputs;
}
