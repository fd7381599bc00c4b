/**
 * The lean management API client (functions/lib/delivery/) over real HTTP: against the local
 * gateway and its fault injection (what the SDK client was tested against before), and against
 * bare servers for what the gateway cannot show (hung responses, resets, unconnectable sockets,
 * socket reuse).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { ENV } from '../../protocol/env';
import { MAX_MESSAGE_BYTES } from '../../protocol/limits';
import type { Gateway } from '../../local/gateway';
import { makeManagementApi } from '../../functions/lib/clients';
import { loadConfig } from '../../functions/lib/config';
import { ManagementApi, ManagementApiError, errorName } from '../../functions/lib/delivery/management-api';
import { classifyPostError } from '../../functions/lib/post-errors';
import { Client, Gateways, Recorder, echoRoutes, lastConnectionId, sleep } from '../local/gateway-helpers';
import { testEnv } from './helpers';

const bytes = (s: string) => new TextEncoder().encode(s);

/** The error a call fails with (fails the test if it succeeds). */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; $fault?: string; $metadata?: { httpStatusCode: number; requestId?: string } }> {
  try {
    await promise;
  } catch (error) {
    return error as never;
  }
  throw new Error('the call succeeded');
}

describe('management API client against the local gateway', () => {
  const gateways = new Gateways();
  const apis: ManagementApi[] = [];
  let gw: Gateway;
  let rec: Recorder;
  let api: ManagementApi;

  /** The client exactly as the publish handler builds it, from an env map. */
  const build = (endpoint: string, overrides: Record<string, string> = {}) => {
    const env = testEnv({ [ENV.managementEndpoint]: endpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...overrides });
    const client = makeManagementApi(loadConfig(env), env);
    apis.push(client);
    return client;
  };

  before(async () => {
    rec = new Recorder();
    gw = await gateways.start({ ...echoRoutes(rec) });
    api = build(gw.managementEndpoint);
  });
  afterEach(() => gw.setFaults({}));
  after(async () => {
    for (const client of apis) client.destroy();
    await gateways.closeAll();
  });

  async function connected(headers?: Record<string, string>): Promise<{ client: Client; id: string }> {
    const client = await Client.connect(gw.url, undefined, { headers });
    return { client, id: lastConnectionId(rec) };
  }

  it('post delivers the bytes to the client as one frame; ids ending in = are escaped in the path', async () => {
    const { client, id } = await connected();
    expect(id.endsWith('=')).to.equal(true);
    const before = gw.stats();
    await api.post(id, bytes('{"type":"message","data":"é"}'));
    expect(await client.nth(0)).to.equal('{"type":"message","data":"é"}');
    expect(gw.stats().delivered - before.delivered).to.equal(1);
    client.ws.close();
  });

  it('get answers connectedAt, identity and lastActiveAt as the gateway recorded them', async () => {
    const { client, id } = await connected({ 'User-Agent': 'browser/9' });
    const info = await api.get(id);
    expect(info.connectedAt).to.be.instanceOf(Date);
    expect(info.connectedAt.getTime()).to.equal(rec.of('$connect').at(-1).requestContext.connectedAt);
    expect(info.lastActiveAt).to.be.instanceOf(Date);
    expect(info.lastActiveAt.getTime()).to.be.at.least(info.connectedAt.getTime());
    expect(info.identity).to.deep.equal({ sourceIp: '127.0.0.1', userAgent: 'browser/9' });
    client.ws.close();
  });

  it('delete closes the connection (1000, $disconnect); later calls are GoneException', async () => {
    const { client, id } = await connected();
    await api.delete(id);
    expect((await client.closed).code).to.equal(1000);
    await rec.waitForDisconnect(id);
    for (const call of [() => api.post(id, bytes('x')), () => api.get(id), () => api.delete(id)]) {
      const error = await failure(call());
      expect(error).to.be.instanceOf(ManagementApiError);
      expect(error.name).to.equal('GoneException');
      expect(error.$fault).to.equal('client');
      expect(error.$metadata?.httpStatusCode).to.equal(410);
      expect(error.$metadata?.requestId).to.be.a('string').and.not.equal('');
      expect(classifyPostError(error)).to.equal('gone');
    }
  });

  it('answers unknown ids, and ids with +, / and = (escaped, never a path of their own), with GoneException', async () => {
    for (const unknown of ['AAAAAAAAAAAAAAA=', 'a+b/c=', '%E0%A4%A']) {
      const error = await failure(api.post(unknown, bytes('x')));
      expect(error.name, unknown).to.equal('GoneException');
      expect(error.message).to.include(unknown); // the gateway decoded exactly the id we sent
    }
  });

  it('refuses an empty id, or one the path rules would resolve away, without sending it', async () => {
    const before = gw.stats().posts;
    for (const id of ['', '.', '..']) expect(await failure(api.post(id, bytes('x')))).to.be.instanceOf(TypeError);
    expect(gw.stats().posts).to.equal(before);
  });

  it('takes exactly 128 KB; a larger frame is PayloadTooLargeException (413, tooLarge) and the connection stays open', async () => {
    const { client, id } = await connected();
    await api.post(id, new Uint8Array(MAX_MESSAGE_BYTES).fill(97));
    expect((await client.nth(0)).length).to.equal(MAX_MESSAGE_BYTES);
    const error = await failure(api.post(id, new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(98)));
    expect(error.name).to.equal('PayloadTooLargeException');
    expect(error.$metadata?.httpStatusCode).to.equal(413);
    expect(classifyPostError(error)).to.equal('tooLarge');
    expect(client.ws.readyState).to.equal(client.ws.OPEN);
    expect(client.messages).to.have.length(1);
    client.ws.close();
  });

  it('a wrong stage is ForbiddenException (403, permanent)', async () => {
    const { client, id } = await connected();
    const error = await failure(build(gw.managementEndpoint.replace(/\/local$/, '/prod')).post(id, bytes('x')));
    expect(error.name).to.equal('ForbiddenException');
    expect(error.$metadata?.httpStatusCode).to.equal(403);
    expect(classifyPostError(error)).to.equal('permanent');
    expect(client.messages).to.deep.equal([]);
    client.ws.close();
  });

  describe('fault injection', () => {
    it('goneRate 1: GoneException for a live connection (gone), which stays open', async () => {
      const { client, id } = await connected();
      gw.setFaults({ goneRate: 1 });
      const error = await failure(api.post(id, bytes('x')));
      expect([error.name, error.$metadata?.httpStatusCode, classifyPostError(error)]).to.deep.equal(['GoneException', 410, 'gone']);
      expect(client.ws.readyState).to.equal(client.ws.OPEN);
      client.ws.close();
    });

    it('throttleRate 1: LimitExceededException, 429, throttled', async () => {
      const { client, id } = await connected();
      gw.setFaults({ throttleRate: 1 });
      const error = await failure(api.post(id, bytes('x')));
      expect([error.name, error.$fault, error.$metadata?.httpStatusCode, classifyPostError(error)]).to.deep.equal([
        'LimitExceededException',
        'client',
        429,
        'throttled',
      ]);
      client.ws.close();
    });

    it('errorRate 1: InternalServerErrorException, a server fault (500, transient), on post, get and delete', async () => {
      const { client, id } = await connected();
      gw.setFaults({ errorRate: 1 });
      for (const call of [() => api.post(id, bytes('x')), () => api.get(id), () => api.delete(id)]) {
        const error = await failure(call());
        expect([error.name, error.$fault, error.$metadata?.httpStatusCode, classifyPostError(error)]).to.deep.equal([
          'InternalServerErrorException',
          'server',
          500,
          'transient',
        ]);
      }
      expect(client.ws.readyState).to.equal(client.ws.OPEN);
      client.ws.close();
    });

    it('the token bucket: a burst passes, then 429s; nothing is retried inside the client', async () => {
      const { client, id } = await connected();
      gw.setFaults({ rateLimit: { perSecond: 0.001, burst: 3 } });
      const before = gw.stats();
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) outcomes.push(await api.post(id, bytes(`m${i}`)).then(() => 'ok', (e: Error) => e.name));
      expect(outcomes).to.deep.equal(['ok', 'ok', 'ok', 'LimitExceededException', 'LimitExceededException']);
      expect(gw.stats().posts - before.posts).to.equal(5);
      expect(client.messages).to.deep.equal(['m0', 'm1', 'm2']);
      client.ws.close();
    });

    it('latency beyond POST_REQUEST_TIMEOUT_MS: the call is cut with TimeoutError (transient), nothing delivered', async () => {
      const { client, id } = await connected();
      gw.setFaults({ latencyMs: 60_000 });
      const error = await failure(build(gw.managementEndpoint, { [ENV.postRequestTimeoutMs]: '100' }).post(id, bytes('late')));
      expect(error.name).to.equal('TimeoutError');
      expect(error.message).to.contain('100 ms');
      expect(classifyPostError(error)).to.equal('transient');
      expect(client.messages).to.deep.equal([]);
      client.ws.close();
    });
  });
});

describe('management API client against bare servers', () => {
  const CREDENTIALS = { accessKeyId: 'AKID', secretAccessKey: 'secret' };
  const apis: ManagementApi[] = [];
  const servers: Server[] = [];
  const hung: ServerResponse[] = [];

  const client = (endpoint: string, options: Partial<ConstructorParameters<typeof ManagementApi>[0]> = {}) => {
    const api = new ManagementApi({ endpoint, region: 'us-east-1', credentials: () => CREDENTIALS, connectTimeoutMs: 1000, requestTimeoutMs: 2000, maxSockets: 4, ...options });
    apis.push(api);
    return api;
  };

  /** A server whose sockets are counted, answering with `handle`. */
  async function serve(handle: (req: import('node:http').IncomingMessage, res: ServerResponse) => void): Promise<{ endpoint: string; sockets: () => number }> {
    let sockets = 0;
    const server = createServer((req, res) => handle(req, res));
    server.on('connection', () => sockets++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`, sockets: () => sockets };
  }

  afterEach(async () => {
    for (const api of apis.splice(0)) api.destroy();
    for (const res of hung.splice(0)) res.destroy();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('reuses one kept-alive socket for calls in sequence, error answers (bodies drained) included', async () => {
    let n = 0;
    const { endpoint, sockets } = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        if (++n % 2 === 0) res.writeHead(429, { 'x-amzn-ErrorType': 'LimitExceededException', 'content-type': 'application/json' }).end(JSON.stringify({ message: 'slow down', pad: 'x'.repeat(10_000) }));
        else res.writeHead(200).end();
      });
    });
    const api = client(endpoint);
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) outcomes.push(await api.post(`c${i}=`, bytes('x')).then(() => 'ok', (e: Error) => `${e.name}: ${e.message}`));
    expect(outcomes.filter((o) => o === 'ok')).to.have.length(5);
    expect(outcomes.filter((o) => o === 'LimitExceededException: slow down')).to.have.length(5);
    expect(sockets()).to.equal(1);
  });

  it('opens at most maxSockets sockets however many calls are in flight', async () => {
    const { endpoint, sockets } = await serve((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200).end(), 20);
    });
    const api = client(endpoint, { maxSockets: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => api.post(`c${i}`, bytes('x'))));
    expect(sockets()).to.equal(3);
  });

  it('cuts a response that stops mid-body with TimeoutError, not a reset', async () => {
    const { endpoint } = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial');
      hung.push(res);
    });
    const error = await failure(client(endpoint, { requestTimeoutMs: 100 }).post('c', bytes('x')));
    expect(error.name).to.equal('TimeoutError');
    expect(error.code).to.equal('ETIMEDOUT');
    expect(classifyPostError(error)).to.equal('transient');
  });

  it('keeps a network error code (a reset connection is ECONNRESET, transient)', async () => {
    const { endpoint } = await serve((req) => req.socket.destroy());
    const error = await failure(client(endpoint).post('c', bytes('x')));
    expect(error.code).to.equal('ECONNRESET');
    expect(classifyPostError(error)).to.equal('transient');
    const refused = await failure(client('http://127.0.0.1:1/prod').post('c', bytes('x')));
    expect(refused.code).to.equal('ECONNREFUSED');
    expect(classifyPostError(refused)).to.equal('transient');
  });

  it('fails a call Node refuses to send (a token with a line break) at once, and no timer fires later', async () => {
    const { endpoint, sockets } = await serve((req, res) => res.writeHead(200).end());
    const api = client(endpoint, { credentials: () => ({ ...CREDENTIALS, sessionToken: 'bad\ntoken' }), requestTimeoutMs: 50 });
    const error = await failure(api.post('c', bytes('x')));
    expect(error.code).to.equal('ERR_INVALID_CHAR');
    expect(classifyPostError(error)).to.equal('permanent');
    await sleep(100); // past the request timeout: an armed timer would throw here
    expect(sockets()).to.equal(0);
  });

  it('names an error from the body when x-amzn-ErrorType is missing, else Unknown; a 5xx page is a server fault', async () => {
    const answers: Array<[number, Record<string, string>, string]> = [
      [429, {}, JSON.stringify({ __type: 'LimitExceededException', message: 'x' })],
      [400, { 'x-amzn-ErrorType': 'BadRequestException:http://internal.amazon.com/coral/' }, JSON.stringify({ Message: 'capital M' })],
      [502, { 'content-type': 'text/html' }, '<html>bad gateway</html>'],
      [403, {}, JSON.stringify({ message: 'm'.repeat(5000) })],
    ];
    let i = 0;
    const { endpoint } = await serve((req, res) => {
      req.resume();
      const [status, headers, body] = answers[i++];
      res.writeHead(status, { 'x-amzn-RequestId': `rid-${i}`, ...headers }).end(body);
    });
    const api = client(endpoint);
    const seen = [];
    for (let k = 0; k < answers.length; k++) {
      const e = await failure(api.post('c', bytes('x')));
      seen.push([e.name, e.$fault, e.$metadata?.httpStatusCode, e.$metadata?.requestId, classifyPostError(e)]);
      if (k === 1) expect(e.message).to.equal('capital M');
      if (k === 3) expect(e.message.length).to.be.at.most(200); // never echo a whole body
    }
    expect(seen).to.deep.equal([
      ['LimitExceededException', 'client', 429, 'rid-1', 'throttled'],
      ['BadRequestException', 'client', 400, 'rid-2', 'permanent'],
      ['Unknown', 'server', 502, 'rid-3', 'transient'],
      ['Unknown', 'client', 403, 'rid-4', 'permanent'],
    ]);
    expect(errorName('aws.protocols#GoneException')).to.equal('GoneException');
  });

  describe('connect timeout', () => {
    let child: ChildProcess | undefined;
    const fillers: Socket[] = [];
    after(() => {
      for (const s of fillers) s.destroy();
      child?.kill();
    });

    it('gives up on a socket that never connects with TimeoutError, long before the request timeout', async () => {
      // A listener in another process that stops accepting: once its backlog is full the kernel
      // drops further SYNs, so a new connection stays in `connecting`.
      child = spawn(
        process.execPath,
        ['-e', `const s = require('node:net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => { process.stdout.write(s.address().port + '\\n'); setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000), 20); });`],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const port = Number(String(line).trim());
      await sleep(100); // the listener is blocked now
      // Fill the backlog until a connection attempt hangs.
      for (;;) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        fillers.push(socket);
        await sleep(50);
        if (socket.connecting) break;
        expect(fillers.length, 'the backlog never filled').to.be.below(20);
      }
      const error = await failure(client(`http://127.0.0.1:${port}/prod`, { connectTimeoutMs: 100, requestTimeoutMs: 20_000 }).post('c', bytes('x')));
      expect(error.name).to.equal('TimeoutError');
      expect(error.message).to.contain('100 ms connect timeout');
      expect(classifyPostError(error)).to.equal('transient');
    });
  });
});
