/**
 * Refused handshakes told apart: UNAUTHORIZED (401) and FORBIDDEN (403) when the runtime says
 * the status (ws), an expired token when it does not (browsers: close 1006 and nothing else),
 * and the long wait after them instead of a quick retry.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { RealtimeClient, type RealtimeClientOptions, type RealtimeError, type WebSocketLike } from '../../client/index';
import { judgeHandshakeFailure, OPAQUE_FAILURES_BEFORE_MAX_DELAY, tokenExpiry } from '../../client/handshake';
import { FakeServer, type FakeServerOptions } from './fake-server';
import { eventually as until } from './local-helpers';

const URL_ = 'wss://example.invalid/prod';
const NOW = Date.parse('2030-01-01T00:00:00Z');

/** An unsigned JWT-shaped token with these claims (the client never verifies signatures). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}
const expired = jwt({ sub: 'alice', exp: NOW / 1000 - 60 });
const fresh = jwt({ sub: 'alice', exp: NOW / 1000 + 3600 });

/** A `ws` socket that tells as little as a browser does: error events without a message, close 1006. */
class BrowserLikeWebSocket implements WebSocketLike {
  private readonly ws: WebSocket;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.onopen = (event) => this.onopen?.(event);
    this.ws.onmessage = (event) => this.onmessage?.({ data: event.data });
    this.ws.onerror = () => this.onerror?.({ type: 'error' });
    this.ws.onclose = (event) => this.onclose?.({ code: event.code, reason: event.reason });
  }

  get readyState(): number {
    return this.ws.readyState;
  }
  send(data: string): void {
    this.ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

describe('refused handshakes', () => {
  describe('judgeHandshakeFailure', () => {
    const judge = (f: Partial<Parameters<typeof judgeHandshakeFailure>[1]>) => judgeHandshakeFailure(URL_, { closeCode: 1006, consecutive: 1, now: NOW, ...f });

    it('a 401 or 403 that ws reports is UNAUTHORIZED or FORBIDDEN, with the longest wait', () => {
      const noToken = judge({ detail: 'Unexpected server response: 401' });
      expect([noToken.error.code, noToken.delay]).to.deep.equal(['UNAUTHORIZED', 'max']);
      expect(noToken.error.message).to.contain('401').and.contain('requires a token and none was given');
      const refused = judge({ detail: 'Unexpected server response: 401', token: fresh });
      expect(refused.error.message).to.contain('refused the token').and.not.contain('expired');
      const stale = judge({ detail: 'Unexpected server response: 401', token: expired });
      expect(stale.error.message).to.contain('the token expired at 2029-12-31T23:59:00.000Z');
      const forbidden = judge({ detail: 'Unexpected server response: 403', token: fresh });
      expect([forbidden.error.code, forbidden.delay, forbidden.error.topics]).to.deep.equal(['FORBIDDEN', 'max', []]);
    });

    it('other failures ws explains stay CONNECTION_FAILED with the usual backoff', () => {
      for (const detail of ['connect ECONNREFUSED 127.0.0.1:9', 'Unexpected server response: 500', 'Unexpected server response: 429']) {
        const verdict = judge({ detail, token: expired, consecutive: 10 });
        expect([verdict.error.code, verdict.delay], detail).to.deep.equal(['CONNECTION_FAILED', 'normal']);
        expect(verdict.error.message).to.contain(detail);
      }
    });

    it('an opaque failure (a browser) is UNAUTHORIZED when the token has expired by the local clock, else CONNECTION_FAILED, waiting long once it repeats', () => {
      const stale = judge({ token: expired });
      expect([stale.error.code, stale.delay]).to.deep.equal(['UNAUTHORIZED', 'max']);
      expect(stale.error.message).to.contain("by this device's clock");
      for (let consecutive = 1; consecutive < OPAQUE_FAILURES_BEFORE_MAX_DELAY; consecutive++) {
        const verdict = judge({ token: fresh, consecutive });
        expect([verdict.error.code, verdict.delay]).to.deep.equal(['CONNECTION_FAILED', 'normal']);
        expect(verdict.error.message).to.contain('closed with 1006');
      }
      const repeated = judge({ consecutive: OPAQUE_FAILURES_BEFORE_MAX_DELAY });
      expect([repeated.error.code, repeated.delay]).to.deep.equal(['CONNECTION_FAILED', 'max']);
      expect(repeated.error.message).to.contain(`${OPAQUE_FAILURES_BEFORE_MAX_DELAY} handshakes failed in a row`).and.contain('401/403');
    });

    it('tokenExpiry reads exp without verifying, and nothing from what is not a JWT', () => {
      expect(tokenExpiry(expired)).to.equal(NOW / 1000 - 60);
      expect(tokenExpiry(jwt({ sub: 'x' }))).to.equal(undefined);
      expect(tokenExpiry(jwt({ exp: '1700000000' }))).to.equal(undefined);
      expect(tokenExpiry('opaque-api-key')).to.equal(undefined);
      expect(tokenExpiry('a.%%%.c')).to.equal(undefined);
      expect(tokenExpiry(`a.${Buffer.from('not json').toString('base64url')}.c`)).to.equal(undefined);
    });
  });

  describe('the client', () => {
    let server: FakeServer;
    const clients: RealtimeClient[] = [];

    async function setup(options: FakeServerOptions): Promise<FakeServer> {
      server = await new FakeServer(options).start();
      return server;
    }

    function client(extra: Partial<RealtimeClientOptions>): { c: RealtimeClient; errors: { error: RealtimeError; at: number }[] } {
      const c = new RealtimeClient({ url: server.url, reconnect: { baseDelayMs: 1, maxDelayMs: 300 }, ...extra });
      clients.push(c);
      const errors: { error: RealtimeError; at: number }[] = [];
      c.on('error', (error) => errors.push({ error, at: Date.now() }));
      return { c, errors };
    }

    afterEach(async () => {
      clients.splice(0).forEach((c) => c.close());
      await server?.close();
    });

    it('raises UNAUTHORIZED for a 401 and waits at least half the longest delay before trying again; close() + connect() retries at once with a new token', async () => {
      let token = 'old-token';
      // The token travels as the bearer subprotocol (the default) or, with tokenTransport 'query', as ?token=.
      const tokenOf = (req: { url?: string; headers: Record<string, string | string[] | undefined> }) =>
        new URL(req.url!, 'http://x').searchParams.get('token') ??
        String(req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim())
          .find((p) => p.startsWith('bearer.'))
          ?.slice('bearer.'.length);
      // It echoes `realtime` as the gateway does: a client that offered subprotocols needs one back.
      const srv = await setup({ protocol: 'realtime', refuseHandshake: (req) => (tokenOf(req) === 'new-token' ? undefined : 401) });
      const { c, errors } = client({ token: () => token });
      void c.connect().catch(() => undefined);
      await until(() => errors.length >= 2, 'two refused attempts');
      expect(errors.map((e) => e.error.code)).to.deep.equal(['UNAUTHORIZED', 'UNAUTHORIZED']);
      expect(errors[0].error.message).to.contain('401 Unauthorized: the server refused the token');
      expect(errors[1].at - errors[0].at, 'the wait between two refused attempts').to.be.at.least(150);
      expect(c.state).to.equal('reconnecting');

      token = 'new-token'; // the app refreshed it, and retries now rather than after the wait
      c.close();
      await c.connect();
      await c.subscribe('t', () => undefined);
      expect([...srv.open()[0].topics]).to.deep.equal(['t']);
    });

    it('stops for good when an error listener calls close() on UNAUTHORIZED (the app has no token to offer)', async () => {
      const srv = await setup({ refuseHandshake: () => 401 });
      const { c, errors } = client({ token: 'refused', reconnect: { baseDelayMs: 1, maxDelayMs: 20 } });
      c.on('error', (e) => e.code === 'UNAUTHORIZED' && c.close());
      void c.connect().catch(() => undefined);
      await until(() => errors.length === 1, 'the refusal');
      // Ten times the longest delay: a retry would have been refused (and counted) by now.
      await new Promise((r) => setTimeout(r, 200));
      expect(srv.refusals).to.equal(1);
      expect(c.state).to.equal('closed');
    });

    it('raises FORBIDDEN (no topics) for a 403, with the same long wait', async () => {
      await setup({ refuseHandshake: () => 403 });
      const { c, errors } = client({ token: fresh });
      void c.connect().catch(() => undefined);
      await until(() => errors.length >= 2, 'two refused attempts');
      expect(errors.map((e) => [e.error.code, e.error.topics])).to.deep.equal([
        ['FORBIDDEN', []],
        ['FORBIDDEN', []],
      ]);
      expect(errors[1].at - errors[0].at).to.be.at.least(150);
    });

    it('in a browser-like runtime (no status), names an expired token, and waits long once opaque failures repeat', async () => {
      const srv = await setup({ refuseHandshake: () => 401 });
      const stale = client({ token: jwt({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }), WebSocket: BrowserLikeWebSocket });
      void stale.c.connect().catch(() => undefined);
      await until(() => stale.errors.length >= 1, 'a refused attempt');
      expect(stale.errors[0].error.code).to.equal('UNAUTHORIZED');
      expect(stale.errors[0].error.message).to.contain('expired').and.contain('1006');
      stale.c.close();

      const blind = client({ WebSocket: BrowserLikeWebSocket });
      void blind.c.connect().catch(() => undefined);
      const n = OPAQUE_FAILURES_BEFORE_MAX_DELAY;
      await until(() => blind.errors.length >= n + 1, 'repeated refusals');
      expect(blind.errors.every((e) => e.error.code === 'CONNECTION_FAILED')).to.equal(true);
      expect(blind.errors[n - 1].error.message).to.contain(`${n} handshakes failed in a row`);
      expect(blind.errors[n].at - blind.errors[n - 1].at, 'the wait after repeated opaque failures').to.be.at.least(150);
      expect(srv.refusals).to.be.at.least(n + 2);
    });
  });
});
