import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { CommanderError } from 'commander';
import { DEFAULT_PORTS, parseCli } from '../../local/cli-options';
import { handlerEnvFromStack, readRulesFile, readStackSettings } from '../../local/stack-config';
import { optionsFromStack } from '../../local/system';
import { ENV } from '../../protocol/env';
import { startLocal } from '../../local/system';
import { stackOutputsSchema } from '../../protocol/outputs';
import { openSocket } from './auth-fixtures';
import { eventually, rowsOf, sdkClients, startCli, subscribersOf } from './system-helpers';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start flags', () => {
  const parse = (...argv: string[]) => parseCli(argv, { writeErr: () => undefined, writeOut: () => undefined });
  const refusal = (...argv: string[]) => {
    try {
      parse(...argv);
    } catch (err) {
      expect(err).to.be.instanceOf(CommanderError);
      return (err as Error).message;
    }
    throw new Error(`${argv.join(' ')} was accepted`);
  };

  it('defaults to stable ports, no faults, banner output', () => {
    const { local, json, rulesFile } = parse();
    expect(local.port).to.equal(DEFAULT_PORTS.gateway);
    expect(local.ports).to.deep.equal({ demo: DEFAULT_PORTS.demo, sqs: DEFAULT_PORTS.sqs, eventBridge: DEFAULT_PORTS.eventBridge, dynamodb: DEFAULT_PORTS.dynamodb });
    expect(local).to.include({ quiet: false, metrics: false });
    expect(local).to.not.have.any.keys('faults', 'dataDir', 'authSecret');
    expect(json).to.equal(false);
    expect(rulesFile).to.equal(undefined);
  });

  it('--port 0 puts every endpoint not given a port on any free port', () => {
    const { local } = parse('--port', '0', '--demo-port', '9000');
    expect(local.port).to.equal(0);
    expect(local.ports).to.deep.equal({ demo: 9000, sqs: 0, eventBridge: 0, dynamodb: 0 });
  });

  it('reads every flag, and the fault flags from LOCAL_* variables too', () => {
    const { local, json, rulesFile } = parse(
      '--json', '--data', 'some/dir', '--rules', 'rules.json', '--auth-secret', 's3cret', '--latency-ms', '20', '--throttle-rate', '0.2',
      '--error-rate', '0.05', '--rate-limit', '100/20', '--idle-timeout-ms', '1000', '--max-connection-ms', '5000',
      '--visibility-timeout', '2', '--max-receive-count', '3', '--log-level', 'debug', '--metrics', '--quiet',
    );
    expect(json).to.equal(true);
    expect(rulesFile).to.equal('rules.json');
    expect(local).to.deep.include({
      dataDir: 'some/dir',
      authSecret: 's3cret',
      faults: { latencyMs: 20, throttleRate: 0.2, errorRate: 0.05, rateLimit: { perSecond: 100, burst: 20 } },
      idleTimeoutMs: 1000,
      maxConnectionMs: 5000,
      queue: { visibilityTimeoutSeconds: 2, maxReceiveCount: 3 },
      logLevel: 'DEBUG',
      metrics: true,
      quiet: true,
    });
    process.env.LOCAL_GONE_RATE = '0.25';
    try {
      expect(parse().local.faults).to.deep.equal({ goneRate: 0.25 });
      expect(parse('--gone-rate', '0.5').local.faults).to.deep.equal({ goneRate: 0.5 });
    } finally {
      delete process.env.LOCAL_GONE_RATE;
    }
  });

  it('refuses bad values with a message naming the flag', () => {
    expect(refusal('--gone-rate', '2')).to.match(/--gone-rate.*between 0 and 1/);
    expect(refusal('--latency-ms', 'soon')).to.match(/--latency-ms.*number/);
    expect(refusal('--rate-limit', 'fast')).to.match(/--rate-limit.*N or N\/BURST/);
    expect(refusal('--port', 'http')).to.match(/--port.*a port/);
    expect(refusal('--port', '70000')).to.match(/--port.*0 to 65535/);
    expect(refusal('--visibility-timeout', '0')).to.match(/--visibility-timeout/);
    expect(refusal('--log-level', 'LOUD')).to.match(/--log-level.*LOUD/);
    expect(refusal('--bogus')).to.match(/unknown option '--bogus'/);
    expect(refusal('stray')).to.match(/too many arguments|excess/i);
  });
});

describe('where npm start gets its EventBridge rules', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'realtime-rules-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('reads realtime:eventRules and realtime:eventBusName from a stack file, as YAML or as a JSON string', () => {
    const yaml = file('Pulumi.a.yaml', 'config:\n  realtime:eventBusName: shop\n  realtime:eventRules:\n    - name: orders\n      eventPattern:\n        source: [shop.orders]\n      topic: orders/{detail.orderId}\n');
    expect(readStackSettings(yaml).config).to.deep.include({
      eventBusName: 'shop',
      eventRules: [{ name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}', dataPath: 'detail' }],
    });
    const json = file('Pulumi.b.yaml', `config:\n  realtime:eventRules: '${JSON.stringify([{ name: 'r', eventPattern: {}, topic: 't' }])}'\n`);
    expect(readStackSettings(json).config.eventRules).to.deep.equal([{ name: 'r', eventPattern: {}, topic: 't', dataPath: 'detail' }]);
    expect(readStackSettings(join(dir, 'missing.yaml')).config).to.deep.include({ eventRules: [], publishConcurrency: 64 });
    expect(() => readStackSettings(file('Pulumi.c.yaml', 'config: [\n'))).to.throw(/not valid YAML/);
    expect(() => readStackSettings(file('Pulumi.d.yaml', 'config:\n  realtime:eventRules: 42\n'))).to.throw(/realtime:eventRules/);
  });

  it('reads every realtime:* setting of a stack file with the deployed rules and defaults, as YAML values or as pulumi config set strings', () => {
    const stack = readStackSettings(
      file('Pulumi.e.yaml', 'config:\n  aws:region: eu-west-1\n  realtime:publishConcurrency: 16\n  realtime:sliceThreshold: "250"\n  realtime:publishTimeoutSeconds: 2\n  realtime:deliveryMaximumConcurrency: 4\n  realtime:authEnabled: "false"\n'),
    );
    expect(stack.set.sort()).to.deep.equal(['authEnabled', 'deliveryMaximumConcurrency', 'publishConcurrency', 'publishTimeoutSeconds', 'sliceThreshold']);
    expect(stack.config).to.deep.include({ publishConcurrency: 16, sliceThreshold: 250, publishTimeoutSeconds: 2, deliveryMaximumConcurrency: 4, rateBudget: 5000 });
    expect(handlerEnvFromStack(stack.config)).to.deep.include({ [ENV.publishConcurrency]: '16', [ENV.sliceThreshold]: '250', [ENV.rateBudget]: '5000' });
    // As deployed: the queues' visibility is 6 x the function timeout (+ the batching window).
    expect(optionsFromStack(stack.config)).to.deep.include({
      queue: { visibilityTimeoutSeconds: 12, maxReceiveCount: 5 },
      delivery: { batchSize: 5, maximumConcurrency: 4 },
    });
    expect(optionsFromStack(stack.config).poller).to.deep.include({ functionTimeoutMs: 2000, maximumConcurrency: 10 });
    // Bad values are named with the file, as `pulumi up` would name them.
    expect(() => readStackSettings(file('Pulumi.f.yaml', 'config:\n  realtime:publishConcurrency: lots\n  realtime:sliceSize: 0\n  realtime:nope: 1\n'))).to.throw(
      /Pulumi\.f\.yaml: Invalid stack configuration:[\s\S]*realtime:nope is not a setting[\s\S]*publishConcurrency[\s\S]*sliceSize/,
    );
  });

  it('reads a --rules JSON file and names what is wrong with it', () => {
    expect(readRulesFile(file('rules.json', '[{"name":"a","eventPattern":{},"topic":"t"}]')).eventRules).to.have.length(1);
    expect(() => readRulesFile(file('bad.json', '{"name":"a"}'))).to.throw(/JSON array of rules/);
    expect(() => readRulesFile(file('broken.json', '['))).to.throw(/not valid JSON/);
    expect(() => readRulesFile(join(dir, 'nope.json'))).to.throw(/cannot read the rules file .*ENOENT/);
  });
});

describe('npm start as a child process', function () {
  // Each child compiles the TypeScript sources on start: allow for a slow machine.
  this.timeout(30_000);
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('--json prints one line of outputs once ready; SIGINT closes sockets and exits 0', async () => {
    const cli = startCli(['--json', '--port', '0']);
    try {
      const outputs = stackOutputsSchema.parse(await cli.outputs);
      expect(outputs.websocketUrl).to.match(/^ws:\/\/127\.0\.0\.1:\d+\/local$/);
      for (const key of ['sqsEndpoint', 'eventBridgeEndpoint', 'dynamodbEndpoint', 'demoUrl'] as const) expect(outputs[key]).to.match(/^http:\/\/127\.0\.0\.1:\d+/);
      expect(outputs).to.include({ region: 'us-east-1', eventBusName: 'default', tableName: 'realtime-connections' });
      const client = await openSocket(outputs.websocketUrl);
      expect(await client.request({ action: 'ping' })).to.deep.equal({ type: 'pong' });
      cli.signal('SIGINT');
      expect(await client.closed()).to.equal(1001);
      expect(await cli.exited).to.deep.equal({ code: 0, signal: null });
    } finally {
      cli.signal('SIGKILL');
    }
  });

  it('exits 1 with the reason when a flag is bad', async () => {
    const cli = startCli(['--json', '--port', '0', '--error-rate', '1.5']);
    expect((await cli.exited).code).to.equal(1);
    expect(cli.stderr()).to.match(/--error-rate.*between 0 and 1/);
  });

  it('--data keeps the subscriptions across a crash; the stale ones go on the next publish (410)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'realtime-local-'));
    dirs.push(dataDir);
    const cli = startCli(['--json', '--port', '0', '--quiet', '--data', dataDir]);
    let oldId: string;
    try {
      const outputs = await cli.outputs;
      const client = await openSocket(outputs.websocketUrl);
      await client.request({ action: 'subscribe', topics: ['kept'] });
      const aws = sdkClients(outputs);
      [oldId] = await subscribersOf(aws.dynamodb, outputs.tableName, 'kept');
      aws.destroy();
      // A crash: no $disconnect, no clean shutdown.
      const pid = Number(readFileSync(join(dataDir, 'realtime-local.pid'), 'utf8'));
      cli.signal('SIGKILL');
      await cli.exited;
      await eventually(() => !processExists(pid), 'the killed process to be gone');
    } finally {
      cli.signal('SIGKILL');
    }

    const system = await startLocal({ quiet: true, dataDir });
    const aws = sdkClients(system.outputs);
    try {
      expect(await subscribersOf(aws.dynamodb, system.outputs.tableName, 'kept')).to.deep.equal([oldId]);
      expect(await rowsOf(aws.dynamodb, system.outputs.tableName, oldId)).to.have.members(['$connection', 'kept']);
      const fresh = await openSocket(system.outputs.websocketUrl);
      await fresh.request({ action: 'subscribe', topics: ['kept'] });
      await aws.sqs.send(new SendMessageCommand({ QueueUrl: system.outputs.queueUrl, MessageBody: JSON.stringify({ topic: 'kept', data: 'after restart' }) }));
      expect(await fresh.next((f) => f.type === 'message', 'the message')).to.deep.include({ data: 'after restart' });
      await eventually(async () => (await rowsOf(aws.dynamodb, system.outputs.tableName, oldId)).length === 0, 'the 410 to remove the dead connection');
      expect(system.gateway.stats().gone).to.be.greaterThan(0);
      await fresh.close();
    } finally {
      aws.destroy();
      await system.stop();
    }
  });
});
