/** Local gateway: fault injection on the management API, seen through the real SDK client. */
import {
  type ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { expect } from 'chai';
import type { Gateway } from '../../local/gateway';
import { FAULT_FLAGS, parseFaultFlags, parseRateLimit } from '../../local/gateway';
import { Client, Gateways, Recorder, echoRoutes, lastConnectionId, managementClient, sdkFailure, sleep } from './gateway-helpers';

describe('local gateway: fault injection', () => {
  const gateways = new Gateways();
  let gw: Gateway;
  let rec: Recorder;
  let sdk: ApiGatewayManagementApiClient;
  let client: Client;
  let id: string;
  const post = (data = 'x') => sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from(data) }));

  beforeEach(async () => {
    rec = new Recorder();
    gw = await gateways.start({ ...echoRoutes(rec) });
    sdk = managementClient(gw.managementEndpoint);
    client = await Client.connect(gw.url);
    id = lastConnectionId(rec);
  });
  afterEach(async () => {
    sdk.destroy();
    await gateways.closeAll();
  });

  it('goneRate 1 answers GoneException for a live connection, which stays open', async () => {
    gw.setFaults({ goneRate: 1 });
    const error = await sdkFailure(post());
    expect(error).to.be.instanceOf(GoneException);
    expect(client.ws.readyState).to.equal(client.ws.OPEN);
    gw.setFaults({});
    await post('after');
    expect(await client.nth(0)).to.equal('after');
  });

  it('throttleRate 1 answers 429 LimitExceededException', async () => {
    gw.setFaults({ throttleRate: 1 });
    const error = await sdkFailure(post());
    expect(error).to.be.instanceOf(LimitExceededException);
    expect(error.name).to.equal('LimitExceededException');
    expect(error.$metadata.httpStatusCode).to.equal(429);
  });

  it('errorRate 1 answers 500, a server fault the SDK would retry', async () => {
    gw.setFaults({ errorRate: 1 });
    const error = await sdkFailure(sdk.send(new GetConnectionCommand({ ConnectionId: id })));
    expect(error).to.be.instanceOf(ApiGatewayManagementApiServiceException);
    expect(error.name).to.equal('InternalServerErrorException');
    expect(error.$fault).to.equal('server');
    expect(error.$metadata.httpStatusCode).to.equal(500);
  });

  it('the token bucket lets a burst through, then answers 429', async () => {
    // A refill this slow adds nothing during the test: exactly `burst` calls pass.
    gw.setFaults({ rateLimit: { perSecond: 0.001, burst: 3 } });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await post(`m${i}`).then(() => 'ok', (e: Error) => e.name));
    expect(outcomes).to.deep.equal(['ok', 'ok', 'ok', 'LimitExceededException', 'LimitExceededException']);
    expect(client.messages).to.deep.equal(['m0', 'm1', 'm2']);
  });

  it('latency holds each management call back before it is answered', async () => {
    gw.setFaults({ latencyMs: 60_000 });
    let settled = false;
    const pending = post('late').then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(100);
    expect(settled).to.equal(false);
    expect(client.messages).to.deep.equal([]);
    expect(gw.stats().delivered).to.equal(0);
    // close() cuts the wait short instead of keeping a timer alive.
    client.ws.close();
    await gw.close();
    await pending;
  });

  it('counts every outcome in stats()', async () => {
    gw.setFaults({ goneRate: 1 });
    await sdkFailure(post());
    gw.setFaults({ throttleRate: 1 });
    await sdkFailure(post());
    gw.setFaults({ errorRate: 1 });
    await sdkFailure(post());
    gw.setFaults({});
    await post();
    await sdkFailure(post('y'.repeat(200 * 1024)));
    expect(gw.stats()).to.deep.equal({ posts: 5, delivered: 1, gone: 1, throttled: 1, errors: 1, tooLarge: 1, deletes: 0, connections: 1 });
  });

  it('setFaults and startGateway refuse bad values with a RangeError naming the option', async () => {
    const bad: Array<[object, RegExp]> = [
      [{ goneRate: 1.5 }, /goneRate/],
      [{ throttleRate: -0.1 }, /throttleRate/],
      [{ errorRate: Number.NaN }, /errorRate/],
      [{ latencyMs: -5 }, /latencyMs/],
      [{ rateLimit: { perSecond: 0 } }, /perSecond/],
      [{ rateLimit: { perSecond: 10, burst: 0.5 } }, /burst/],
    ];
    for (const [faults, message] of bad) {
      expect(() => gw.setFaults(faults), JSON.stringify(faults)).to.throw(RangeError, message);
    }
    let error: unknown;
    try {
      await gateways.start({ ...echoRoutes(rec), faults: { goneRate: 2 } });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(RangeError);
  });

  describe('CLI flag parsing', () => {
    it('parses --rate-limit N and N/BURST', () => {
      expect(parseRateLimit('100')).to.deep.equal({ perSecond: 100 });
      expect(parseRateLimit('100/20')).to.deep.equal({ perSecond: 100, burst: 20 });
      expect(parseRateLimit(' 2.5 / 4 ')).to.deep.equal({ perSecond: 2.5, burst: 4 });
      for (const bad of ['', 'fast', '10/', '/5', '0', '10/0', '-1']) {
        expect(() => parseRateLimit(bad), bad).to.throw(RangeError);
      }
    });

    it('turns flag values into FaultOptions and names the flag in errors', () => {
      expect(parseFaultFlags({ latencyMs: '20', goneRate: '0.01', throttleRate: '0.1', errorRate: '0', rateLimit: '50/10' })).to.deep.equal({
        latencyMs: 20,
        goneRate: 0.01,
        throttleRate: 0.1,
        errorRate: 0,
        rateLimit: { perSecond: 50, burst: 10 },
      });
      expect(parseFaultFlags({})).to.deep.equal({});
      expect(() => parseFaultFlags({ goneRate: '1.5' })).to.throw(RangeError, /^--gone-rate must be a probability/);
      expect(() => parseFaultFlags({ latencyMs: 'soon' })).to.throw(RangeError, /--latency-ms takes a number/);
      expect(() => parseFaultFlags({ rateLimit: 'x' })).to.throw(RangeError, /--rate-limit/);
      expect(Object.values(FAULT_FLAGS)).to.deep.equal(['--latency-ms', '--gone-rate', '--throttle-rate', '--error-rate', '--rate-limit']);
    });
  });
});
