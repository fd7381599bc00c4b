/**
 * The AWS SDK prints a notice on Node 20 (its releases after January 2027 need Node 22) whenever
 * a client is made. Neither a user of the CLI nor one following the local-mode quickstart (a
 * backend script run with the environment `npm start` prints) sees it. These processes get no
 * AWS_* variable from the test run (test/setup.ts turns the notice off for mocha itself).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { backendEnvironment, SDK_NODE_WARNING_OFF, startLocal, type LocalSystem } from '../../local/system';
import { cliEnv, collect, ROOT, runCli } from './run-cli';

const NOTICE = /NodeVersionSupportWarning|Warning:/;

/** The publish.mjs of docs/local-mode.md (Quickstart), as a backend runs it. */
const PUBLISH_MJS = `
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';

const sqs = new SQSClient({});
const { MessageId } = await sqs.send(
  new SendMessageCommand({
    QueueUrl: process.env.QUEUE_URL,
    MessageBody: JSON.stringify({ topic: 'demo', data: { hello: 'world' } }),
  }),
);
console.log('sent', MessageId);
sqs.destroy();
`;

describe("the AWS SDK's Node version notice (spawned)", function () {
  this.timeout(40_000);
  let system: LocalSystem;

  before(async () => {
    system = await startLocal({ quiet: true });
  });
  after(() => system.stop());

  it('this test runs where the SDK would print it: a bare client on this Node prints the notice unless it is turned off', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    const bare = spawn(process.execPath, ['--input-type=module', '-e', "import { SQSClient } from '@aws-sdk/client-sqs'; new SQSClient({ region: 'us-east-1' });"], {
      cwd: ROOT,
      env: cliEnv(),
    });
    const result = await collect(bare);
    // On Node 22+ the SDK has nothing to say, and the tests below hold trivially.
    expect(result.stderr.includes('NodeVersionSupportWarning')).to.equal(major < 22);
  });

  it('the CLI (bin.js, as npx realtime runs it): publish, history and status print no notice', async () => {
    const env = { REALTIME_LOCAL: system.outputs.demoUrl! };
    for (const args of [['publish', 'notice/t', '{"a":1}'], ['history', 'notice/t'], ['status']]) {
      const result = await runCli(args, { env });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr, args.join(' ')).to.not.match(NOTICE);
    }
  });

  it("the local-mode quickstart's publish.mjs, run with the environment npm start prints: sends, and prints no notice", async () => {
    const env = backendEnvironment(system.outputs);
    const child = spawn(process.execPath, ['--input-type=module', '-e', PUBLISH_MJS], { cwd: ROOT, env: cliEnv(env) });
    const result = await collect(child);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^sent [0-9a-f-]{36}\n$/);
    expect(result.stderr).to.equal('');
  });

  it('the printed environment turns the notice off on Node 20 only (Node 22 has none to turn off)', () => {
    expect(backendEnvironment(system.outputs, 'v20.19.0')).to.include({ [SDK_NODE_WARNING_OFF]: 'true' });
    expect(backendEnvironment(system.outputs, 'v22.12.0')).to.not.have.property(SDK_NODE_WARNING_OFF);
  });
});
