/**
 * The CLI end to end as spawned processes against a local system started here: publish (SQS and
 * --via events) reaches a running `listen`; status reads the real depths and subscription count.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { RealtimeClient } from '../../client/index';
import { startLocal, type LocalSystem } from '../../local/system';
import { DIRECT_PUBLISH_RULE } from '../../protocol/direct-publish';
import { ENV } from '../../protocol/env';
import { connectionsOn, eventually, sendEnvelope } from '../client/local-helpers';
import { collect, runCli, startCli, waitForOutput } from './run-cli';

interface Line {
  topic: string;
  id: string;
  data: unknown;
  publishedAt: string;
}

describe('realtime CLI against the local mode (spawned)', function () {
  this.timeout(40_000);
  let system: LocalSystem;
  let env: Record<string, string>;
  let children: ChildProcess[] = [];
  let dir: string;

  beforeEach(async () => {
    system = await startLocal({ quiet: true, eventRules: [DIRECT_PUBLISH_RULE] });
    env = { REALTIME_LOCAL: system.outputs.demoUrl! };
    dir = await mkdtemp(path.join(tmpdir(), 'realtime-cli-'));
  });

  afterEach(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    children = [];
    await system.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function listen(args: string[]): ChildProcess {
    const child = startCli(['listen', ...args], env);
    children.push(child);
    return child;
  }

  it('publish through SQS and through EventBridge: a running listen prints both as JSON lines', async () => {
    const listener = listen(['cli/orders', 'cli/other', '--count', '2']);
    await waitForOutput(listener.stderr!, /listening on cli\/orders, cli\/other/);
    const done = collect(listener);

    const viaSqs = await runCli(['publish', 'cli/orders', '{"hello":1}'], { env });
    expect(viaSqs.code, viaSqs.stderr).to.equal(0);
    const sqsId = viaSqs.stdout.trim();
    expect(sqsId).to.match(/^[0-9a-f-]{36}$/);

    const viaEvents = await runCli(['publish', 'cli/other', '{"n":[2]}', '--via', 'events'], { env });
    expect(viaEvents.code, viaEvents.stderr).to.equal(0);
    expect(viaEvents.stderr).to.match(/^note: delivered only if a rule on default matches detail-type "realtime.publish"/);
    const eventId = viaEvents.stdout.trim();

    const result = await done;
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    const byId = Object.fromEntries(lines.map((l) => [l.id, l]));
    expect(Object.keys(byId).sort()).to.deep.equal([sqsId, eventId].sort());
    expect(byId[sqsId]).to.include({ topic: 'cli/orders' });
    expect(byId[sqsId].data).to.deep.equal({ hello: 1 });
    expect(byId[eventId]).to.include({ topic: 'cli/other' });
    expect(byId[eventId].data).to.deep.equal({ n: [2] });
    expect(Date.parse(byId[sqsId].publishedAt)).to.be.a('number').and.not.NaN;
  });

  it("history lists what a topic's stream keeps, in seq order; listen --since replays from a position before going live", async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(await sendEnvelope(system.outputs, { topic: 'cli/kept', data: { n } }));
    // The messages are in history once published: wait for the third.
    await eventually(async () => (await runCli(['history', 'cli/kept'], { env })).stdout.trim().split('\n').length === 3, 'three messages kept');

    const all = await runCli(['history', 'cli/kept'], { env });
    expect(all.code, all.stderr).to.equal(0);
    const kept = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line & { seq: number; epoch: string });
    expect(kept.map((m) => m.seq)).to.deep.equal([1, 2, 3]);
    expect(kept.map((m) => m.id).sort()).to.deep.equal([...ids].sort());
    const epoch = kept[0].epoch;
    expect(all.stderr).to.equal(`cli/kept: epoch ${epoch}, head 3, 3 message(s) listed\n`);

    const some = await runCli(['history', 'cli/kept', '--since', '1', '--limit', '1'], { env });
    expect(some.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).to.deep.equal([2]);
    expect((await runCli(['history', 'cli/never'], { env })).stderr).to.equal('cli/never: nothing was ever published here\n');
    expect((await runCli(['history', 'cli/kept', '--since', 'x'], { env })).code).to.equal(2);

    // From seq 1 of this stream: 2 and 3 are replayed, then a new one arrives live.
    const listener = listen(['cli/kept', '--since', `${epoch}:1`, '--count', '3']);
    const done = collect(listener);
    await waitForOutput(listener.stderr!, /listening on/);
    await sendEnvelope(system.outputs, { topic: 'cli/kept', data: { n: 4 }, id: 'live-4' });
    const result = await done;
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; id: string; epoch: string });
    expect(lines.map((l) => l.seq)).to.deep.equal([2, 3, 4]);
    expect(lines[2]).to.include({ id: 'live-4', epoch });
  });

  it('listen stops cleanly on Ctrl-C (SIGINT) with exit 0, and its subscription goes away', async () => {
    const listener = listen(['cli/interrupt']);
    await waitForOutput(listener.stderr!, /listening on/);
    const done = collect(listener);
    await eventually(async () => (await connectionsOn(system.outputs, 'cli/interrupt')).length === 1, 'the subscription row');
    listener.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('');
    await eventually(async () => (await connectionsOn(system.outputs, 'cli/interrupt')).length === 0, 'the subscription removed by $disconnect');
  });

  it('publish reads @file and stdin, and --id becomes the message id', async () => {
    const listener = listen(['cli/files', '--count', '2']);
    await waitForOutput(listener.stderr!, /listening on/);
    const done = collect(listener);
    const file = path.join(dir, 'order.json');
    await writeFile(file, '{"from":"file"}');

    const fromFile = await runCli(['publish', 'cli/files', `@${file}`, '--id', 'order-1'], { env });
    expect(fromFile.code, fromFile.stderr).to.equal(0);
    expect(fromFile.stdout).to.equal('order-1\n');
    const fromStdin = await runCli(['publish', 'cli/files', '-', '--id', 'order-2'], { env, input: '["from","stdin"]' });
    expect(fromStdin.stdout).to.equal('order-2\n');

    const lines = (await done).stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => [l.id, l.data]).sort()).to.deep.equal([
      ['order-1', { from: 'file' }],
      ['order-2', ['from', 'stdin']],
    ]);
  });

  it('listen exits 1 with one line when the server refuses a topic', async () => {
    // A server configured for short topics: the CLI's own check (default limits) lets it through.
    await system.stop();
    system = await startLocal({ quiet: true, env: { [ENV.maxTopicLength]: '10' } });
    env = { REALTIME_LOCAL: system.outputs.demoUrl! };
    const result = await collect(listen(['short', 'much/too/long/for/this/server']));
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/^realtime: subscribe refused: INVALID_TOPIC: .*\(much\/too\/long\/for\/this\/server\)$/m);
  });

  it('listen without a token, auth on: exits 1 with one line saying 401 and to pass --token', async () => {
    const secured = await startLocal({ quiet: true, authSecret: 'cli-test-secret' });
    try {
      const result = await runCli(['listen', 'cli/orders'], { env: { REALTIME_LOCAL: secured.outputs.demoUrl! } });
      expect(result.code).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/401 Unauthorized.*pass --token/);
    } finally {
      await secured.stop();
    }
  });

  it('status prints the queue and DLQ depths and the subscription count', async () => {
    const { outputs } = system;
    await sendEnvelope(outputs, { topic: 'later', data: 1 }, { DelaySeconds: 900 });
    await sendEnvelope(outputs, { topic: 'dead', data: 1 }, { QueueUrl: outputs.dlqUrl });
    await sendEnvelope(outputs, { topic: 'dead', data: 2 }, { QueueUrl: outputs.dlqUrl });
    const client = new RealtimeClient({ url: outputs.websocketUrl });
    try {
      await Promise.all(['s/1', 's/2', 's/3'].map((t) => client.subscribe(t, () => undefined)));

      const json = await runCli(['status', '--json'], { env });
      expect(json.code, json.stderr).to.equal(0);
      const status = JSON.parse(json.stdout) as { local: boolean; queue: object; deadLetters: object; subscriptions: number };
      expect(status.local).to.equal(true);
      expect(status.queue).to.deep.equal({ waiting: 0, inFlight: 0, delayed: 1 });
      expect(status.deadLetters).to.deep.equal({ waiting: 2, inFlight: 0, delayed: 0 });
      expect(status.subscriptions).to.equal(3);

      await client.unsubscribe('s/3');
      const text = await runCli(['status'], { env });
      expect(text.code, text.stderr).to.equal(0);
      expect(text.stdout).to.match(/^queue +0 waiting, 0 in flight, 1 delayed$/m);
      expect(text.stdout).to.match(/^dead letters +2 waiting, 0 in flight, 0 delayed$/m);
      expect(text.stdout).to.match(/^subscriptions +2 \(Scan of index byTopic\)$/m);
    } finally {
      client.close();
    }
  });

  it('flags alone (no local config) are enough: publish with --queue-url and the endpoint from the environment', async () => {
    const { outputs } = system;
    const listener = listen(['cli/flags', '--count', '1']);
    await waitForOutput(listener.stderr!, /listening on/);
    const done = collect(listener);
    const result = await runCli(['publish', 'cli/flags', '{"by":"flags"}', '--queue-url', outputs.queueUrl, '--region', 'us-east-1'], {
      // No REALTIME_LOCAL: the SDK finds the endpoint the way a backend's does.
      env: { AWS_ENDPOINT_URL_SQS: outputs.sqsEndpoint!, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
    });
    expect(result.code, result.stderr).to.equal(0);
    const [line] = (await done).stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(line.data).to.deep.equal({ by: 'flags' });
    await eventually(async () => (await runCli(['status', '--json'], { env })).stdout.includes('"subscriptions":0'), 'the listener unsubscribed on exit');
  });
});
