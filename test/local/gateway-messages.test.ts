/** Local gateway: route selection, route responses, mock routes, error frames, limits and timeouts. */
import { expect } from 'chai';
import { MAX_MESSAGE_BYTES } from '../../protocol/limits';
import { MOCK_ROUTES } from '../../protocol/routes';
import { Client, Gateways, Recorder, lastConnectionId, waitFor } from './gateway-helpers';

/** API Gateway's own error frame, spacing included. */
const ERROR_FRAME = /^\{"message": "(?<message>[^"]+)", "connectionId":"(?<connectionId>[A-Za-z0-9_-]{15}=)", "requestId":"(?<requestId>[A-Za-z0-9_-]{15}=)"\}$/;

describe('local gateway: messages', () => {
  const gateways = new Gateways();
  after(() => gateways.closeAll());

  /** subscribe (two-way), notify (one-way), $default (two-way), ping (mock), all recorded. */
  async function routedGateway(rec: Recorder, extra: { withDefault?: boolean; maxMessageBytes?: number } = {}) {
    return gateways.start({
      routes: {
        $connect: rec.handler('$connect'),
        $disconnect: rec.handler('$disconnect'),
        subscribe: rec.handler('subscribe', (e) => ({ statusCode: 200, body: JSON.stringify({ type: 'subscribed', got: JSON.parse(e.body) }) })),
        notify: rec.handler('notify', () => ({ statusCode: 200, body: 'never sent: notify is one-way' })),
        explode: rec.handler('explode', () => {
          throw new Error('handler bug');
        }),
        ...(extra.withDefault === false ? {} : { $default: rec.handler('$default', (e) => ({ statusCode: 200, body: `default:${e.body}` })) }),
      },
      twoWayRoutes: new Set(['subscribe', '$default', 'explode']),
      mockRoutes: MOCK_ROUTES,
      ...(extra.maxMessageBytes ? { maxMessageBytes: extra.maxMessageBytes } : {}),
    });
  }

  it('selects the route by the JSON body\'s action and sends a MESSAGE event of AWS shape', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    const body = JSON.stringify({ action: 'subscribe', topics: ['a'] });
    client.ws.send(body);
    expect(JSON.parse(await client.nth(0))).to.deep.equal({ type: 'subscribed', got: { action: 'subscribe', topics: ['a'] } });
    const [event] = rec.of('subscribe');
    expect(event).to.have.all.keys('requestContext', 'body', 'isBase64Encoded');
    expect(event.body).to.equal(body);
    expect(event.isBase64Encoded).to.equal(false);
    const rc = event.requestContext;
    expect(rc).to.include({ routeKey: 'subscribe', eventType: 'MESSAGE', messageDirection: 'IN', stage: 'local', connectionId: lastConnectionId(rec) });
    expect(rc.messageId).to.match(/^[A-Za-z0-9_-]{15}=$/);
    expect(rc.requestId).to.match(/^[A-Za-z0-9_-]{15}=$/);
    expect(rc.identity.sourceIp).to.equal('127.0.0.1');
    expect(rc).to.include.keys('connectedAt', 'requestTimeEpoch', 'requestTime', 'extendedRequestId', 'domainName', 'apiId');
    client.ws.close();
  });

  it('sends non-JSON text, JSON without a string action, unknown actions and reserved $ keys to $default', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    const bodies = ['hello', '[1,2]', '{"action":42}', '{"no":"action"}', '{"action":"nope"}', '{"action":"$connect"}', '{"action":"subscribe"', '  '];
    for (const [i, body] of bodies.entries()) {
      client.ws.send(body);
      expect(await client.nth(i)).to.equal(`default:${body}`);
    }
    expect(rec.of('$default').map((e) => e.requestContext.routeKey)).to.deep.equal(bodies.map(() => '$default'));
    expect(rec.of('subscribe')).to.have.length(0);
    client.ws.close();
  });

  it('routes only by own route keys: actions named after built-in object properties go to $default', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    const names = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'toLocaleString'];
    const bodies = names.map((action) => JSON.stringify({ action }));
    for (const [i, body] of bodies.entries()) {
      client.ws.send(body);
      expect(await client.nth(i), body).to.equal(`default:${body}`);
    }
    expect(rec.of('$default').map((e) => e.body)).to.deep.equal(bodies);
    client.ws.close();

    // Without a $default route they get API Gateway's "Forbidden", never a handler's failure.
    const bare = await Client.connect((await routedGateway(new Recorder(), { withDefault: false })).url);
    for (const [i, body] of bodies.entries()) {
      bare.ws.send(body);
      expect(ERROR_FRAME.exec(await bare.nth(i))?.groups?.message, body).to.equal('Forbidden');
    }
    bare.ws.close();
  });

  it('answers {"message": "Forbidden", ...} when nothing matches and there is no $default route', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec, { withDefault: false });
    const client = await Client.connect(gw.url);
    client.ws.send('{"action":"unknown"}');
    const frame = ERROR_FRAME.exec(await client.nth(0));
    expect(frame?.groups).to.include({ message: 'Forbidden', connectionId: lastConnectionId(rec) });
    expect(client.ws.readyState).to.equal(client.ws.OPEN);
    client.ws.close();
  });

  it('sends a two-way route\'s body back to the sender only, and nothing for a one-way route', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const [sender, other] = [await Client.connect(gw.url), await Client.connect(gw.url)];
    sender.ws.send('{"action":"notify"}');
    await waitFor(() => rec.of('notify').length === 1, 'notify handler');
    sender.ws.send('{"action":"subscribe","topics":["x"]}');
    expect(JSON.parse(await sender.nth(0)).type).to.equal('subscribed');
    // The one-way reply never came, and the other client got nothing at all.
    expect(sender.messages).to.have.length(1);
    expect(other.messages).to.deep.equal([]);
    sender.ws.close();
    other.ws.close();
  });

  it('answers mock routes (ping) with their response template without calling any handler', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    client.ws.send('{"action":"ping"}');
    expect(await client.nth(0)).to.equal(MOCK_ROUTES[0].responseTemplate);
    expect(rec.events.map((e) => e.routeKey)).to.deep.equal(['$connect']);
    client.ws.close();
  });

  it('answers {"message": "Internal server error", connectionId, requestId} when the handler throws, and keeps the connection', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    client.ws.send('{"action":"explode"}');
    const frame = ERROR_FRAME.exec(await client.nth(0));
    expect(frame?.groups?.message).to.equal('Internal server error');
    expect(frame?.groups?.connectionId).to.equal(lastConnectionId(rec));
    expect(frame?.groups?.requestId).to.equal(rec.of('explode')[0].requestContext.requestId);
    client.ws.send('{"action":"ping"}');
    expect(await client.nth(1)).to.equal('{"type":"pong"}');
    client.ws.close();
  });

  it('closes with 1003 on a binary frame and reports it to $disconnect', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.closed).code).to.equal(1003);
    const event = await rec.waitForDisconnect(lastConnectionId(rec));
    expect(event.requestContext.disconnectStatusCode).to.equal(1003);
    expect(rec.of('$default')).to.have.length(0);
  });

  it('takes a message of exactly 128 KB and closes with 1009 on a larger one (default limit)', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec);
    const client = await Client.connect(gw.url);
    const biggest = 'x'.repeat(MAX_MESSAGE_BYTES);
    client.ws.send(biggest);
    expect(await client.nth(0)).to.equal(`default:${biggest}`);
    client.ws.send('y'.repeat(MAX_MESSAGE_BYTES + 1));
    expect((await client.closed).code).to.equal(1009);
    const event = await rec.waitForDisconnect(lastConnectionId(rec));
    expect(event.requestContext).to.include({ disconnectStatusCode: 1009, disconnectReason: 'Message too big' });
    expect(rec.of('$default')).to.have.length(1);
  });

  it('counts bytes, not characters, against a configured maxMessageBytes', async () => {
    const rec = new Recorder();
    const gw = await routedGateway(rec, { maxMessageBytes: 10 });
    const client = await Client.connect(gw.url);
    client.ws.send('é'.repeat(5)); // 10 bytes
    expect(await client.nth(0)).to.equal(`default:${'é'.repeat(5)}`);
    client.ws.send('é'.repeat(6)); // 6 characters, 12 bytes
    expect((await client.closed).code).to.equal(1009);
  });

  it('closes an idle connection with 1001 "Going away" and runs $disconnect', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ routes: { $connect: rec.handler('$connect'), $disconnect: rec.handler('$disconnect') }, twoWayRoutes: new Set(), idleTimeoutMs: 150 });
    const client = await Client.connect(gw.url);
    const closed = await client.closed;
    expect(closed).to.deep.equal({ code: 1001, reason: 'Going away' });
    const event = await rec.waitForDisconnect(lastConnectionId(rec));
    expect(event.requestContext).to.include({ disconnectStatusCode: 1001, disconnectReason: 'Going away' });
    expect(gw.stats().connections).to.equal(0);
  });

  it('closes a busy connection at the maximum duration with 1001, however active it is', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({
      routes: { $disconnect: rec.handler('$disconnect') },
      twoWayRoutes: new Set(),
      mockRoutes: MOCK_ROUTES,
      maxConnectionMs: 200,
    });
    const client = await Client.connect(gw.url);
    const chatter = setInterval(() => client.ws.readyState === client.ws.OPEN && client.ws.send('{"action":"ping"}'), 20);
    const closed = await client.closed;
    clearInterval(chatter);
    expect(closed.code).to.equal(1001);
    expect(client.messages.length).to.be.greaterThan(0);
    await waitFor(() => rec.of('$disconnect').length === 1, '$disconnect');
    expect(rec.of('$disconnect')[0].requestContext.disconnectStatusCode).to.equal(1001);
  });

  it('refuses a route that is not a function, or a missing twoWayRoutes, before listening', async () => {
    const attempts: Array<[object, RegExp]> = [
      [{ routes: { $default: 'handler.js' }, twoWayRoutes: new Set() }, /route \$default is not a function/],
      [{ routes: {} }, /twoWayRoutes/],
    ];
    for (const [options, message] of attempts) {
      let error: unknown;
      try {
        await gateways.start(options as never);
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(message);
    }
  });

  it('refuses nonsensical limits with a clear error', async () => {
    for (const bad of [{ idleTimeoutMs: 0 }, { maxConnectionMs: -1 }, { maxMessageBytes: Number.NaN }]) {
      let error: unknown;
      try {
        await gateways.start({ routes: {}, twoWayRoutes: new Set(), ...bad });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(bad)).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.match(/must be a number > 0/);
    }
  });
});
