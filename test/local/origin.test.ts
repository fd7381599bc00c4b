/**
 * A page on another site must not reach the local system through the developer's browser: the
 * demo server and the gateway accept the demo page, the gateway's own origin, origins trusted
 * with --allow-origin, and clients that send no Origin (programs); everything else gets 403.
 */
import { expect } from 'chai';
import { request } from 'node:http';
import WebSocket from 'ws';
import { parseCli } from '../../local/cli-options';
import { ConnectRejectedError } from '../../local/gateway';
import { OriginPolicy } from '../../local/origin-policy';
import { startLocal, type LocalSystem } from '../../local/system';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with exactly the headers given (fetch would not let a test set Host). */
function call(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a WebSocket as a page of `origin` would; resolves with 101 or the refusal's status. */
function handshake(url: string, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, origin ? { origin } : {});
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', reject);
  });
}

const EVIL = 'https://evil.example';

describe('origin checks (local mode)', () => {
  let system: LocalSystem;
  let demoOrigin: string;
  before(async () => {
    system = await startLocal({ quiet: true, allowedOrigins: ['http://localhost:5173'] });
    demoOrigin = new URL(system.outputs.demoUrl!).origin;
  });
  after(async () => {
    await system?.stop();
  });

  it('the demo server refuses POST /publish and /config.json from another page, and DNS-rebound host names', async () => {
    const demo = system.outputs.demoUrl!;
    const envelope = JSON.stringify({ topic: 'origin-test', data: 1 });
    const queue = system.sqs.queue('realtime-publish');
    const sentBefore = system.poller.stats().records + queue.counts().visible + queue.counts().inFlight;

    const refused = await call(new URL('publish', demo).href, 'POST', { origin: EVIL }, envelope);
    expect(refused.status).to.equal(403);
    expect(refused.headers['access-control-allow-origin']).to.equal(undefined);
    expect((await call(new URL('config.json', demo).href, 'GET', { origin: EVIL })).status).to.equal(403);
    expect((await call(new URL('publish', demo).href, 'OPTIONS', { origin: EVIL, 'access-control-request-method': 'POST' })).status).to.equal(403);
    expect((await call(new URL('publish', demo).href, 'POST', { origin: 'null' }, envelope)).status).to.equal(403);
    // A rebound name reaches 127.0.0.1 with the attacker's host name (and a same-origin GET sends no Origin).
    expect((await call(new URL('config.json', demo).href, 'GET', { host: `evil.example:${new URL(demo).port}` })).status).to.equal(403);
    expect(system.poller.stats().records + queue.counts().visible + queue.counts().inFlight).to.equal(sentBefore);

    // The demo page itself (by either loopback name), a trusted dev server, and programs (no Origin) are served.
    for (const origin of [demoOrigin, demoOrigin.replace('127.0.0.1', 'localhost'), 'http://localhost:5173']) {
      const ok = await call(new URL('publish', demo).href, 'POST', { origin }, envelope);
      expect(ok.status, origin).to.equal(200);
      expect(ok.headers['access-control-allow-origin']).to.equal(origin);
      const preflight = await call(new URL('publish', demo).href, 'OPTIONS', { origin, 'access-control-request-method': 'POST' });
      expect(preflight.status).to.equal(204);
    }
    expect((await call(new URL('publish', demo).href, 'POST', {}, envelope)).status).to.equal(200);
    const config = await call(new URL('config.json', demo).href, 'GET', { origin: demoOrigin });
    expect(config.status).to.equal(200);
    expect(JSON.parse(config.body)).to.deep.equal(system.outputs);
  });

  it('the gateway refuses a WebSocket handshake from another page (403, before the authorizer or $connect run)', async () => {
    const url = system.outputs.websocketUrl;
    const connects = system.functions.connect!.stats().invocations;
    expect(await handshake(url, EVIL)).to.equal(403);
    expect(await handshake(url, 'null')).to.equal(403);
    expect(system.functions.connect!.stats().invocations).to.equal(connects);
    expect(await handshake(url, demoOrigin)).to.equal(101);
    expect(await handshake(url, 'http://localhost:5173')).to.equal(101);
    expect(await handshake(url, new URL(system.outputs.managementEndpoint).origin)).to.equal(101);
    expect(await handshake(url)).to.equal(101);

    const refused = await system.gateway.connectVirtual({ headers: { Origin: EVIL } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).to.be.instanceOf(ConnectRejectedError);
    expect((refused as ConnectRejectedError).statusCode).to.equal(403);
    const virtual = await system.gateway.connectVirtual({ headers: { Origin: demoOrigin } });
    await virtual.close();
  });
});

describe('OriginPolicy', () => {
  it('trusts exact origins as browsers serialize them; no Origin passes, "null" and junk do not', () => {
    const policy = new OriginPolicy(['http://LOCALHOST:5173/app']);
    expect(policy.allows('http://localhost:5173')).to.equal(true);
    expect(policy.allows('http://localhost:5174')).to.equal(false);
    expect(policy.allows('https://localhost:5173')).to.equal(false);
    expect(policy.allows(undefined)).to.equal(true);
    expect(policy.allows('null')).to.equal(false);
    expect(policy.allows('')).to.equal(false);
    expect(policy.allows(['http://localhost:5173', EVIL])).to.equal(false);
    expect(() => policy.trust('localhost')).to.throw(/not an origin/);
  });
});

describe('npm start --allow-origin', () => {
  const parse = (...argv: string[]) => parseCli(argv, { writeErr: () => undefined, writeOut: () => undefined });
  it('collects every origin given; refuses what is not one', () => {
    expect(parse().local).to.not.have.property('allowedOrigins');
    expect(parse('--allow-origin', 'http://localhost:5173', '--allow-origin', 'https://dev.test:8443').local.allowedOrigins).to.deep.equal(['http://localhost:5173', 'https://dev.test:8443']);
    expect(() => parse('--allow-origin', 'localhost')).to.throw(/--allow-origin.*origin such as/);
  });
});
