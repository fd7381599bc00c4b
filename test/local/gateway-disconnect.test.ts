/** Local gateway: $disconnect runs once per connection, whatever ends it, after the connection left the registry. */
import { DeleteConnectionCommand, GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { expect } from 'chai';
import WebSocket from 'ws';
import { Client, Gateways, Recorder, echoRoutes, lastConnectionId, managementClient, sleep, waitFor } from './gateway-helpers';

describe('local gateway: $disconnect', () => {
  const gateways = new Gateways();
  const sdk = { client: undefined as ReturnType<typeof managementClient> | undefined };
  after(async () => {
    sdk.client?.destroy();
    await gateways.closeAll();
  });

  it('sends a DISCONNECT event of AWS shape with the client\'s close code and reason', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    const client = await Client.connect(gw.url, undefined, { headers: { 'User-Agent': 'ua/1' } });
    const id = lastConnectionId(rec);
    client.ws.close(4000, 'bye now');
    const event = await rec.waitForDisconnect(id);
    expect(event).to.have.all.keys('headers', 'multiValueHeaders', 'requestContext', 'isBase64Encoded');
    expect(event.headers).to.deep.equal({ Host: `127.0.0.1:${gw.port}`, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
    expect(event.multiValueHeaders.Host).to.deep.equal([`127.0.0.1:${gw.port}`]);
    expect(event.isBase64Encoded).to.equal(false);
    expect(event.requestContext).to.include({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      connectionId: id,
      disconnectStatusCode: 4000,
      disconnectReason: 'bye now',
      messageDirection: 'IN',
    });
    expect(event.requestContext.identity).to.deep.equal({ userAgent: 'ua/1', sourceIp: '127.0.0.1' });
    expect(event.requestContext.connectedAt).to.equal(rec.of('$connect')[0].requestContext.connectedAt);
  });

  it('reports 1005 "Client-side close frame status not set" for a close frame without a code', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    const client = await Client.connect(gw.url);
    client.ws.close();
    const event = await rec.waitForDisconnect(lastConnectionId(rec));
    expect(event.requestContext).to.include({ disconnectStatusCode: 1005, disconnectReason: 'Client-side close frame status not set' });
  });

  it('reports 1006 when the TCP connection dies without a close frame', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    const client = await Client.connect(gw.url);
    client.ws.terminate();
    const event = await rec.waitForDisconnect(lastConnectionId(rec));
    expect(event.requestContext.disconnectStatusCode).to.equal(1006);
    expect(gw.stats().connections).to.equal(0);
  });

  it('runs once when a server-side DELETE and the client\'s own close race', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    sdk.client = managementClient(gw.managementEndpoint);
    const client = await Client.connect(gw.url);
    const id = lastConnectionId(rec);
    const deleted = sdk.client.send(new DeleteConnectionCommand({ ConnectionId: id }));
    client.ws.close(4001, 'me too');
    // Either may win, as on AWS: the DELETE closes the socket (204), or the client's close got
    // there first and the connection is already gone (410).
    const answer = await deleted.then(
      () => 'deleted',
      (err: Error) => err.name,
    );
    expect(answer).to.be.oneOf(['deleted', 'GoneException']);
    expect((await client.closed).code).to.be.oneOf([1000, 4001]);
    await rec.waitForDisconnect(id);
    await sleep(50);
    expect(rec.disconnects(id)).to.have.length(1);
  });

  it('runs after the connection left the registry: a GetConnection from inside $disconnect is Gone', async () => {
    const seen: unknown[] = [];
    let client: ReturnType<typeof managementClient> | undefined;
    const gw = await gateways.start({
      routes: {
        $disconnect: async (e) => {
          try {
            await client!.send(new GetConnectionCommand({ ConnectionId: e.requestContext.connectionId }));
            seen.push('found');
          } catch (error) {
            seen.push(error);
          }
          return { statusCode: 200 };
        },
      },
      twoWayRoutes: new Set(),
    });
    client = managementClient(gw.managementEndpoint);
    const ws = await Client.connect(gw.url);
    ws.ws.close(1000);
    await waitFor(() => seen.length === 1, '$disconnect');
    expect(seen[0]).to.be.instanceOf(GoneException);
    client.destroy();
  });

  it('still runs when $connect accepted a client that left before the upgrade could complete', async () => {
    const rec = new Recorder();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gw = await gateways.start({
      routes: {
        $connect: rec.handler('$connect', async () => {
          await gate;
          return { statusCode: 200 };
        }),
        $disconnect: rec.handler('$disconnect'),
      },
      twoWayRoutes: new Set(),
    });
    const client = new Client(new WebSocket(gw.url));
    client.ws.on('error', () => undefined);
    await waitFor(() => rec.of('$connect').length === 1, '$connect');
    client.ws.terminate();
    await sleep(20);
    release();
    const event = await rec.waitForDisconnect(lastConnectionId(rec));
    expect(event.requestContext.disconnectStatusCode).to.equal(1006);
    expect(gw.stats().connections).to.equal(0);
  });

  it('reports a throwing $disconnect handler without affecting anything else', async () => {
    const failures: string[] = [];
    const rec = new Recorder();
    const gw = await gateways.start({
      routes: {
        $connect: rec.handler('$connect'),
        $disconnect: async () => {
          throw new Error('cleanup failed');
        },
      },
      twoWayRoutes: new Set(),
      onHandlerError: (error, routeKey, connectionId) => failures.push(`${routeKey} ${connectionId} ${(error as Error).message}`),
    });
    const client = await Client.connect(gw.url);
    client.ws.close();
    await waitFor(() => failures.length === 1, 'the failure report');
    expect(failures[0]).to.equal(`$disconnect ${lastConnectionId(rec)} cleanup failed`);
  });
});
