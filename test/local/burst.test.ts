/**
 * Bursts local mode must absorb as API Gateway lets them through (500 new connections a second):
 * no INTERNAL replies and no orphaned rows. Every wait here is for an event (a reply, a
 * $disconnect having run), never for a time.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { startLocal, type LocalSystem } from '../../local/system';
import { eventually, scanTable, sdkClients } from './system-helpers';

/** Opens a real socket and resolves once it is open. */
function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    ws.once('open', () => resolve(ws));
  });
}

/** Sends one frame and resolves with the next frame the socket receives, parsed. */
function request(ws: WebSocket, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.send(JSON.stringify(body));
  });
}

describe('local mode under bursts (a Lambda environment per concurrent invocation)', function () {
  // ~20,000 DynamoDB calls through the real SDK against dynalite, in this one process: bound by
  // CPU, not by a race (measured 100-230 s for the 2,000-client case on 2 busy cores).
  this.timeout(600_000);
  let system: LocalSystem | undefined;
  let aws: ReturnType<typeof sdkClients> | undefined;
  const problems: string[] = [];

  beforeEach(async () => {
    problems.length = 0;
    system = await startLocal({ quiet: false, logLevel: 'SILENT', log: (line) => problems.push(line) });
    aws = sdkClients(system.outputs);
  });
  afterEach(async () => {
    aws?.destroy();
    await system?.stop();
  });

  it('200 simultaneous subscribes all succeed (no INTERNAL)', async () => {
    const { websocketUrl, tableName } = system!.outputs;
    const sockets = await Promise.all(Array.from({ length: 200 }, () => open(websocketUrl)));
    try {
      const replies = await Promise.all(sockets.map((ws, i) => request(ws, { action: 'subscribe', topics: [`burst/${i % 10}`, 'burst/all'] })));
      const failed = replies.filter((r) => r.type !== 'subscribed');
      expect(failed, JSON.stringify(failed.slice(0, 3))).to.deep.equal([]);
      expect(problems).to.deep.equal([]);
      const rows = await scanTable(aws!.dynamodb, tableName);
      expect(rows.filter((r) => r.sk.S === 'burst/all')).to.have.length(200);
      // They ran side by side, each in its own environment, within the cap.
      const subscribe = system!.functions.subscribe!.stats();
      expect(subscribe.environmentsCreated).to.be.greaterThan(1).and.at.most(system!.functions.subscribe!.maxConcurrency);
    } finally {
      await Promise.all(sockets.map((ws) => new Promise((resolve) => (ws.readyState === ws.CLOSED ? resolve(undefined) : (ws.once('close', resolve), ws.close())))));
    }
  });

  it('2,000 clients connecting at ~500/s, subscribing, then all closing at once leave no row behind', async () => {
    const { websocketUrl, tableName } = system!.outputs;
    const clients: Array<Promise<{ ws?: WebSocket; reply: string }>> = [];
    for (let i = 0; i < 2000; i++) {
      clients.push(
        open(websocketUrl).then(
          async (ws) => ({ ws, reply: JSON.stringify(await request(ws, { action: 'subscribe', topics: [`crowd/${i % 50}`] })) }),
          (error: Error) => ({ reply: `connect failed: ${error.message}` }),
        ),
      );
      // 10 connects every 20 ms: API Gateway's default 500 new connections a second.
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const settled = await Promise.all(clients);
    const failed = settled.filter((c) => !c.reply.startsWith('{"type":"subscribed"'));
    expect(failed.slice(0, 3).map((c) => c.reply)).to.deep.equal([]);
    expect(await scanTable(aws!.dynamodb, tableName)).to.have.length(4000);

    await Promise.all(settled.map(({ ws }) => new Promise((resolve) => (ws!.once('close', resolve), ws!.close()))));
    // Every $disconnect has run once the gateway holds no connection and the function is idle.
    const disconnect = system!.functions.disconnect!;
    await eventually(() => {
      const s = disconnect.stats();
      return system!.gateway.stats().connections === 0 && s.invocations === 2000 && s.running === 0 && s.waiting === 0;
    }, 'every $disconnect to run', 500_000);
    expect(problems.slice(0, 3)).to.deep.equal([]);
    expect(await scanTable(aws!.dynamodb, tableName)).to.deep.equal([]);
  });
});
