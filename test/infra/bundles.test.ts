/**
 * What each function ships: the esbuild bundle taken from the function's own code archive,
 * loaded as Lambda would load it (a CommonJS file, the function's environment in process.env),
 * must export a `handler` function and carry no Pulumi code.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AUTHORIZER_HANDLER, LAMBDA_ROUTES, PUBLISH_HANDLER } from '../../protocol/routes';
import { AUTH_SSM, REGION, functionParts, runProgram } from './harness';

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

  const handlers = [...LAMBDA_ROUTES.map((r) => r.handler), PUBLISH_HANDLER, AUTHORIZER_HANDLER];
  for (const handler of handlers) {
    it(`${handler}: exports handler() when loaded with its environment, and contains no Pulumi code`, async () => {
      // The authorizer only exists with auth on; the rest come from the default stack.
      const run = await runProgram(handler === AUTHORIZER_HANDLER ? AUTH_SSM : {});
      const { fn, code } = await functionParts(run, handler);
      expect(fn.inputs.handler).to.equal('index.handler');
      expect(fn.inputs.runtime).to.equal('nodejs22.x');
      expect(fn.inputs.architectures).to.deep.equal(['arm64']);
      expect(code).to.not.match(/@pulumi\//, 'a @pulumi module was bundled');
      expect(code).to.not.match(/require\(["']@pulumi/, 'the bundle requires @pulumi at run time');

      const file = path.join(dir, `${handler}.js`);
      writeFileSync(file, code);
      const env = { ...fn.inputs.environment.variables, AWS_REGION: REGION, AWS_LAMBDA_FUNCTION_NAME: fn.state.name };
      const mod = loadBundle(file, env);
      expect(typeof mod.handler, `${handler}.handler`).to.equal('function');
      expect(typeof mod.makeHandler, `${handler}.makeHandler`).to.equal('function');
    });
  }
});
