/**
 * A client that stops reading must not make the gateway buffer without end: past a bound the
 * gateway closes it (1008, $disconnect runs) and answers its posts 410, as a server must.
 */
import { expect } from 'chai';
import { GoneException, PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Gateway } from '../../local/gateway';
import { SEND_BUFFER_LIMIT_BYTES, SLOW_CONSUMER_CLOSE } from '../../local/gateway/socket';
import { Client, Gateways, Recorder, echoRoutes, lastConnectionId, managementClient } from './gateway-helpers';

const FRAME = Buffer.alloc(90 * 1024, 'x');
const FRAMES = 600;
/** What the kernel's socket buffers may hold on top of the gateway's own (loopback, autotuned). */
const KERNEL_ALLOWANCE_BYTES = 32 * 1024 * 1024;

/** Posts FRAMES frames one after the other; the answers, in order. */
async function postAll(sdk: ApiGatewayManagementApiClient, id: string): Promise<Array<'ok' | 'gone'>> {
  const answers: Array<'ok' | 'gone'> = [];
  for (let i = 0; i < FRAMES; i++) {
    try {
      await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: FRAME }));
      answers.push('ok');
    } catch (error) {
      if (!(error instanceof GoneException)) throw error;
      answers.push('gone');
    }
  }
  return answers;
}

describe('local gateway: a client that stops reading', function () {
  this.timeout(60_000);
  const gateways = new Gateways();
  let gw: Gateway;
  let rec: Recorder;
  let sdk: ApiGatewayManagementApiClient;

  beforeEach(async () => {
    rec = new Recorder();
    gw = await gateways.start(echoRoutes(rec));
    sdk = managementClient(gw.managementEndpoint);
  });
  afterEach(async () => {
    sdk.destroy();
    await gateways.closeAll();
  });

  it('is closed (1008) once its send buffer passes the bound; $disconnect runs and posts answer 410', async () => {
    const client = await Client.connect(gw.url);
    const id = lastConnectionId(rec);
    // The client's process stops reading its socket: frames pile up in the kernel, then in the gateway.
    (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const answers = await postAll(sdk, id);
    const accepted = answers.indexOf('gone');
    expect(accepted, 'a post answered 410').to.be.greaterThan(0);
    // Once gone, gone for good; and far fewer than all 600 frames (54 MB) were taken in.
    expect(answers.slice(accepted).every((a) => a === 'gone')).to.equal(true);
    expect(accepted * FRAME.length).to.be.below(SEND_BUFFER_LIMIT_BYTES + KERNEL_ALLOWANCE_BYTES);

    const disconnect = await rec.waitForDisconnect(id);
    expect(disconnect.requestContext).to.include({ disconnectStatusCode: SLOW_CONSUMER_CLOSE.code, disconnectReason: SLOW_CONSUMER_CLOSE.reason });
    expect(gw.stats().connections).to.equal(0);
    // Reading again, the client learns the connection is over (the close frame, or the cut socket).
    (client.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await client.closed).code).to.be.oneOf([1008, 1006]);
  });

  it('a client that reads gets every frame: the bound never closes it', async () => {
    const client = await Client.connect(gw.url);
    const id = lastConnectionId(rec);
    const answers = await postAll(sdk, id);
    expect(answers.every((a) => a === 'ok')).to.equal(true);
    await new Promise<void>((resolve) => {
      const check = () => (client.messages.length === FRAMES ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(rec.disconnects(id)).to.deep.equal([]);
    client.ws.close();
    await client.closed;
  });
});
