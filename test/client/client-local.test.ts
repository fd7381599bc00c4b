/**
 * The client against the local mode (startLocal: real gateway, real handlers, dynalite, SQS and
 * the poller): reconnect and resubscribe, de-duplication, heartbeat, rotation ahead of the
 * connection cap, typed errors, tokens and refused handshakes (401/403).
 */
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { RealtimeClient, RealtimeError, type ConnectionState, type DeliveredMessage, type RealtimeClientOptions } from '../../client/index';
import { mintToken } from '../../local/auth-token';
import { startLocal, type LocalOptions, type LocalSystem } from '../../local/system';
import { connectionsOn, deleteConnection, eventually, recordingWebSocket, sendEnvelope, sleep } from './local-helpers';

describe('client against the local mode', function () {
  this.timeout(30_000);
  let system: LocalSystem | undefined;
  let clients: RealtimeClient[] = [];

  async function start(options: LocalOptions = {}): Promise<LocalSystem> {
    system = await startLocal({ quiet: true, ...options });
    return system;
  }

  function client(options: Partial<RealtimeClientOptions> = {}): RealtimeClient {
    const c = new RealtimeClient({ url: system!.outputs.websocketUrl, reconnect: { baseDelayMs: 50, maxDelayMs: 200 }, ...options });
    clients.push(c);
    return c;
  }

  function record(c: RealtimeClient): { states: ConnectionState[]; errors: RealtimeError[]; messages: DeliveredMessage[] } {
    const seen = { states: [] as ConnectionState[], errors: [] as RealtimeError[], messages: [] as DeliveredMessage[] };
    c.on('state', (s) => seen.states.push(s));
    c.on('error', (e) => seen.errors.push(e));
    c.on('message', (m) => seen.messages.push(m));
    return seen;
  }

  afterEach(async () => {
    clients.forEach((c) => c.close());
    clients = [];
    await system?.stop();
    system = undefined;
  });

  it('reconnects after the gateway drops the socket (management DELETE) and resubscribes', async () => {
    const { outputs } = await start();
    const c = client();
    const seen = record(c);
    const got: string[] = [];
    await c.subscribe('orders/1', (m) => got.push(m.id));
    await c.subscribe('orders/2', (m) => got.push(m.id));
    const [first] = await connectionsOn(outputs, 'orders/1');
    expect(first).to.be.a('string');

    await deleteConnection(outputs, first);
    await eventually(async () => {
      const [a, b] = await Promise.all([connectionsOn(outputs, 'orders/1'), connectionsOn(outputs, 'orders/2')]);
      return a.length === 1 && a[0] !== first && b.length === 1 && b[0] === a[0];
    }, 'both topics resubscribed on a new connection');
    await eventually(() => c.state === 'open', 'open again');

    await sendEnvelope(outputs, { topic: 'orders/2', data: { after: 'reconnect' }, id: 'after-1' });
    await eventually(() => got.includes('after-1'), 'a message published after the reconnect');
    expect(seen.states).to.deep.equal(['connecting', 'open', 'reconnecting', 'open']);
    expect(seen.errors.map((e) => e.code)).to.deep.equal(['CONNECTION_FAILED']);
  });

  it('calls the handler once for a message id delivered twice', async () => {
    const { outputs } = await start();
    const recording = recordingWebSocket();
    const c = client({ WebSocket: recording.WebSocket });
    const got: DeliveredMessage[] = [];
    await c.subscribe('dup/topic', (m) => got.push(m));
    const envelope = { topic: 'dup/topic', data: { n: 1 }, id: 'same-id' };
    await sendEnvelope(outputs, envelope);
    await sendEnvelope(outputs, envelope);
    await sendEnvelope(outputs, { ...envelope, id: 'other-id' });
    // Both copies reached the socket: only then is the handler count meaningful.
    await eventually(() => recording.frames.filter((f) => f.includes('"same-id"')).length === 2, 'two raw deliveries of same-id');
    await eventually(() => got.some((m) => m.id === 'other-id'), 'the other message');
    expect(got.map((m) => m.id).sort()).to.deep.equal(['other-id', 'same-id']);
    expect(got.find((m) => m.id === 'same-id')!.data).to.deep.equal({ n: 1 });
  });

  it('raises the server refusal as a typed INVALID_TOPIC error naming the topic, and keeps the rest working', async () => {
    const { outputs } = await start();
    const c = client();
    const got: string[] = [];
    await c.subscribe('fine', (m) => got.push(m.id));
    const err = await c.subscribe('not a topic!', () => undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RealtimeError);
    expect((err as RealtimeError).code).to.equal('INVALID_TOPIC');
    expect((err as RealtimeError).topics).to.deep.equal(['not a topic!']);
    expect(c.topics).to.deep.equal(['fine']);
    await sendEnvelope(outputs, { topic: 'fine', data: null, id: 'still-works' });
    await eventually(() => got.includes('still-works'), 'delivery on the good topic');
  });

  it('keeps a connection alive past a short idle timeout with heartbeats (one without them is dropped)', async () => {
    const idleTimeoutMs = 500;
    const { outputs } = await start({ idleTimeoutMs });
    const beating = recordingWebSocket();
    const alive = client({ heartbeatIntervalMs: idleTimeoutMs / 4, WebSocket: beating.WebSocket });
    const silent = client({ heartbeatIntervalMs: 60 * 60 * 1000 });
    const aliveSeen = record(alive);
    const silentSeen = record(silent);
    const got: string[] = [];
    await alive.subscribe('beat', (m) => got.push(m.id));
    await silent.subscribe('beat', () => undefined);

    await eventually(() => silentSeen.states.includes('reconnecting'), 'the silent client to be dropped for idling');
    await sleep(idleTimeoutMs * 2); // two more idle periods for the heartbeat client
    await sendEnvelope(outputs, { topic: 'beat', data: 1, id: 'beat-1' });
    await eventually(() => got.includes('beat-1'), 'a message on the kept connection');
    expect(aliveSeen.states).to.deep.equal(['connecting', 'open']);
    expect(beating.sockets).to.have.length(1);
    expect(beating.frames.filter((f) => f === '{"type":"pong"}').length).to.be.greaterThan(2);
  });

  it('replaces its socket ahead of a short max connection age without losing or doubling a message', async () => {
    const { outputs } = await start({ maxConnectionMs: 1500 });
    const recording = recordingWebSocket();
    const c = client({ maxConnectionAgeMs: 400, WebSocket: recording.WebSocket });
    const seen = record(c);
    const got: string[] = [];
    await c.subscribe('rotating', (m) => got.push(m.id));

    const sent: string[] = [];
    for (let i = 0; i < 25; i++) {
      const id = `r-${i}`;
      await sendEnvelope(outputs, { topic: 'rotating', data: { i }, id });
      sent.push(id);
      await sleep(80);
    }
    await eventually(() => got.length >= sent.length, 'every message');
    await sleep(100); // room for a doubled delivery to show up
    expect(got).to.have.members(sent);
    expect(got).to.have.length(sent.length);
    expect(recording.sockets.length).to.be.greaterThan(2); // it rotated several times
    expect(seen.states).to.deep.equal(['connecting', 'open']); // never dropped, never reconnecting
    expect(recording.closeCodes).not.to.include(1001); // the gateway's cap never hit
  });

  describe('with the $connect authorizer on', () => {
    const secret = 'client-test-secret';

    it('connects with a token as a query parameter or the bearer subprotocol; refuses a forbidden topic with FORBIDDEN', async () => {
      await start({ authSecret: secret });
      const token = await mintToken({ secret, sub: 'alice', topics: ['orders/*'] });
      const byQuery = client({ token, tokenTransport: 'query' });
      await byQuery.subscribe('orders/1', () => undefined);
      const byProtocol = client({ token: async () => token });
      await byProtocol.subscribe('orders/2', () => undefined);
      const err = (await byProtocol.subscribe('payroll/1', () => undefined).catch((e: unknown) => e)) as RealtimeError;
      expect(err).to.be.instanceOf(RealtimeError);
      expect(err.code).to.equal('FORBIDDEN');
      expect(err.topics).to.deep.equal(['payroll/1']);
    });

    /** Records each error with the time it was raised. */
    function timedErrors(c: RealtimeClient): { error: RealtimeError; at: number }[] {
      const errors: { error: RealtimeError; at: number }[] = [];
      c.on('error', (error) => errors.push({ error, at: Date.now() }));
      return errors;
    }

    it('raises UNAUTHORIZED (401) without a token or with an expired one, and waits long before trying again', async () => {
      await start({ authSecret: secret });
      const none = client({ reconnect: { baseDelayMs: 1, maxDelayMs: 400 } });
      const noneErrors = timedErrors(none);
      void none.connect().catch(() => undefined);
      const past = Math.floor(Date.now() / 1000) - 60;
      const stale = await new SignJWT({ topics: ['orders/*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuedAt(past - 60).setExpirationTime(past).sign(new TextEncoder().encode(secret));
      const expired = client({ token: stale, tokenTransport: 'subprotocol' });
      const expiredErrors = timedErrors(expired);
      void expired.connect().catch(() => undefined);

      await eventually(() => noneErrors.length >= 2 && expiredErrors.length >= 1, 'refused attempts');
      expect(noneErrors.map((e) => e.error.code)).to.deep.equal(['UNAUTHORIZED', 'UNAUTHORIZED']);
      expect(noneErrors[0].error.message).to.match(/401 Unauthorized: the server requires a token and none was given/);
      expect(noneErrors[1].at - noneErrors[0].at, 'the wait after a 401').to.be.at.least(200);
      expect(none.state).to.equal('reconnecting');
      expect(expiredErrors[0].error.code).to.equal('UNAUTHORIZED');
      expect(expiredErrors[0].error.message).to.contain(`the token expired at ${new Date(past * 1000).toISOString()}`);
    });

    it('raises FORBIDDEN (403, no topics) for an authentic token whose claims grant nothing', async () => {
      await start({ authSecret: secret });
      const unusable = await new SignJWT({ topics: 5 }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      const c = client({ token: unusable });
      const errors = timedErrors(c);
      void c.connect().catch(() => undefined);
      await eventually(() => errors.length >= 1, 'a refused attempt');
      expect([errors[0].error.code, errors[0].error.topics]).to.deep.equal(['FORBIDDEN', []]);
      expect(errors[0].error.message).to.contain('403 Forbidden');
    });
  });
});
