/** Local gateway: virtual connections go through every step a socket does; close() leaves nothing behind. */
import { DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { expect } from 'chai';
import { MOCK_ROUTES } from '../../protocol/routes';
import { ConnectRejectedError, startGateway } from '../../local/gateway';
import { Client, Gateways, Recorder, echoRoutes, managementClient, waitFor } from './gateway-helpers';

describe('local gateway: virtual connections', () => {
  const gateways = new Gateways();
  after(() => gateways.closeAll());

  it('runs the authorizer and $connect with the given query and headers, routes messages and takes posts', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({
      ...echoRoutes(rec),
      mockRoutes: MOCK_ROUTES,
      authorizer: rec.handler('authorizer', (e) => ({
        principalId: e.queryStringParameters.token,
        policyDocument: { Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: e.methodArn }] },
        context: { principal: e.queryStringParameters.token },
      })),
    });
    const sdk = managementClient(gw.managementEndpoint);
    const v = await gw.connectVirtual({ query: { token: 'alice' }, headers: { 'User-Agent': 'bench' } });
    expect(v.connectionId).to.match(/^[A-Za-z0-9_-]{15}=$/);
    const [connect] = rec.of('$connect');
    expect(connect.queryStringParameters).to.deep.equal({ token: 'alice' });
    expect(connect.headers['User-Agent']).to.equal('bench');
    expect(connect.requestContext.authorizer).to.deep.equal({ principalId: 'alice', principal: 'alice' });
    expect(rec.of('authorizer')[0].queryStringParameters).to.deep.equal({ token: 'alice' });

    expect(await v.send('hello')).to.equal('echo:hello');
    expect(await v.send('{"action":"ping"}')).to.equal('{"type":"pong"}');
    expect(rec.of('$default')[0].requestContext.authorizer.principal).to.equal('alice');

    const seen: string[] = [];
    v.onMessage((data) => seen.push(data));
    await sdk.send(new PostToConnectionCommand({ ConnectionId: v.connectionId, Data: Buffer.from('pushed') }));
    expect(v.received).to.deep.equal(['echo:hello', '{"type":"pong"}', 'pushed']);
    expect(seen).to.deep.equal(['pushed']);
    const info = await sdk.send(new GetConnectionCommand({ ConnectionId: v.connectionId }));
    expect(info.Identity).to.deep.equal({ SourceIp: '127.0.0.1', UserAgent: 'bench' });
    sdk.destroy();
    await v.close();
  });

  it('rejects with ConnectRejectedError carrying the status when the authorizer or $connect refuses', async () => {
    const gw = await gateways.start({
      routes: { $connect: async (e) => ({ statusCode: e.queryStringParameters?.ok ? 200 : 429, body: 'slow down' }) },
      twoWayRoutes: new Set(),
    });
    let error: unknown;
    try {
      await gw.connectVirtual();
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ConnectRejectedError);
    expect((error as ConnectRejectedError).statusCode).to.equal(429);
    expect((error as ConnectRejectedError).body).to.equal('slow down');
    expect(gw.stats().connections).to.equal(0);
    await (await gw.connectVirtual({ query: { ok: '1' } })).close();
  });

  it('runs $disconnect with the client\'s code on close(), and 1000 after a DELETE; sends after that fail', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    const sdk = managementClient(gw.managementEndpoint);
    const a = await gw.connectVirtual();
    await a.close(4002, 'done');
    expect(rec.disconnects(a.connectionId)[0].requestContext).to.include({ disconnectStatusCode: 4002, disconnectReason: 'done' });
    expect(a.closed).to.deep.equal({ code: 4002, reason: 'done' });

    const b = await gw.connectVirtual();
    const closes: unknown[] = [];
    b.onClose((info) => closes.push(info));
    await sdk.send(new DeleteConnectionCommand({ ConnectionId: b.connectionId }));
    await rec.waitForDisconnect(b.connectionId);
    expect(closes).to.deep.equal([{ code: 1000, reason: 'Connection Closed Normally' }]);
    let error: unknown;
    try {
      await b.send('too late');
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.match(/is closed/);
    expect(() => b.close(1006)).to.throw(RangeError);
    expect(gw.stats().connections).to.equal(0);
    sdk.destroy();
  });

  it('closes with 1009 on an oversized message and with 1001 when idle, like a socket', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec), maxMessageBytes: 16, idleTimeoutMs: 100 });
    const big = await gw.connectVirtual();
    expect(await big.send('x'.repeat(17))).to.equal(undefined);
    expect(big.closed?.code).to.equal(1009);
    const idle = await gw.connectVirtual();
    const event = await rec.waitForDisconnect(idle.connectionId);
    expect(event.requestContext.disconnectStatusCode).to.equal(1001);
    expect(idle.closed).to.deep.equal({ code: 1001, reason: 'Going away' });
  });

  it('holds thousands of subscribers and fans posts out to them', async () => {
    const gw = await gateways.start({ routes: {}, twoWayRoutes: new Set() });
    const sdk = managementClient(gw.managementEndpoint);
    const subscribers = await Promise.all(Array.from({ length: 2000 }, () => gw.connectVirtual()));
    expect(gw.stats().connections).to.equal(2000);
    const targets = subscribers.filter((_, i) => i % 20 === 0);
    await Promise.all(targets.map((v) => sdk.send(new PostToConnectionCommand({ ConnectionId: v.connectionId, Data: Buffer.from(`to ${v.connectionId}`) }))));
    for (const v of subscribers) expect(v.received).to.deep.equal(targets.includes(v) ? [`to ${v.connectionId}`] : []);
    expect(gw.stats().delivered).to.equal(targets.length);
    sdk.destroy();
  });
});

/** Servers, sockets and timers alive now, by kind. */
function handles(): Record<string, number> {
  const count: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (['Timeout', 'TCPServerWrap', 'TCPSocketWrap', 'Immediate'].includes(kind)) count[kind] = (count[kind] ?? 0) + 1;
  }
  return count;
}

describe('local gateway: close()', () => {
  it('closes sockets (1001) and virtual connections, runs every $disconnect, and leaves no handle or timer behind', async () => {
    // Counted after a turn of the event loop, so mocha's own timer for this test is in the baseline too.
    await new Promise((r) => setImmediate(r));
    const baseline = handles();
    const rec = new Recorder();
    const gw = await startGateway({ ...echoRoutes(rec), idleTimeoutMs: 60_000, faults: { latencyMs: 10 } });
    const sockets = await Promise.all([Client.connect(gw.url), Client.connect(gw.url)]);
    const virtual = await gw.connectVirtual();
    const socketIds = rec.of('$connect').map((e) => e.requestContext.connectionId).filter((id) => id !== virtual.connectionId);
    await gw.close();
    for (const s of sockets) expect(await s.closed).to.deep.equal({ code: 1001, reason: 'Going away' });
    expect(virtual.closed).to.deep.equal({ code: 1001, reason: 'Going away' });
    const disconnected = rec.of('$disconnect').map((e) => e.requestContext.connectionId);
    expect(disconnected.sort()).to.deep.equal([...socketIds, virtual.connectionId].sort());
    expect(rec.of('$disconnect').every((e) => e.requestContext.disconnectStatusCode === 1001)).to.equal(true);
    // The clients' ends of the sockets finish closing a moment later.
    await waitFor(() => JSON.stringify(handles()) === JSON.stringify(baseline) || undefined, 'handles and timers to go').catch(() => undefined);
    expect(handles()).to.deep.equal(baseline);
    await gw.close(); // idempotent
    let error: unknown;
    try {
      await gw.connectVirtual();
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.match(/closing/);
  });
});
