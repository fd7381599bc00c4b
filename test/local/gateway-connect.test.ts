/** Local gateway: the handshake — authorizer, $connect before the upgrade, ids and CONNECT events. */
import { expect } from 'chai';
import WebSocket from 'ws';
import { AUTH_CONTEXT, SUBPROTOCOL } from '../../protocol/auth';
import { AUTHORIZER_RESULT_LIMIT_BYTES, authorizerResultBytes } from '../../protocol/authorizer-limits';
import { Client, Gateways, Recorder, echoRoutes, lastConnectionId, refusedHandshake, waitFor } from './gateway-helpers';

const allow = (principalId: string, resource: string, context?: Record<string, unknown>) => ({
  principalId,
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resource }] },
  ...(context ? { context } : {}),
});
const deny = (resource: string) => ({
  principalId: 'someone',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: resource }] },
});

describe('local gateway: handshake', () => {
  const gateways = new Gateways();
  after(() => gateways.closeAll());

  it('runs $connect before the upgrade completes: the client is not open while $connect is pending', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gw = await gateways.start({
      routes: {
        $connect: async () => {
          order.push('$connect started');
          await gate;
          order.push('$connect finished');
          return { statusCode: 200 };
        },
      },
      twoWayRoutes: new Set(),
    });
    const client = new Client(new WebSocket(gw.url));
    client.opened.then(() => order.push('client open'));
    await waitFor(() => order.includes('$connect started'), '$connect to start');
    await new Promise((r) => setTimeout(r, 50));
    expect(order).to.deep.equal(['$connect started']);
    expect(client.ws.readyState).to.equal(WebSocket.CONNECTING);
    release();
    await client.opened;
    expect(order).to.deep.equal(['$connect started', '$connect finished', 'client open']);
    client.ws.close();
  });

  it('fails the handshake with the status of a non-2xx $connect result, and never runs $disconnect for it', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({
      routes: {
        $connect: rec.handler('$connect', (e) => ({ statusCode: Number(e.queryStringParameters.status), body: 'no thanks' })),
        $disconnect: rec.handler('$disconnect'),
      },
      twoWayRoutes: new Set(),
    });
    for (const status of [401, 418, 302, 503]) {
      const refused = await refusedHandshake(`${gw.url}?status=${status}`);
      expect(refused.status).to.equal(status);
      expect(refused.body).to.equal('no thanks');
    }
    const ok = await Client.connect(`${gw.url}?status=201`);
    expect(gw.stats().connections).to.equal(1);
    ok.ws.close();
    await rec.waitForDisconnect(lastConnectionId(rec));
    expect(rec.of('$disconnect')).to.have.length(1);
  });

  it('answers 502 when $connect throws, as API Gateway does for a failed integration', async () => {
    const gw = await gateways.start({ routes: { $connect: async () => Promise.reject(new Error('boom')) }, twoWayRoutes: new Set() });
    const refused = await refusedHandshake(gw.url);
    expect(refused.status).to.equal(502);
    expect(JSON.parse(refused.body)).to.deep.equal({ message: 'Internal server error' });
  });

  it('accepts every client when there is no $connect route', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ routes: { $default: rec.handler('$default') }, twoWayRoutes: new Set() });
    const client = await Client.connect(gw.url);
    client.ws.send('hi');
    const [event] = await waitFor(() => rec.of('$default').length > 0 && rec.of('$default'), '$default');
    expect(event.requestContext.connectionId).to.match(/^[A-Za-z0-9_-]{15}=$/);
    client.ws.close();
  });

  it('refuses upgrades on any path but /{stage} with 403', async () => {
    const gw = await gateways.start({ routes: {}, twoWayRoutes: new Set() });
    const refused = await refusedHandshake(gw.url.replace(/\/local$/, '/prod'));
    expect(refused.status).to.equal(403);
    expect(JSON.parse(refused.body)).to.deep.equal({ message: 'Forbidden' });
  });

  it('gives connections AWS-shaped ids: 16 characters of base64url ending in a single =', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    const virtual = await Promise.all(Array.from({ length: 200 }, () => gw.connectVirtual()));
    const socket = await Client.connect(gw.url);
    const ids = [...virtual.map((v) => v.connectionId), lastConnectionId(rec)];
    for (const id of ids) {
      expect(id).to.have.length(16);
      expect(id).to.match(/^[A-Za-z0-9_-]{15}=$/);
    }
    expect(new Set(ids).size).to.equal(ids.length);
    socket.ws.close();
    await Promise.all(virtual.map((v) => v.close()));
  });

  it('sends a CONNECT event of AWS shape: headers, multi-value headers and query, requestContext, isBase64Encoded', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec), stage: 'dev', apiId: 'abcde12345' });
    const client = await Client.connect(`${gw.url}?token=abc&tag=a&tag=b`, undefined, { headers: { 'User-Agent': 'gateway-test/1.0', 'X-Custom': 'x1' } });
    const [event] = rec.of('$connect');
    expect(event.isBase64Encoded).to.equal(false);
    expect(event.queryStringParameters).to.deep.equal({ token: 'abc', tag: 'b' });
    expect(event.multiValueQueryStringParameters).to.deep.equal({ token: ['abc'], tag: ['a', 'b'] });
    expect(event.headers).to.include({ Host: `127.0.0.1:${gw.port}`, 'User-Agent': 'gateway-test/1.0', 'X-Custom': 'x1', 'Sec-WebSocket-Version': '13' });
    expect(event.headers).to.include.keys('Sec-WebSocket-Key', 'X-Amzn-Trace-Id', 'X-Forwarded-For', 'X-Forwarded-Port', 'X-Forwarded-Proto');
    expect(event.headers).to.not.have.any.keys('Connection', 'Upgrade');
    expect(event.multiValueHeaders['X-Custom']).to.deep.equal(['x1']);
    expect(event.headers['X-Amzn-Trace-Id']).to.match(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);

    const rc = event.requestContext;
    expect(rc).to.include({
      routeKey: '$connect',
      eventType: 'CONNECT',
      messageDirection: 'IN',
      stage: 'dev',
      apiId: 'abcde12345',
      domainName: `127.0.0.1:${gw.port}`,
    });
    expect(rc.identity).to.deep.equal({ userAgent: 'gateway-test/1.0', sourceIp: '127.0.0.1' });
    expect(rc.requestId).to.equal(rc.extendedRequestId);
    expect(rc.requestId).to.match(/^[A-Za-z0-9_-]{15}=$/);
    expect(rc.requestTime).to.match(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(rc.connectedAt).to.be.a('number');
    expect(rc.requestTimeEpoch).to.be.at.least(rc.connectedAt);
    expect(rc).to.not.have.any.keys('messageId', 'authorizer', 'disconnectStatusCode');
    // domainName and stage rebuild the management endpoint.
    expect(`http://${rc.domainName}/${rc.stage}`).to.equal(gw.managementEndpoint);
    client.ws.close();
  });

  it('leaves the query maps out of the CONNECT event when the URL has no query string', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec) });
    const client = await Client.connect(gw.url);
    const [event] = rec.of('$connect');
    expect(event).to.not.have.any.keys('queryStringParameters', 'multiValueQueryStringParameters');
    expect(event).to.include.keys('headers', 'multiValueHeaders', 'requestContext', 'isBase64Encoded');
    client.ws.close();
  });

  it('gives every handler a Lambda-like context', async () => {
    const rec = new Recorder();
    const gw = await gateways.start({ ...echoRoutes(rec), functionNames: { $connect: 'realtime-connect' } });
    const client = await Client.connect(gw.url);
    const { context } = rec.events[0];
    expect(context.functionName).to.equal('realtime-connect');
    expect(context.awsRequestId).to.match(/^[0-9a-f-]{36}$/);
    expect(context.invokedFunctionArn).to.equal('arn:aws:lambda:us-east-1:000000000000:function:realtime-connect');
    expect(context.getRemainingTimeInMillis()).to.be.a('number').and.greaterThan(0);
    expect(context).to.include.keys('functionVersion', 'memoryLimitInMB', 'logGroupName', 'logStreamName', 'callbackWaitsForEmptyEventLoop');
    client.ws.close();
  });

  describe('subprotocols', () => {
    it('puts the headers of the $connect result, Sec-WebSocket-Protocol included, on the 101 response', async () => {
      const gw = await gateways.start({
        routes: {
          $connect: async (e) => ({
            statusCode: 200,
            headers: { 'Sec-WebSocket-Protocol': SUBPROTOCOL, 'X-Served-By': 'local-gateway' },
            body: String(e.headers['Sec-WebSocket-Protocol']),
          }),
        },
        twoWayRoutes: new Set(),
      });
      const ws = new WebSocket(gw.url, [SUBPROTOCOL, 'bearer.token']);
      const upgradeHeaders = new Promise<Record<string, unknown>>((resolve) => ws.on('upgrade', (res) => resolve(res.headers)));
      const client = new Client(ws);
      await client.opened;
      expect(ws.protocol).to.equal(SUBPROTOCOL);
      expect(await upgradeHeaders).to.include({ 'x-served-by': 'local-gateway', 'sec-websocket-protocol': SUBPROTOCOL });
      ws.close();
    });

    it('still upgrades without the header when subprotocols were offered and $connect echoes none; the client (ws, like a browser) then drops the connection and $disconnect runs', async () => {
      const rec = new Recorder();
      const gw = await gateways.start({ ...echoRoutes(rec) });
      const ws = new WebSocket(gw.url, [SUBPROTOCOL]);
      const failure = await new Promise<Error>((resolve) => ws.on('error', resolve));
      expect(failure.message).to.equal('Server sent no subprotocol');
      const id = lastConnectionId(rec);
      const disconnect = await rec.waitForDisconnect(id);
      expect(disconnect.requestContext.disconnectStatusCode).to.equal(1006);
    });
  });

  describe('authorizer', () => {
    it('passes a REQUEST authorizer event with the methodArn, every header and the query', async () => {
      const rec = new Recorder();
      const gw = await gateways.start({
        ...echoRoutes(rec),
        apiId: 'api0000001',
        authorizer: rec.handler('authorizer', (e) => allow('user-1', e.methodArn)),
      });
      const client = await Client.connect(`${gw.url}?token=t0k3n`);
      const [event] = rec.of('authorizer');
      expect(event.type).to.equal('REQUEST');
      expect(event.methodArn).to.equal('arn:aws:execute-api:us-east-1:000000000000:api0000001/local/$connect');
      expect(event.queryStringParameters).to.deep.equal({ token: 't0k3n' });
      expect(event.multiValueQueryStringParameters).to.deep.equal({ token: ['t0k3n'] });
      expect(event.headers).to.include.keys('Connection', 'Upgrade', 'Host', 'Sec-WebSocket-Key');
      expect(event.stageVariables).to.deep.equal({});
      expect(event.requestContext).to.include({ routeKey: '$connect', eventType: 'CONNECT', stage: 'local', apiId: 'api0000001' });
      expect(event.requestContext.connectionId).to.equal(lastConnectionId(rec));
      expect(event.requestContext).to.not.have.property('authorizer');
      client.ws.close();
    });

    it('refuses with 403 on an explicit Deny, or when no statement allows the method', async () => {
      const rec = new Recorder();
      const gw = await gateways.start({
        ...echoRoutes(rec),
        authorizer: async (e) => (e.queryStringParameters.mode === 'deny' ? deny(e.methodArn) : allow('u', 'arn:aws:execute-api:*:*:other/*')),
      });
      for (const mode of ['deny', 'other-resource']) {
        const refused = await refusedHandshake(`${gw.url}?mode=${mode}`);
        expect(refused.status).to.equal(403);
        expect(JSON.parse(refused.body)).to.deep.equal({ message: 'Forbidden' });
      }
      expect(rec.of('$connect')).to.have.length(0);
    });

    it('refuses with 401 when the authorizer throws "Unauthorized", and 500 for any other failure', async () => {
      const gw = await gateways.start({
        routes: {},
        twoWayRoutes: new Set(),
        authorizer: async (e) => {
          if (e.queryStringParameters.mode === 'unauthorized') throw new Error('Unauthorized');
          if (e.queryStringParameters.mode === 'object-context') return allow('u', e.methodArn, { topics: ['a'] });
          throw new Error('database down');
        },
      });
      const unauthorized = await refusedHandshake(`${gw.url}?mode=unauthorized`);
      expect(unauthorized.status).to.equal(401);
      expect(JSON.parse(unauthorized.body)).to.deep.equal({ message: 'Unauthorized' });
      expect((await refusedHandshake(`${gw.url}?mode=crash`)).status).to.equal(500);
      // API Gateway accepts only strings, numbers and booleans as context values.
      expect((await refusedHandshake(`${gw.url}?mode=object-context`)).status).to.equal(500);
    });

    it('answers 500 to an Allow larger than the 8 KB authorizer result quota, and admits one at the limit', async () => {
      const rec = new Recorder();
      const problems: string[] = [];
      /** An Allow whose serialised result is exactly `bytes` long (padding in one context value). */
      const allowOf = (methodArn: string, bytes: number) => {
        const result = allow('u', methodArn, { pad: '' });
        result.context!.pad = 'p'.repeat(bytes - authorizerResultBytes(result));
        expect(authorizerResultBytes(result)).to.equal(bytes);
        return result;
      };
      const gw = await gateways.start({
        ...echoRoutes(rec),
        onHandlerError: (error, routeKey) => problems.push(`${routeKey}: ${(error as Error).message}`),
        authorizer: async (e) => allowOf(e.methodArn, Number(e.queryStringParameters.bytes)),
      });
      const refused = await refusedHandshake(`${gw.url}?bytes=${AUTHORIZER_RESULT_LIMIT_BYTES + 1}`);
      expect(refused.status).to.equal(500);
      expect(JSON.parse(refused.body)).to.deep.equal({ message: 'Internal server error' });
      expect(problems).to.deep.equal([`authorizer: authorizer result is ${AUTHORIZER_RESULT_LIMIT_BYTES + 1} bytes; API Gateway accepts at most 8192 (8 KB)`]);
      expect(rec.of('$connect'), 'the refused handshake never reached $connect').to.have.length(0);

      const client = await Client.connect(`${gw.url}?bytes=${AUTHORIZER_RESULT_LIMIT_BYTES}`);
      expect(rec.of('$connect')[0].requestContext.authorizer.pad).to.have.length.above(7000);
      client.ws.close();
    });

    it('exposes { principalId, ...context } as requestContext.authorizer on CONNECT, MESSAGE and DISCONNECT events', async () => {
      const rec = new Recorder();
      const gw = await gateways.start({
        ...echoRoutes(rec),
        authorizer: async (e) =>
          allow('user-42', `arn:aws:execute-api:us-east-1:000000000000:${e.requestContext.apiId}/*`, {
            [AUTH_CONTEXT.principal]: 'user-42',
            [AUTH_CONTEXT.topics]: JSON.stringify(['orders/*']),
            admin: false,
          }),
      });
      const client = await Client.connect(gw.url);
      client.ws.send('hello');
      await client.nth(0);
      client.ws.close();
      const id = lastConnectionId(rec);
      await rec.waitForDisconnect(id);
      const expected = { principalId: 'user-42', principal: 'user-42', topics: '["orders/*"]', admin: 'false' };
      for (const routeKey of ['$connect', '$default', '$disconnect']) {
        expect(rec.of(routeKey)[0].requestContext.authorizer, routeKey).to.deep.equal(expected);
      }
    });
  });
});
