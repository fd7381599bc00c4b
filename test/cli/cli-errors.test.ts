/**
 * The CLI's failures, as a spawned process: one line on stderr, exit 1 (failure) or 2 (usage),
 * never a stack trace. None of these needs a running system.
 */
import { expect } from 'chai';
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, type CliResult } from './run-cli';

/** A port nothing listens on: bind one, then let it go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).to.equal(code);
  expect(result.stdout).to.equal('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^realtime: /);
  expect(lines[0]).to.match(pattern);
  expect(result.stderr).not.to.match(/\n\s+at /); // no stack trace
}

describe('realtime CLI errors (spawned)', function () {
  this.timeout(30_000);
  let dir: string;
  let deadUrl: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'realtime-cli-'));
    deadUrl = `http://127.0.0.1:${await closedPort()}`;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('bad JSON data: exit 1 naming the problem', async () => {
    expectOneLineError(await runCli(['publish', 'orders/1', '{"a":', '--local-url', deadUrl]), 1, /the data argument is not valid JSON/);
  });

  it('bad JSON on stdin and a missing @file: exit 1', async () => {
    expectOneLineError(await runCli(['publish', 'orders/1', '-', '--local-url', deadUrl], { input: 'nope' }), 1, /stdin is not valid JSON/);
    expectOneLineError(await runCli(['publish', 'orders/1', `@${path.join(dir, 'missing.json')}`]), 1, /cannot read .*missing\.json: ENOENT/);
  });

  it('bad topic: exit 1 with the protocol reason, for publish and listen', async () => {
    expectOneLineError(await runCli(['publish', 'orders 1', '{}']), 1, /invalid topic "orders 1": topic names use only/);
    expectOneLineError(await runCli(['listen', 'ok', '$bad']), 1, /invalid topic "\$bad"/);
  });

  it('unreachable local mode: exit 1 saying where and how to start it', async () => {
    const result = await runCli(['publish', 'orders/1', '{"hello":1}'], { env: { REALTIME_LOCAL: deadUrl } });
    expectOneLineError(result, 1, new RegExp(`cannot reach the local mode at ${deadUrl}/config\\.json \\(connect ECONNREFUSED`));
    expect(result.stderr).to.contain('npm start');
  });

  it('unreachable WebSocket and SQS endpoints: exit 1', async () => {
    const ws = deadUrl.replace('http', 'ws');
    expectOneLineError(await runCli(['listen', 'orders/1', '--url', ws]), 1, new RegExp(`cannot connect to ${ws}: connect ECONNREFUSED`));
    const outputs = path.join(dir, 'outputs.json');
    await writeFile(outputs, JSON.stringify({ queueUrl: `${deadUrl}/000000000000/q`, dlqUrl: `${deadUrl}/000000000000/d` }));
    const result = await runCli(['publish', 'orders/1', '1', '--stack-outputs', outputs, '--region', 'us-east-1'], {
      env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' },
    });
    expectOneLineError(result, 1, /SendMessage to SQS in us-east-1 failed: .*ECONNREFUSED/);
  });

  it('a stack outputs file that is not JSON, or lacks what the command needs: exit 1', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, 'Current stack outputs (7):');
    expectOneLineError(await runCli(['status', '--stack-outputs', bad]), 1, /bad\.json is not JSON .*pulumi stack output --json/);
    const partial = path.join(dir, 'partial.json');
    await writeFile(partial, JSON.stringify({ websocketUrl: 'wss://x/prod' }));
    expectOneLineError(await runCli(['status', '--stack-outputs', partial]), 1, /partial\.json does not give queueUrl \(--queue-url\), dlqUrl \(--dlq-url\)/);
  });

  it('usage errors: exit 2', async () => {
    expectOneLineError(await runCli(['publish', 'orders/1']), 2, /missing required argument 'data'/);
    expectOneLineError(await runCli(['frobnicate']), 2, /unknown command 'frobnicate'/);
    expectOneLineError(await runCli(['publish', 'a', '{}', '--via', 'carrier-pigeon']), 2, /--via.*carrier-pigeon.*sqs, events/);
    expectOneLineError(await runCli(['token', '--sub', 'alice', '--topics', 'orders/*']), 2, /no secret: pass --secret/);
  });

  it('token: prints a JWT carrying the subject and topic patterns', async () => {
    const result = await runCli(['token', '--sub', 'alice', '--topics', 'orders/*,users/{sub}/inbox', '--secret', 's3cret', '--expires', '15m']);
    expect(result.code, result.stderr).to.equal(0);
    const [, payload] = result.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string; topics: string[]; exp: number; iat: number };
    expect(claims.sub).to.equal('alice');
    expect(claims.topics).to.deep.equal(['orders/*', 'users/{sub}/inbox']);
    expect(claims.exp - claims.iat).to.equal(15 * 60);
  });
});
