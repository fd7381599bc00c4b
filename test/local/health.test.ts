/**
 * `GET /health` on the demo port: 200 with every endpoint up, the queues' depths and the open
 * connections once ready; 503 when an endpoint does not answer, and while stopping.
 */
import { expect } from 'chai';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { healthCheck, healthStatus, type HealthReport } from '../../local/health';
import { Queue } from '../../local/sqs';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { sendEnvelope } from '../client/local-helpers';
import { openSocket } from './auth-fixtures';
import { eventually, sdkClients } from './system-helpers';

async function get(url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method });
  return { status: response.status, body: await response.text() };
}

describe('healthCheck', () => {
  const queue = new Queue('q', 'arn:aws:sqs:us-east-1:000000000000:q');
  after(() => queue.close());

  it('is ok only when every endpoint answers; names the one that does not', async () => {
    const check = healthCheck(
      { state: () => 'ready', endpoints: () => ({ a: 'http://a', b: 'http://b' }), queues: () => ({ publish: queue }), connections: () => 3 },
      async (url) => {
        if (url === 'http://b') throw new Error('connect ECONNREFUSED');
      },
    );
    const report = await check();
    expect(report).to.deep.equal({
      status: 'degraded',
      endpoints: { a: { url: 'http://a', up: true }, b: { url: 'http://b', up: false, error: 'connect ECONNREFUSED' } },
      queues: { publish: { visible: 0, inFlight: 0, delayed: 0 } },
      connections: 3,
    });
    expect(healthStatus(report)).to.equal(503);
  });

  it('says starting and stopping without asking anyone; stopping wins over answers that came in meanwhile', async () => {
    let state: 'starting' | 'ready' | 'stopping' = 'starting';
    let asked = 0;
    const check = healthCheck({ state: () => state, endpoints: () => ({ a: 'http://a' }), queues: () => ({}), connections: () => 0 }, async () => {
      asked++;
      state = 'stopping'; // stop() begins while the endpoint is being asked
    });
    expect(await check()).to.deep.equal({ status: 'starting' });
    expect(asked).to.equal(0);
    state = 'ready';
    const report: HealthReport = await check();
    expect(report).to.deep.equal({ status: 'stopping' });
    expect(healthStatus(report)).to.equal(503);
  });
});

describe('GET /health of the local mode', function () {
  this.timeout(30_000);
  let system: LocalSystem;
  let url: string;

  beforeEach(async () => {
    // A post held by the fault below gives up after 2 s, once (the stopping test holds the stop with it).
    system = await startLocal({ quiet: true, env: { [ENV.postRequestTimeoutMs]: '2000', [ENV.postMaxAttempts]: '1' } });
    url = `${system.outputs.demoUrl}health`;
  });
  afterEach(() => system.stop());

  it('200 once ready: every endpoint up, the queue depths, the open connections', async () => {
    const aws = sdkClients(system.outputs);
    const client = await openSocket(system.outputs.websocketUrl);
    try {
      await aws.sqs.send(new SendMessageCommand({ QueueUrl: system.outputs.dlqUrl, MessageBody: 'dead' }));
      const { status, body } = await get(url);
      expect(status, body).to.equal(200);
      const report = JSON.parse(body);
      expect(report.status).to.equal('ok');
      expect(Object.keys(report.endpoints).sort()).to.deep.equal(['dynamodb', 'eventBridge', 'gateway', 'sqs']);
      for (const endpoint of Object.values(report.endpoints) as { up: boolean; url: string }[]) {
        expect(endpoint.up).to.equal(true);
        expect(endpoint.url).to.match(/^http:\/\/127\.0\.0\.1:\d+/);
      }
      expect(report.queues).to.deep.equal({
        publish: { visible: 0, inFlight: 0, delayed: 0 },
        publishDlq: { visible: 1, inFlight: 0, delayed: 0 },
        delivery: { visible: 0, inFlight: 0, delayed: 0 },
        deliveryDlq: { visible: 0, inFlight: 0, delayed: 0 },
      });
      expect(report.connections).to.equal(1);
      expect(JSON.parse((await get(`${system.outputs.demoUrl}config.json`)).body)).to.include({ authRequired: false });
      expect(await get(url, 'HEAD')).to.deep.equal({ status: 200, body: '' });
      expect((await get(url, 'POST')).status).to.equal(405);
    } finally {
      await client.close();
      aws.destroy();
    }
  });

  it('503 degraded when an endpoint stops answering, naming it', async () => {
    await system.events.close();
    const { status, body } = await get(url);
    expect(status).to.equal(503);
    const report = JSON.parse(body);
    expect(report.status).to.equal('degraded');
    expect(report.endpoints.eventBridge).to.include({ up: false });
    expect(report.endpoints.sqs).to.include({ up: true });
  });

  it('503 stopping from the moment stop() begins; POST /publish is refused (503) meanwhile', async () => {
    // Hold the stop open: the pollers finish the batch in hand first, and that batch's post to
    // the subscriber is held by the management API's latency until the post times out (2 s).
    const client = await openSocket(system.outputs.websocketUrl);
    await client.request({ action: 'subscribe', topics: ['health/held'] });
    system.gateway.setFaults({ latencyMs: 60_000 });
    await sendEnvelope(system.outputs, { topic: 'health/held', data: 1 });
    await eventually(() => system.gateway.stats().posts >= 1, 'the post to be held');

    const stopped = system.stop();
    expect(await system.health()).to.deep.equal({ status: 'stopping' });
    expect(await get(url)).to.deep.equal({ status: 503, body: '{"status":"stopping"}' });
    const publish = await fetch(`${system.outputs.demoUrl}publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"t","data":1}' });
    expect(publish.status).to.equal(503);
    expect(await publish.json()).to.deep.equal({ error: 'the local system is stopping' });
    await stopped;
  });
});
