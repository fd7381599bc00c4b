/**
 * The client's subscription bookkeeping under overlapping requests and failed replies. The
 * invariant: once every request in flight has settled, the topics the server holds for the
 * connection are exactly the topics the application wants (`client.topics`).
 */
import { expect } from 'chai';
import { RealtimeClient, RealtimeError, type ConnectionState, type RealtimeClientOptions } from '../../client/index';
import { FakeServer, type FakeServerOptions } from './fake-server';
import { eventually as until, sleep } from './local-helpers';

describe('client subscription consistency (against an in-test server)', () => {
  let server: FakeServer | undefined;
  const clients: RealtimeClient[] = [];

  async function setup(options: FakeServerOptions = {}): Promise<FakeServer> {
    server = await new FakeServer(options).start();
    return server;
  }

  function client(extra: Partial<RealtimeClientOptions> = {}): { c: RealtimeClient; errors: RealtimeError[]; states: ConnectionState[] } {
    const c = new RealtimeClient({ url: server!.url, reconnect: { baseDelayMs: 20, maxDelayMs: 100 }, ...extra });
    clients.push(c);
    const errors: RealtimeError[] = [];
    const states: ConnectionState[] = [];
    c.on('error', (e) => errors.push(e));
    c.on('state', (s) => states.push(s));
    return { c, errors, states };
  }

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server?.close();
    server = undefined;
  });

  describe('overlapping subscribe and unsubscribe', () => {
    it('unsubscribing without awaiting, then subscribing again (React effect cleanup + re-run), ends subscribed', async () => {
      const srv = await setup({ answer: (_conn, r) => (r.action === 'unsubscribe' ? { delayMs: 50 } : 'reply') });
      const { c } = client();
      const got: string[] = [];
      const off = await c.subscribe('orders', (m) => got.push(`h1:${m.id}`));
      const unsubscribed = off(); // not awaited, as an effect cleanup does
      await c.subscribe('orders', (m) => got.push(`h2:${m.id}`));
      await unsubscribed;

      const [conn] = srv.open();
      // The resubscribe waits for the unsubscribe's reply: sent together, the server could run them in either order.
      expect(conn.log).to.deep.equal([
        'recv subscribe orders',
        'send subscribed orders',
        'recv unsubscribe orders',
        'send unsubscribed orders',
        'recv subscribe orders',
        'send subscribed orders',
      ]);
      expect([...conn.topics]).to.deep.equal(['orders']);
      expect(c.topics).to.deep.equal(['orders']);
      srv.publish('orders', 'm1', null);
      await until(() => got.length === 1, 'a message for the second handler');
      expect(got).to.deep.equal(['h2:m1']);
    });

    it('unsubscribing while the subscribe is in flight waits for its reply, then unsubscribes (nothing left on the server)', async () => {
      const srv = await setup({ answer: (_conn, r) => (r.action === 'subscribe' ? { delayMs: 50 } : 'reply') });
      const { c } = client();
      const subscribing = c.subscribe('x', () => undefined).catch((e: unknown) => e);
      await until(() => srv.connections[0]?.log.includes('recv subscribe x'), 'the subscribe request');
      await c.unsubscribe('x');

      expect(((await subscribing) as RealtimeError).code).to.equal('CANCELLED');
      const [conn] = srv.open();
      expect(conn.log).to.deep.equal(['recv subscribe x', 'send subscribed x', 'recv unsubscribe x', 'send unsubscribed x']);
      expect(conn.topics.size).to.equal(0);
      expect(c.topics).to.deep.equal([]);
    });

    it('after any interleaving of subscribe, unsubscribe and handler removal, the server holds exactly client.topics', async () => {
      for (const seed of [1, 7, 42]) {
        const random = seededRandom(seed);
        const srv = await setup({ answer: () => ({ delayMs: Math.floor(random() * 30) }) });
        const { c, errors } = client();
        const topics = ['a', 'b', 'c'];
        const inFlight: Promise<unknown>[] = [];
        const removers: (() => Promise<void>)[] = [];
        for (let i = 0; i < 40; i++) {
          const topic = topics[Math.floor(random() * topics.length)];
          const op = random();
          if (op < 0.5) {
            inFlight.push(c.subscribe(topic, () => undefined).then((off) => void removers.push(off), () => undefined));
          } else if (op < 0.8 && removers.length > 0) {
            inFlight.push(removers.splice(Math.floor(random() * removers.length), 1)[0]());
          } else {
            inFlight.push(c.unsubscribe(topic));
          }
          if (random() < 0.3) await sleep(Math.floor(random() * 5));
        }
        await Promise.all(inFlight);

        expect(srv.connections, `seed ${seed}: one connection throughout`).to.have.length(1);
        expect([...srv.connections[0].topics].sort(), `seed ${seed}`).to.deep.equal([...c.topics].sort());
        expect(errors, `seed ${seed}: no errors`).to.deep.equal([]);
        clients.splice(0).forEach((x) => x.close());
        await srv.close();
      }
      server = undefined;
    });
  });

  describe('failed replies are retried, never taken for a refusal', () => {
    it('keeps a subscription whose resubscribe after a reconnect times out, and restores it on a fresh socket', async () => {
      const srv = await setup({ answer: (conn) => (conn === srv.connections[1] && conn.received.length === 1 ? 'withhold' : 'reply') });
      const { c, errors } = client({ requestTimeoutMs: 100 });
      const got: string[] = [];
      await c.subscribe('t', (m) => got.push(m.id));
      srv.connections[0].socket.terminate();

      await until(() => errors.some((e) => e.code === 'TIMEOUT'), 'the resubscribe to time out');
      expect(c.topics).to.deep.equal(['t']); // still wanted: a lost reply is not a refusal
      await until(() => srv.open().length === 1 && srv.open()[0].topics.has('t'), 'resubscribed on a third socket');
      expect(srv.connections).to.have.length(3);
      srv.publish('t', 'after', null);
      await until(() => got.includes('after'), 'a message after the retry');
    });

    it('resolves a subscribe() whose first reply never comes, after retrying on a fresh socket', async () => {
      const srv = await setup({ answer: (conn) => (conn === srv.connections[0] ? 'withhold' : 'reply') });
      const { c, errors } = client({ requestTimeoutMs: 100 });
      await c.subscribe('t', () => undefined);
      expect(errors.map((e) => e.code)).to.include('TIMEOUT');
      expect(srv.connections).to.have.length(2);
      expect([...srv.connections[1].topics]).to.deep.equal(['t']);
      expect(c.topics).to.deep.equal(['t']);
    });

    it('replaces the socket when an unsubscribe reply never comes, so the server cannot keep the topic', async () => {
      const srv = await setup({ answer: (conn, r) => (conn === srv.connections[0] && r.action === 'unsubscribe' ? 'withhold' : 'reply') });
      const { c, errors } = client({ requestTimeoutMs: 100 });
      await c.subscribe('a', () => undefined);
      await c.subscribe('b', () => undefined);
      await c.unsubscribe('a');
      expect(errors.map((e) => e.code)).to.include('TIMEOUT');
      await until(() => srv.open().length === 1 && srv.open()[0] === srv.connections[1] && srv.connections[1].topics.size === 1, 'a fresh socket');
      expect([...srv.connections[1].topics]).to.deep.equal(['b']);
      expect(c.topics).to.deep.equal(['b']);
    });

    it("settles the request at once on API Gateway's own error frame, and retries it on a fresh socket", async () => {
      const srv = await setup({ answer: (conn) => (conn === srv.connections[0] ? 'gateway-error' : 'reply') });
      const { c, errors, states } = client(); // default requestTimeoutMs: 30 s
      const subscribed = c.subscribe('t', () => undefined);
      await until(() => errors.length > 0, 'the error to be reported');
      expect(errors[0].code).to.equal('INTERNAL');
      expect(errors[0].message).to.contain('Internal server error');
      await subscribed; // settled by the frame itself, not left to time out (30 s)
      // Replaced make-before-break: the client was never without a socket.
      expect(states).to.deep.equal(['connecting', 'open']);
      expect([...srv.connections[1].topics]).to.deep.equal(['t']);
    });

    it("retries a subscribe answered with the server's INTERNAL error instead of rejecting it", async () => {
      const srv = await setup({ answer: (conn) => (conn === srv.connections[0] ? 'internal' : 'reply') });
      const { c, errors } = client();
      await c.subscribe('t', () => undefined);
      expect(errors.map((e) => e.code)).to.include('INTERNAL');
      expect([...srv.connections[1].topics]).to.deep.equal(['t']);
    });

    it('drops the handlers of topics the server refuses on resubscribe (named in its reply) and says so', async () => {
      let refusing = false;
      const srv = await setup({ refuse: (t) => refusing && t === 'secret' });
      const { c, errors } = client();
      await c.subscribe('secret', () => undefined);
      await c.subscribe('open', () => undefined);
      refusing = true; // e.g. the principal's permissions changed
      srv.connections[0].socket.terminate();
      await until(() => errors.some((e) => e.code === 'INVALID_TOPIC'), 'the refusal');
      const refusal = errors.find((e) => e.code === 'INVALID_TOPIC')!;
      expect(refusal.topics).to.deep.equal(['secret']);
      await until(() => srv.connections[1]?.topics.has('open'), 'the other topic restored');
      expect(c.topics).to.deep.equal(['open']);
    });
  });

  describe('a failing request replaces the socket make-before-break, and a failing topic cannot keep the others down', () => {
    const failures = [
      { answer: 'withhold', code: 'TIMEOUT' },
      { answer: 'gateway-error', code: 'INTERNAL' },
      { answer: 'internal', code: 'INTERNAL' },
    ] as const;
    for (const { answer, code } of failures) {
      it(`keeps A and B delivered, on every socket, while a subscribe to X fails again and again (${answer})`, async () => {
        const srv = await setup({ answer: (_conn, r) => (r.topics.includes('X') ? answer : 'reply') });
        const { c, errors, states } = client({ requestTimeoutMs: 50 });
        const got: string[] = [];
        await c.subscribe('A', (m) => got.push(m.id));
        await c.subscribe('B', (m) => got.push(m.id));
        let xSettled = false;
        c.subscribe('X', () => undefined).then(
          () => (xSettled = true),
          () => (xSettled = true),
        );

        // Publish to A and B throughout three failures of X (three sockets) and the switches that follow.
        const sent: string[] = [];
        for (let n = 0; errors.filter((e) => e.code === code).length < 3 || srv.connections.length < 4; n++) {
          for (const topic of ['A', 'B']) {
            const id = `${topic}-${n}`;
            expect(srv.publish(topic, id, null), `an open socket holds ${topic} when ${id} is published`).to.be.at.least(1);
            sent.push(id);
          }
          await sleep(2);
        }
        await until(() => sent.every((id) => got.includes(id)), 'every message published to A and B');
        expect(got, 'each exactly once').to.have.length(sent.length);
        expect(states, 'never without a socket').to.deep.equal(['connecting', 'open']);
        expect(xSettled, 'subscribe(X) keeps waiting').to.equal(false);
        expect(c.topics).to.deep.equal(['A', 'B', 'X']);
        // On each replacement the failed topic travels alone, so A and B are confirmed without it.
        for (const conn of srv.connections.slice(1, 3)) {
          expect(conn.log.filter((line) => line.startsWith('recv'))).to.deep.equal(['recv subscribe A,B', 'recv subscribe X']);
        }
        // The replaced sockets are closed: one open socket (and at most its own replacement).
        expect(srv.open().length).to.be.at.most(2);
      });
    }

    it('restores X alone once it works again, and closes the socket it failed on', async () => {
      let failing = true;
      const srv = await setup({ answer: (_conn, r) => (failing && r.topics.includes('X') ? 'withhold' : 'reply') });
      const { c, errors } = client({ requestTimeoutMs: 50 });
      await c.subscribe('A', () => undefined);
      const subscribed = c.subscribe('X', () => undefined);
      await until(() => errors.some((e) => e.code === 'TIMEOUT'), 'X to time out');
      failing = false;
      await subscribed;
      await until(() => srv.open().length === 1, 'the failed socket to close');
      expect([...srv.open()[0].topics].sort()).to.deep.equal(['A', 'X']);
    });
  });

  describe('backoff', () => {
    const attemptOf = (c: RealtimeClient) => (c as unknown as { attempt: number }).attempt;

    it('keeps growing for a server that confirms and then closes at once, and resets once a connection answers a heartbeat', async () => {
      // No pongs while the server misbehaves, so no heartbeat can prove a connection healthy meanwhile.
      const options: FakeServerOptions = { pong: false, onSubscribe: (conn) => void (options.pong || setImmediate(() => conn.socket.close(1011, 'going away'))) };
      const srv = await setup(options);
      const { c } = client({ reconnect: { baseDelayMs: 1, maxDelayMs: 5 }, heartbeatIntervalMs: 20 });
      await c.subscribe('t', () => undefined);
      await until(() => srv.connections.length >= 6, 'several reconnects');
      expect(attemptOf(c), 'consecutive failures, not reset by each confirmation').to.be.at.least(4);
      options.pong = true; // and stops closing
      await until(() => attemptOf(c) === 0, 'the reset after a healthy heartbeat');
    });

    it('keeps growing for a client with no topics whose connections close at once', async () => {
      // No pongs while the server misbehaves, so no heartbeat can prove a connection healthy meanwhile.
      const options: FakeServerOptions = { pong: false, onConnection: (conn) => void (options.pong || setImmediate(() => conn.socket.close(1011, 'going away'))) };
      const srv = await setup(options);
      const { c } = client({ reconnect: { baseDelayMs: 1, maxDelayMs: 5 }, heartbeatIntervalMs: 20 });
      await c.connect();
      await until(() => srv.connections.length >= 6, 'several reconnects');
      expect(attemptOf(c)).to.be.at.least(4);
      options.pong = true; // and stops closing
      await until(() => attemptOf(c) === 0, 'the reset after a healthy heartbeat');
    });
  });
});

/** A small deterministic generator (mulberry32), so a failing interleaving can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
