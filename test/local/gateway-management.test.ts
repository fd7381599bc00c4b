/** Local gateway: the @connections management API, through the real @aws-sdk/client-apigatewaymanagementapi. */
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { expect } from 'chai';
import { MAX_MESSAGE_BYTES } from '../../protocol/limits';
import type { Gateway } from '../../local/gateway';
import { Client, Gateways, Recorder, echoRoutes, lastConnectionId, managementClient, sdkFailure } from './gateway-helpers';

describe('local gateway: @connections management API', () => {
  const gateways = new Gateways();
  const clients: ApiGatewayManagementApiClient[] = [];
  let gw: Gateway;
  let rec: Recorder;
  let sdk: ApiGatewayManagementApiClient;

  before(async () => {
    rec = new Recorder();
    gw = await gateways.start({ ...echoRoutes(rec) });
    sdk = managementClient(gw.managementEndpoint);
    clients.push(sdk);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await gateways.closeAll();
  });

  async function connected(headers?: Record<string, string>): Promise<{ client: Client; id: string }> {
    const client = await Client.connect(gw.url, undefined, { headers });
    return { client, id: lastConnectionId(rec) };
  }

  it('POST sends the body to the client as a text frame (200)', async () => {
    const { client, id } = await connected();
    const before = gw.stats();
    const answer = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{"type":"message","data":"é"}') }));
    expect(answer.$metadata.httpStatusCode).to.equal(200);
    expect(await client.nth(0)).to.equal('{"type":"message","data":"é"}');
    expect(gw.stats().posts - before.posts).to.equal(1);
    expect(gw.stats().delivered - before.delivered).to.equal(1);
    client.ws.close();
  });

  it('decodes URL-encoded ids in the path (the SDK sends = as %3D); unsigned requests are accepted too', async () => {
    const { client, id } = await connected();
    expect(id.endsWith('=')).to.equal(true);
    const response = await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}`, { method: 'POST', body: 'raw' });
    expect(response.status).to.equal(200);
    expect(await client.nth(0)).to.equal('raw');
    client.ws.close();
  });

  it('takes a body of exactly 128 KB and answers a larger one with 413 PayloadTooLargeException, leaving the connection open', async () => {
    const { client, id } = await connected();
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(MAX_MESSAGE_BYTES, 'a') }));
    expect((await client.nth(0)).length).to.equal(MAX_MESSAGE_BYTES);
    const error = await sdkFailure(sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(MAX_MESSAGE_BYTES + 1, 'b') })));
    expect(error).to.be.instanceOf(PayloadTooLargeException);
    expect(error.name).to.equal('PayloadTooLargeException');
    expect(error.$metadata.httpStatusCode).to.equal(413);
    expect(client.ws.readyState).to.equal(client.ws.OPEN);
    expect(client.messages).to.have.length(1);
    client.ws.close();
  });

  it('GET answers connectedAt, identity and lastActiveAt (ISO-8601)', async () => {
    const { client, id } = await connected({ 'User-Agent': 'browser/9' });
    const answer = await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(answer.ConnectedAt).to.be.instanceOf(Date);
    expect(answer.ConnectedAt!.getTime()).to.equal(rec.of('$connect').at(-1).requestContext.connectedAt);
    expect(answer.LastActiveAt).to.be.instanceOf(Date);
    expect(answer.Identity).to.deep.equal({ SourceIp: '127.0.0.1', UserAgent: 'browser/9' });
    const raw = await (await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}`)).json();
    expect(raw.connectedAt).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(raw.lastActiveAt).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    client.ws.close();
  });

  it('moves lastActiveAt when the client sends a message', async () => {
    const { client, id } = await connected();
    const first = await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
    await new Promise((r) => setTimeout(r, 5));
    client.ws.send('hi');
    await client.nth(0);
    const second = await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(second.LastActiveAt!.getTime()).to.be.greaterThan(first.LastActiveAt!.getTime());
    expect(second.ConnectedAt!.getTime()).to.equal(first.ConnectedAt!.getTime());
    client.ws.close();
  });

  it('DELETE answers 204, then closes the socket with 1000 and runs $disconnect', async () => {
    const { client, id } = await connected();
    const answer = await sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(answer.$metadata.httpStatusCode).to.equal(204);
    expect((await client.closed).code).to.equal(1000);
    const event = await rec.waitForDisconnect(id);
    expect(event.requestContext).to.include({ disconnectStatusCode: 1000, disconnectReason: 'Connection Closed Normally' });
  });

  it('answers 410 GoneException, with x-amzn-ErrorType and a JSON message, for unknown and closed ids', async () => {
    const { client, id } = await connected();
    client.ws.close();
    await rec.waitForDisconnect(id);
    for (const unknown of [id, 'AAAAAAAAAAAAAAA=', '%E0%A4%A']) {
      for (const command of [
        new PostToConnectionCommand({ ConnectionId: unknown, Data: Buffer.from('x') }),
        new GetConnectionCommand({ ConnectionId: unknown }),
        new DeleteConnectionCommand({ ConnectionId: unknown }),
      ]) {
        const error = await sdkFailure(sdk.send(command as any));
        expect(error, `${command.constructor.name} ${unknown}`).to.be.instanceOf(GoneException);
        expect(error.name).to.equal('GoneException');
        expect(error.$metadata.httpStatusCode).to.equal(410);
      }
    }
    const raw = await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}`, { method: 'POST', body: 'x' });
    expect(raw.status).to.equal(410);
    expect(raw.headers.get('x-amzn-errortype')).to.equal('GoneException');
    expect(raw.headers.get('content-type')).to.equal('application/json');
    expect((await raw.json()).message).to.be.a('string').and.include(id);
  });

  it('answers 403 ForbiddenException for a wrong stage or a path outside @connections', async () => {
    const { client, id } = await connected();
    const wrongStage = managementClient(gw.managementEndpoint.replace(/\/local$/, '/prod'));
    clients.push(wrongStage);
    const error = await sdkFailure(wrongStage.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('x') })));
    expect(error).to.be.instanceOf(ForbiddenException);
    expect(error.$metadata.httpStatusCode).to.equal(403);
    const raw = await fetch(`${gw.managementEndpoint}/somewhere-else`);
    expect(raw.status).to.equal(403);
    expect(raw.headers.get('x-amzn-errortype')).to.equal('ForbiddenException');
    expect(await raw.json()).to.deep.equal({ message: 'Forbidden' });
    expect(client.messages).to.deep.equal([]);
    client.ws.close();
  });
});
