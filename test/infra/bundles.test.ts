/**
 * What each function ships: the esbuild bundle and its source map, taken from the function's own
 * code archive. The bundle, loaded as Lambda would load it (a CommonJS file, the function's
 * environment in process.env), must export a `handler` function and carry no Pulumi code; it
 * must stay small (MAX_BUNDLE_BYTES); and with the function's NODE_OPTIONS its stack traces must
 * name our TypeScript sources.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { LAMBDA_ALIASES, MAPPED_SOURCES, MAX_BUNDLE_BYTES, bundleHandler } from '../../components/bundle';
import { NODE_OPTIONS } from '../../components/lambda-function';
import { AUTHORIZER_HANDLER, HANDLER_NAMES, type HandlerName } from '../../protocol/routes';
import { AUTH_SSM, REGION, functionParts, runProgram, type FunctionParts } from './harness';

/** Load a bundle from a file with exactly `env` as process.env, as a Lambda container would. */
function loadBundle(file: string, env: Record<string, string>): Record<string, unknown> {
  const saved = process.env;
  process.env = { ...env };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as Record<string, unknown>;
  } finally {
    process.env = saved;
  }
}

/** The function of a handler, from the stack that has it (the authorizer only exists with auth on). */
async function partsOf(handler: HandlerName): Promise<FunctionParts> {
  return functionParts(await runProgram(handler === AUTHORIZER_HANDLER ? AUTH_SSM : {}), handler);
}

/** Writes the archive's files into a fresh directory, as Lambda unpacks them into /var/task. */
function unpack(root: string, handler: HandlerName, parts: FunctionParts): string {
  const dir = path.join(root, handler);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.js'), parts.code);
  writeFileSync(path.join(dir, 'index.js.map'), parts.map);
  return path.join(dir, 'index.js');
}

/**
 * Runs in a child process started with the function's NODE_OPTIONS: builds the handler with a
 * configuration it refuses and prints the stack of what it throws.
 */
const THROW_PROBE = `
const { handler } = require(process.argv[1]);
// The handler builds itself on its first call, so it may throw before it returns a promise.
Promise.resolve().then(() => handler({ requestContext: { connectionId: 'c1', routeKey: 'probe' }, methodArn: 'arn:probe' }, {})).then(
  () => { console.error('the handler did not throw'); process.exit(2); },
  (error) => { process.stdout.write('\\n<<<STACK\\n' + error.stack); },
);
`;

describe('infra: function bundles', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'realtime-bundles-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const handler of HANDLER_NAMES) {
    describe(handler, () => {
      it('exports handler() when loaded with its environment, and contains no Pulumi code', async () => {
        const parts = await partsOf(handler);
        const { fn, code } = parts;
        expect(fn.inputs.handler).to.equal('index.handler');
        expect(fn.inputs.runtime).to.equal('nodejs22.x');
        expect(fn.inputs.architectures).to.deep.equal(['arm64']);
        expect(code, 'the function ships the bundle of its own handler').to.equal(bundleHandler(handler).code);
        expect(Object.keys(bundleHandler(handler).inputs).filter((f) => f.includes('node_modules/@pulumi/')), 'bundled @pulumi modules').to.deep.equal([]);
        expect(code).to.not.match(/require\(["']@pulumi/, 'the bundle requires @pulumi at run time');

        const file = unpack(path.join(dir, 'load'), handler, parts);
        const env = { ...fn.inputs.environment.variables, AWS_REGION: REGION, AWS_LAMBDA_FUNCTION_NAME: fn.state.name };
        const mod = loadBundle(file, env);
        expect(typeof mod.handler, `${handler}.handler`).to.equal('function');
        expect(typeof mod.makeHandler, `${handler}.makeHandler`).to.equal('function');
      });

      it(`is at most ${MAX_BUNDLE_BYTES / 1024} KB, minified, with its source map beside it and source maps on`, async () => {
        const { fn, files, code, map } = await partsOf(handler);
        expect(Buffer.byteLength(code), 'index.js bytes').to.be.at.most(MAX_BUNDLE_BYTES);
        expect(Buffer.byteLength(map), 'index.js.map bytes').to.be.below(Buffer.byteLength(code));
        expect(files).to.deep.equal(['index.js', 'index.js.map']);
        expect(code.trimEnd().split('\n').at(-1)).to.equal('//# sourceMappingURL=index.js.map');
        // Minified: a few long lines, not one per statement.
        expect(code.split('\n').length, 'lines in index.js').to.be.below(100);
        const sources = (JSON.parse(map) as { sources: string[] }).sources;
        expect(sources, 'the map names our sources').to.include(`functions/handlers/${handler}.ts`);
        expect(sources.filter((s) => !MAPPED_SOURCES.test(s)), 'the map covers our code only').to.deep.equal([]);
        expect(fn.inputs.environment.variables.NODE_OPTIONS).to.equal(NODE_OPTIONS);
        expect(NODE_OPTIONS).to.contain('--enable-source-maps');
      });

      it('resolves the stack of an error it throws to functions/…ts through the source map', async () => {
        const parts = await partsOf(handler);
        const file = unpack(path.join(dir, 'stack'), handler, parts);
        // POWERTOOLS_LOG_LEVEL is not a level: config loading throws (the authorizer, with no key
        // source configured either, refuses the invocation).
        const env = { PATH: process.env.PATH ?? '', AWS_REGION: REGION, POWERTOOLS_LOG_LEVEL: 'NOT-A-LEVEL' };
        const { stdout } = await promisify(execFile)(process.execPath, [...NODE_OPTIONS.split(' '), '-e', THROW_PROBE, file], {
          env,
          cwd: path.dirname(file),
          timeout: 60_000,
        });
        const stack = stdout.split('\n<<<STACK\n')[1] ?? '';
        const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
        expect(frames.length, stack).to.be.greaterThan(0);
        // The throwing frame is one of our TypeScript lines, not a column of minified index.js.
        expect(frames[0], stack).to.match(/functions\/[\w/-]+\.ts:\d+:\d+\)?$/);
        expect(stack, 'a frame in the handler module').to.match(new RegExp(`functions/handlers/${handler}\\.ts:\\d+:\\d+`));
        expect(stack).to.not.match(/index\.js:\d+:\d+/);
      });
    });
  }

  it('swaps the SDK default credential chain for the Lambda one, in every bundle that signs requests', () => {
    const [module, replacement] = Object.entries(LAMBDA_ALIASES)[0];
    expect(module).to.equal('@aws-sdk/credential-provider-node');
    const withSdk = HANDLER_NAMES.map((h) => bundleHandler(h)).filter((b) => Object.keys(b.inputs).some((f) => f.includes('node_modules/@smithy/signature-v4/')));
    expect(withSdk.length, 'bundles that sign AWS requests').to.be.greaterThan(0);
    for (const { handler, inputs } of withSdk) {
      const files = Object.keys(inputs);
      expect(files, handler).to.include(path.normalize(replacement));
      const unwanted = files.filter((f) => /node_modules\/@aws-sdk\/(credential-provider-(node|ini|sso|process|web-identity|login)|nested-clients|token-providers)\//.test(f));
      expect(unwanted, handler).to.deep.equal([]);
    }
  });
});
