/**
 * The client against an in-test `ws` server: reply matching, errors, de-duplication, heartbeat,
 * reconnect, rotation ahead of the connection cap, token transport.
 */
import { expect } from 'chai';
import { RealtimeClient, RealtimeError, type ConnectionState, type DeliveredMessage } from '../../client/index';
import { backoffDelay } from '../../client/backoff';
import { RecentIds } from '../../client/recent-ids';
import { FakeServer, fakeClientMessageId, type FakeServerOptions, type PublishRequest } from './fake-server';
import { eventually as until } from './local-helpers';

describe('client (against an in-test server)', () => {
  let server: FakeServer;
  const clients: RealtimeClient[] = [];

  async function setup(options: FakeServerOptions = {}): Promise<void> {
    server = await new FakeServer(options).start();
  }

  function client(extra: Partial<ConstructorParameters<typeof RealtimeClient>[0]> = {}): RealtimeClient {
    const c = new RealtimeClient({ url: server.url, reconnect: { baseDelayMs: 20, maxDelayMs: 100 }, ...extra });
    clients.push(c);
    return c;
  }

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server?.close();
  });

  it('resolves subscribe on the reply and calls the handler for each message, once per id', async () => {
    await setup();
    const c = client();
    const got: DeliveredMessage[] = [];
    const states: ConnectionState[] = [];
    c.on('state', (s) => states.push(s));
    await c.subscribe('orders/42', (m) => got.push(m));
    expect(c.state).to.equal('open');
    expect(server.publish('orders/42', 'm1', { n: 1 })).to.equal(1);
    server.publish('orders/42', 'm1', { n: 1 }); // a redelivery
    server.publish('orders/42', 'm2', { n: 2 });
    await until(() => got.length >= 2, 'two messages');
    await new Promise((r) => setTimeout(r, 50)); // room for a wrongly delivered duplicate
    expect(got.map((m) => [m.topic, m.id, m.data])).to.deep.equal([
      ['orders/42', 'm1', { n: 1 }],
      ['orders/42', 'm2', { n: 2 }],
    ]);
    expect(states).to.deep.equal(['connecting', 'open']);
  });

  it('delivers one id published to two topics once per topic', async () => {
    await setup();
    const c = client();
    const got: string[] = [];
    await c.subscribe('a', (m) => got.push(`${m.topic}:${m.id}`));
    await c.subscribe('b', (m) => got.push(`${m.topic}:${m.id}`));
    server.publish('a', 'same', 1);
    server.publish('b', 'same', 1);
    await until(() => got.length === 2, 'both topics');
    expect(got.sort()).to.deep.equal(['a:same', 'b:same']);
  });

  it('rejects subscribe with a typed error naming the refused topic, and keeps other subscriptions', async () => {
    await setup({ refuse: (t) => t.startsWith('bad') });
    const c = client();
    const got: string[] = [];
    await c.subscribe('good', (m) => got.push(m.id));
    const err = await c.subscribe('bad-topic', () => got.push('wrong')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RealtimeError);
    expect((err as RealtimeError).code).to.equal('INVALID_TOPIC');
    expect((err as RealtimeError).topics).to.deep.equal(['bad-topic']);
    expect(c.topics).to.deep.equal(['good']);
    server.publish('good', 'x', null);
    await until(() => got.length === 1, 'the good topic still delivering');
    expect(got).to.deep.equal(['x']);
  });

  it('matches replies that come back out of order by their topics', async () => {
    await setup({ delayFor: (topics) => (topics.includes('slow') ? 150 : 0) });
    const c = client();
    await c.connect();
    const order: string[] = [];
    const slow = c.subscribe('slow', () => undefined).then(() => order.push('slow'));
    const fast = c.subscribe('fast', () => undefined).then(() => order.push('fast'));
    await Promise.all([slow, fast]);
    expect(order).to.deep.equal(['fast', 'slow']);
  });

  it('unsubscribes when the last handler is removed, and stops delivering', async () => {
    await setup();
    const c = client();
    const got: string[] = [];
    const off1 = await c.subscribe('t', (m) => got.push(`1:${m.id}`));
    const off2 = await c.subscribe('t', (m) => got.push(`2:${m.id}`));
    await off1();
    expect(server.open()[0].topics.has('t')).to.equal(true);
    server.publish('t', 'a', null);
    await until(() => got.length === 1, 'one handler left');
    await off2();
    expect(server.open()[0].topics.has('t')).to.equal(false);
    expect(server.open()[0].received).to.deep.include({ action: 'unsubscribe', topics: ['t'] });
    expect(c.topics).to.deep.equal([]);
    expect(got).to.deep.equal(['2:a']);
  });

  it('reconnects after the server drops the socket and resubscribes every topic in one request, resuming each from its position', async () => {
    await setup();
    const c = client();
    const states: ConnectionState[] = [];
    const errors: RealtimeError[] = [];
    c.on('state', (s) => states.push(s));
    c.on('error', (e) => errors.push(e));
    const got: string[] = [];
    await c.subscribe('a', (m) => got.push(m.id));
    await c.subscribe('b', (m) => got.push(m.id));
    server.connections[0].socket.terminate();
    await until(() => server.open().length === 1 && server.open()[0].topics.size === 2, 'resubscribed on a new socket');
    expect(server.connections).to.have.length(2);
    expect(server.connections[1].received[0]).to.deep.equal({ action: 'subscribe', topics: ['a', 'b'], since: { a: server.position('a'), b: server.position('b') } });
    await until(() => c.state === 'open', 'open again');
    server.publish('b', 'after', null);
    await until(() => got.length === 1, 'a message after reconnecting');
    expect(states).to.deep.equal(['connecting', 'open', 'reconnecting', 'open']);
    expect(errors.map((e) => e.code)).to.deep.equal(['CONNECTION_FAILED']);
  });

  it('sends ping heartbeats at the configured interval', async () => {
    await setup();
    const c = client({ heartbeatIntervalMs: 30 });
    await c.connect();
    await until(() => server.connections[0].received.filter((b) => (b as { action: string }).action === 'ping').length >= 3, 'three pings');
    expect(server.connections).to.have.length(1);
  });

  it('drops a socket that stops answering heartbeats and reconnects', async () => {
    await setup({ pong: false });
    const c = client({ heartbeatIntervalMs: 30 });
    await c.subscribe('t', () => undefined);
    await until(() => server.connections.length >= 2 && server.connections[1].topics.has('t'), 'a second, resubscribed socket');
  });

  it('replaces the socket ahead of the max connection age: subscribe the new one first, then close the old, no message lost or doubled', async () => {
    let rotated = false;
    await setup({
      // While the replacement subscribes, publish on both sockets: the overlap the client de-duplicates.
      onSubscribe: (conn) => {
        if (server.connections.indexOf(conn) === 1 && !rotated) {
          rotated = true;
          server.publish('t', 'overlap', 'x');
        }
      },
    });
    const c = client({ maxConnectionAgeMs: 150 });
    const got: string[] = [];
    const states: ConnectionState[] = [];
    await c.subscribe('t', (m) => got.push(m.id));
    c.on('state', (s) => states.push(s));
    await until(() => server.connections.length === 2 && server.connections[0].socket.readyState === server.connections[0].socket.CLOSED, 'the old socket closed');
    expect(server.connections[1].topics.has('t')).to.equal(true);
    server.publish('t', 'later', 'y');
    await until(() => got.length === 2, 'the later message');
    expect(got).to.deep.equal(['overlap', 'later']);
    expect(states).to.deep.equal([]); // never left `open`
    c.close();
  });

  it('sends the token as the bearer subprotocol by default (never in the URL), or as a query parameter when asked', async () => {
    await setup({ protocol: 'realtime' });
    const s = client({ token: () => 'jwt.from.fn' });
    await s.connect();
    expect(server.connections[0].request.headers['sec-websocket-protocol']?.split(/,\s*/)).to.deep.equal(['realtime', 'bearer.jwt.from.fn']);
    expect(server.connections[0].request.url).to.equal('/local');
    const q = client({ token: 'abc.def.ghi', tokenTransport: 'query' });
    await q.connect();
    expect(new URL(server.connections[1].request.url!, 'http://x').searchParams.get('token')).to.equal('abc.def.ghi');
    expect(server.connections[1].request.headers['sec-websocket-protocol']).to.equal(undefined);
  });

  it('reports an unknown frame as a PROTOCOL error and keeps working', async () => {
    await setup();
    const c = client();
    const errors: RealtimeError[] = [];
    c.on('error', (e) => errors.push(e));
    const got: string[] = [];
    await c.subscribe('t', (m) => got.push(m.id));
    server.open()[0].socket.send('{"type":"surprise"}');
    server.open()[0].socket.send('not json');
    server.publish('t', 'ok', null);
    await until(() => got.length === 1, 'a message after the bad frames');
    expect(errors.map((e) => e.code)).to.deep.equal(['PROTOCOL', 'PROTOCOL']);
  });

  it('reports a throwing handler as a HANDLER error without breaking delivery to the others', async () => {
    await setup();
    const c = client();
    const errors: RealtimeError[] = [];
    c.on('error', (e) => errors.push(e));
    const got: string[] = [];
    await c.subscribe('t', () => {
      throw new Error('boom');
    });
    await c.subscribe('t', (m) => got.push(m.id));
    server.publish('t', 'm', null);
    await until(() => got.length === 1, 'the second handler');
    expect(errors.map((e) => [e.code, (e.cause as Error).message])).to.deep.equal([['HANDLER', 'boom']]);
  });

  it('keeps retrying an unreachable server with CONNECTION_FAILED errors, and close() rejects the waiting subscribe', async () => {
    await setup();
    const url = server.url;
    await server.close();
    const c = new RealtimeClient({ url, reconnect: { baseDelayMs: 10, maxDelayMs: 20 } });
    clients.push(c);
    const errors: RealtimeError[] = [];
    c.on('error', (e) => errors.push(e));
    const pending = c.subscribe('t', () => undefined).catch((e: unknown) => e);
    await until(() => errors.length >= 2, 'two failed attempts');
    expect(c.state).to.equal('reconnecting');
    expect(errors[0].code).to.equal('CONNECTION_FAILED');
    expect(errors[0].message).to.contain('ECONNREFUSED');
    c.close();
    const err = (await pending) as RealtimeError;
    expect(err.code).to.equal('CLOSED');
    expect(c.state).to.equal('closed');
    server = await new FakeServer().start(); // for afterEach
  });

  it('matches publish replies by id: refusals and acceptances answered out of order reach the right publish', async () => {
    const held: { request: PublishRequest; answer: (frame: Record<string, unknown>) => void }[] = [];
    await setup({ onPublish: (_conn, request, answer) => held.push({ request, answer }) });
    const c = client();
    const outcomes = ['a', 'b', 'c', 'd'].map((id) => c.publish('chat/1', id, { id }).then((r) => `sent ${r.id}`, (e: RealtimeError) => `${e.code} ${e.topics.join(',')}`));
    const own = c.publish('chat/1', 'no id given').then((r) => r.id);
    await until(() => held.length === 5, 'the five publishes at the server');
    const ids = held.map((h) => h.request.id);
    expect(ids.slice(0, 4)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(ids[4], 'an id is generated when the app gives none').to.be.a('string').and.match(/^[A-Za-z0-9_.:-]{1,64}$/);
    // Last first, and a refusal between two acceptances: a topic-based match would mix them up.
    const answer = (i: number, frame: Record<string, unknown>) => held[i].answer(frame);
    answer(4, { type: 'published', topic: 'chat/1', id: fakeClientMessageId(ids[4]!) });
    answer(3, { type: 'published', topic: 'chat/1', id: fakeClientMessageId('d') });
    answer(1, { type: 'error', code: 'RATE_LIMITED', message: 'wait', topics: ['chat/1'], id: 'b' });
    answer(2, { type: 'published', topic: 'chat/1', id: fakeClientMessageId('c') });
    answer(0, { type: 'error', code: 'PAYLOAD_TOO_LARGE', message: 'big', topics: ['chat/1'], id: 'a' });
    expect(await Promise.all(outcomes)).to.deep.equal(['PAYLOAD_TOO_LARGE chat/1', 'RATE_LIMITED chat/1', `sent ${fakeClientMessageId('c')}`, `sent ${fakeClientMessageId('d')}`]);
    expect(await own).to.equal(fakeClientMessageId(ids[4]!));
    await c.publish('chat/1', 1, { id: 'bad id' }).then(
      () => expect.fail('an id outside the pattern is refused before sending'),
      (e: unknown) => expect(e).to.be.instanceOf(TypeError),
    );
  });

  it("a publish's FORBIDDEN does not reject a subscribe of the same topic in flight", async () => {
    let releaseSubscribe!: () => void;
    const subscribeHeld = new Promise<void>((resolve) => (releaseSubscribe = resolve));
    await setup({
      answer: (_conn, request) => (request.action === 'subscribe' ? { delayMs: 50 } : 'reply'),
      onPublish: (_conn, request, answer) => {
        // The subscribe is still unanswered when the publish is refused.
        releaseSubscribe();
        answer({ type: 'error', code: 'FORBIDDEN', message: 'no publish claim for this topic', topics: [request.topic], id: request.id });
      },
    });
    const c = client();
    const errors: RealtimeError[] = [];
    c.on('error', (e) => errors.push(e));
    const subscribed = c.subscribe('room/1', () => undefined);
    await c.connect();
    const published = c.publish('room/1', 'hello').catch((e: unknown) => e);
    await subscribeHeld;
    expect(await published).to.be.instanceOf(RealtimeError).and.include({ code: 'FORBIDDEN' });
    await subscribed;
    expect(c.topics).to.deep.equal(['room/1']);
    expect(server.connections[0].log).to.include('send subscribed room/1');
    expect(errors).to.deep.equal([]);
  });

  it('a presence room opened on a topic already held starts from the last list and the events since', async () => {
    await setup({
      onReply: (_conn, reply) => {
        if (reply.topics.includes('room/1')) Object.assign(reply, { presence: { 'room/1': { members: [{ id: 'alice', data: { n: 1 } }, { id: 'bob' }], count: 2 } } });
      },
    });
    const c = client();
    const got: string[] = [];
    const stop = await c.subscribe('room/1', (m) => got.push(m.id));
    const conn = server.connections[0];
    server.send(conn, { type: 'presence', topic: 'room/1', event: 'join', member: { id: 'carol' }, count: 3 });
    server.send(conn, { type: 'presence', topic: 'room/1', event: 'leave', member: { id: 'bob' }, count: 2 });
    server.publish('room/1', 'after-the-events', null); // same socket, in order: once it is in, so are they
    await until(() => got.includes('after-the-events'), 'the message after the events');
    const first = await c.presence('room/1');
    expect(server.connections[0].log.filter((l) => l.startsWith('recv subscribe'))).to.have.length(1); // no new subscribe
    expect([...first.members.keys()].sort()).to.deep.equal(['alice', 'carol']);
    expect(first.members.get('alice')).to.deep.equal({ id: 'alice', data: { n: 1 } });
    expect(first.count).to.equal(2);
    expect(first.listed).to.equal(true);
    // A second room on the same topic, after another event, agrees with the first.
    server.send(conn, { type: 'presence', topic: 'room/1', event: 'join', member: { id: 'dave' }, count: 3 });
    await until(() => first.count === 3, 'the join reaching the first room');
    const second = await c.presence('room/1');
    expect([...second.members.keys()].sort()).to.deep.equal(['alice', 'carol', 'dave']);
    expect(second.count).to.equal(3);
    // Once the topic is dropped, what was known is forgotten; a new subscribe lists afresh.
    await Promise.all([stop(), first.close(), second.close()]);
    expect(c.topics).to.deep.equal([]);
    expect([...(await c.presence('room/1')).members.keys()].sort()).to.deep.equal(['alice', 'bob']);
    expect(server.connections[0].log.filter((l) => l.startsWith('recv subscribe'))).to.have.length(2);
  });

  it('presence() on a topic the server keeps no members of rejects NOT_PRESENCE and lets the topic go', async () => {
    await setup();
    const c = client();
    const err = await c.presence('plain/1').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RealtimeError).and.include({ code: 'NOT_PRESENCE' });
    expect((err as RealtimeError).topics).to.deep.equal(['plain/1']);
    expect(c.topics).to.deep.equal([]);
    await until(() => server.connections[0].log.some((l) => l.startsWith('recv unsubscribe')), 'the unsubscribe');
  });

  it('rejects bad options up front', () => {
    expect(() => new RealtimeClient({ url: '' })).to.throw(TypeError, /url/);
    expect(() => new RealtimeClient({ url: 'ws://x', heartbeatIntervalMs: 0 })).to.throw(RangeError, /heartbeatIntervalMs/);
  });
});

describe('client helpers', () => {
  it('backoffDelay draws from [0, min(max, base * 2^attempt)) (full jitter)', () => {
    expect(backoffDelay(0, 100, 10_000, () => 0.999)).to.equal(99);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).to.equal(400);
    expect(backoffDelay(20, 100, 10_000, () => 0.999)).to.equal(9990);
    expect(backoffDelay(5, 100, 10_000, () => 0)).to.equal(0);
    expect(backoffDelay(10_000, 100, 10_000, () => 0.5)).to.equal(5000);
  });

  it('RecentIds forgets the least recently seen key past its capacity', () => {
    const ids = new RecentIds(2);
    expect(ids.add('a')).to.equal(true);
    expect(ids.add('b')).to.equal(true);
    expect(ids.add('a')).to.equal(false); // refreshed: b is now the oldest
    expect(ids.add('c')).to.equal(true); // evicts b
    expect(ids.size).to.equal(2);
    expect(ids.add('a')).to.equal(false);
    expect(ids.add('b')).to.equal(true);
    expect(() => new RecentIds(0)).to.throw(RangeError);
  });
});
