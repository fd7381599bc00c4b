/**
 * Message continuity in the client (DESIGN.md, "Message continuity"), against the in-test
 * server, which keeps streams as the real one does: each message delivered once and in seq
 * order per topic, resume on every reconnect and rotation, gaps filled with subscribe+since,
 * holes and in-flight messages never taken for losses, `recovered: false` raised as a gap event,
 * positions the app can store and resume from.
 */
import { expect } from 'chai';
import { RealtimeClient, type ConnectionState, type DeliveredMessage, type Gap, type RealtimeClientOptions, type RealtimeError, type StreamPosition } from '../../client/index';
import { RECOVERY_RETRIES } from '../../client/stream';
import { FakeServer, type FakeConnection, type FakeServerOptions } from './fake-server';
import { eventually as until, sleep } from './local-helpers';

interface Seen {
  messages: DeliveredMessage[];
  gaps: Gap[];
  positions: [string, StreamPosition][];
  errors: RealtimeError[];
  states: ConnectionState[];
}

/** The subscribe requests that carried `since` (resumes and recoveries). */
const resumes = (conn: FakeConnection) => conn.received.filter((b) => (b as { since?: unknown }).since !== undefined) as { action: string; topics: string[]; since: Record<string, unknown> }[];
const seqs = (messages: DeliveredMessage[], topic = 't') => messages.filter((m) => m.topic === topic).map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('client message continuity (against an in-test server)', () => {
  let server: FakeServer;
  const clients: RealtimeClient[] = [];

  async function setup(options: FakeServerOptions = {}): Promise<FakeServer> {
    server = await new FakeServer({ replayConcurrency: 3, ...options }).start();
    return server;
  }

  function client(extra: Partial<RealtimeClientOptions> = {}): { c: RealtimeClient; seen: Seen } {
    const c = new RealtimeClient({ url: server.url, reconnect: { baseDelayMs: 20, maxDelayMs: 100 }, ...extra });
    clients.push(c);
    const seen: Seen = { messages: [], gaps: [], positions: [], errors: [], states: [] };
    c.on('message', (m) => seen.messages.push(m));
    c.on('gap', (g) => seen.gaps.push(g));
    c.on('position', (topic, p) => seen.positions.push([topic, p]));
    c.on('error', (e) => seen.errors.push(e));
    c.on('state', (s) => seen.states.push(s));
    return { c, seen };
  }

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server?.close();
  });

  it('delivers messages that arrive out of order in seq order, once each', async () => {
    await setup();
    const { c, seen } = client();
    await c.subscribe('t', () => undefined);
    const [one, two, three] = ['m1', 'm2', 'm3'].map((id) => server.reserve('t', id, id));
    three.land();
    one.land();
    three.land(); // a redelivery: same id, same seq
    two.land();
    server.publish('t', 'm4', 'm4');
    await until(() => seen.messages.length >= 4, 'four messages');
    expect(seqs(seen.messages)).to.deep.equal([1, 2, 3, 4]);
    expect(seen.messages.map((m) => m.id)).to.deep.equal(['m1', 'm2', 'm3', 'm4']);
    expect(seen.gaps).to.deep.equal([]);
  });

  it('resumes after a reconnect: what was published while the socket was down is replayed, in order, once', async () => {
    await setup();
    const { c, seen } = client();
    await c.subscribe('t', () => undefined);
    for (const n of range(1, 5)) server.publish('t', `m${n}`, n);
    await until(() => seen.messages.length === 5, 'the first five');
    server.connections[0].socket.terminate();
    for (const n of range(6, 20)) expect(server.publish('t', `m${n}`, n), 'nobody holds the topic').to.equal(0);

    await until(() => seen.messages.length >= 20, 'all twenty');
    expect(seqs(seen.messages)).to.deep.equal(range(1, 20));
    expect(server.connections[1].received[0]).to.deep.equal({ action: 'subscribe', topics: ['t'], since: { t: { epoch: server.position('t').epoch, seq: 5 } } });
    expect(seen.gaps).to.deep.equal([]);
    expect(c.positions()).to.deep.equal({ t: server.position('t') });
  });

  it('fills a gap seen live (frames lost on an open socket) by resubscribing with since on the same socket', async () => {
    await setup();
    const { c, seen } = client({ gapWaitMs: 30 });
    await c.subscribe('t', () => undefined);
    server.publish('t', 'm1', 1);
    server.publish('t', 'm2', 2);
    await until(() => seen.messages.length === 2, 'two messages');
    for (const n of range(3, 7)) server.publish('t', `m${n}`, n, { to: () => false }); // lost on the way
    server.publish('t', 'm8', 8);

    await until(() => seen.messages.length >= 8, 'the lost ones, then the one after them');
    expect(seqs(seen.messages)).to.deep.equal(range(1, 8));
    expect(server.connections).to.have.length(1);
    expect(resumes(server.connections[0])).to.deep.equal([{ action: 'subscribe', topics: ['t'], since: { t: { epoch: server.position('t').epoch, seq: 2 } } }]);
    expect(seen.gaps).to.deep.equal([]);
  });

  it('keeps order when live messages interleave with a replay that arrives out of order', async () => {
    let live = 0;
    const srv = await setup({
      replayConcurrency: 4,
      // While the resume replays, publish live messages between its batches.
      answer: (conn, request) => {
        if (conn === srv.connections[1] && request.action === 'subscribe' && live === 0) {
          const next = () => {
            if (++live > 6) return;
            srv.publish('t', `live${live}`, null);
            setImmediate(next);
          };
          setImmediate(next);
        }
        return 'reply';
      },
    });
    const { c, seen } = client();
    await c.subscribe('t', () => undefined);
    srv.publish('t', 'm1', 1);
    await until(() => seen.messages.length === 1, 'the first message');
    srv.connections[0].socket.terminate();
    for (const n of range(2, 30)) srv.publish('t', `m${n}`, n);

    await until(() => seen.messages.length >= 36, 'the replay and the live messages');
    expect(seqs(seen.messages)).to.deep.equal(range(1, 36));
    expect(new Set(seen.messages.map((m) => m.id)).size).to.equal(36);
  });

  it('waits for a message in flight (its seq given out, not yet written) past the first recovery, and delivers it in order', async () => {
    let landed = false;
    const srv = await setup({
      // The in-flight message lands right after the recovery's reply, which could not replay it.
      onReply: (_conn, reply) => {
        if (reply.recovered?.t === true && !landed) {
          landed = true;
          setImmediate(() => inFlight.land());
        }
      },
    });
    const { c, seen } = client({ gapWaitMs: 30 });
    await c.subscribe('t', () => undefined);
    srv.publish('t', 'm1', 1);
    await until(() => seen.messages.length === 1, 'the first message');
    const inFlight = srv.reserve('t', 'm2', 2);
    srv.publish('t', 'm3', 3);

    await until(() => seen.messages.length >= 3, 'all three');
    expect(seqs(seen.messages)).to.deep.equal([1, 2, 3]);
    expect(landed).to.equal(true);
    expect(seen.gaps).to.deep.equal([]);
  });

  it(`takes seqs that never come for holes after ${RECOVERY_RETRIES} more asks, without a gap event; one that turns up later is delivered once`, async () => {
    const srv = await setup();
    const { c, seen } = client({ gapWaitMs: 20 });
    await c.subscribe('t', () => undefined);
    srv.publish('t', 'm1', 1);
    await until(() => seen.messages.length === 1, 'the first message');
    srv.skip('t'); // seq 2: given out, never used
    const late = srv.reserve('t', 'm3', 3); // seq 3: in flight for long
    srv.publish('t', 'm4', 4);

    await until(() => seen.messages.length === 2, 'the message after the holes');
    expect(seqs(seen.messages)).to.deep.equal([1, 4]);
    expect(resumes(srv.connections[0])).to.have.length(1 + RECOVERY_RETRIES);
    expect(seen.gaps).to.deep.equal([]);
    expect(c.positions().t.seq).to.equal(4);

    late.land();
    late.land(); // and its redelivery
    srv.publish('t', 'm5', 5);
    await until(() => seen.messages.length >= 4, 'the late one and the next');
    expect(seqs(seen.messages)).to.deep.equal([1, 4, 3, 5]);
  });

  it('raises a gap event when retention passed the position (recovered: false), then continues from the new position', async () => {
    const srv = await setup({ retain: 3 });
    const { c, seen } = client();
    const got: number[] = [];
    await c.subscribe('t', (m) => got.push(m.seq!));
    srv.publish('t', 'm1', 1);
    await until(() => got.length === 1, 'the first message');
    const { epoch } = srv.position('t');
    srv.connections[0].socket.terminate();
    for (const n of range(2, 6)) srv.publish('t', `m${n}`, n); // 2 and 3 are dropped by retention

    await until(() => seen.gaps.length === 1, 'the gap event');
    expect(seen.gaps[0]).to.deep.equal({ topic: 't', reason: 'expired', from: { epoch, seq: 1 }, to: { epoch, seq: 6 } });
    expect(c.positions()).to.deep.equal({ t: { epoch, seq: 6 } });
    srv.publish('t', 'm7', 7);
    await until(() => got.length === 2, 'the next message');
    expect(got).to.deep.equal([1, 7]);
  });

  it("raises a gap event when the topic's epoch changes under a live subscription, then continues in the new stream", async () => {
    const srv = await setup();
    const { c, seen } = client();
    await c.subscribe('t', () => undefined);
    srv.publish('t', 'a1', 1);
    srv.publish('t', 'a2', 2);
    await until(() => seen.messages.length === 2, 'two messages');
    const old = srv.position('t');
    const epoch = srv.resetEpoch('t');
    srv.publish('t', 'b1', 1);

    await until(() => seen.gaps.length === 1, 'the gap event');
    expect(seen.gaps[0]).to.deep.equal({ topic: 't', reason: 'epoch', from: old, to: { epoch, seq: 1 } });
    srv.publish('t', 'b2', 2);
    await until(() => seen.messages.length === 3, 'a message of the new stream');
    expect(seen.messages.map((m) => [m.epoch, m.seq])).to.deep.equal([
      [old.epoch, 1],
      [old.epoch, 2],
      [epoch, 2],
    ]);
    expect(srv.connections).to.have.length(1);
  });

  it('resumes from stored positions after a "page reload" (positions option, subscribe since), and says so when the stored epoch is stale', async () => {
    const srv = await setup();
    const first = client();
    await first.c.subscribe('t', () => undefined);
    await first.c.subscribe('u', () => undefined);
    for (const n of range(1, 3)) srv.publish('t', `m${n}`, n);
    await until(() => first.seen.messages.length === 3, 'three messages');
    const stored = JSON.parse(JSON.stringify(first.c.positions())) as Record<string, StreamPosition>;
    expect(stored).to.deep.equal({ t: srv.position('t'), u: srv.position('u') });
    expect(first.seen.positions.filter(([topic]) => topic === 't').map(([, p]) => p.seq)).to.deep.equal([0, 1, 2, 3]);
    first.c.close();

    srv.publish('t', 'm4', 4);
    srv.publish('t', 'm5', 5);
    const staleU = srv.position('u');
    const uEpoch = srv.resetEpoch('u');
    srv.publish('u', 'u1', 1);

    const second = client({ positions: stored });
    await second.c.subscribe('t', () => undefined);
    await second.c.subscribe('u', () => undefined);
    await until(() => second.seen.messages.length === 2 && second.seen.gaps.length === 1, 'the replay and the gap');
    expect(seqs(second.seen.messages)).to.deep.equal([4, 5]);
    expect(second.seen.gaps).to.deep.equal([{ topic: 'u', reason: 'epoch', from: staleU, to: { epoch: uEpoch, seq: 1 } }]);

    // subscribe(…, { since }) too, with or without the epoch.
    const third = client();
    await third.c.subscribe('t', () => undefined, { since: { seq: 3 } });
    await until(() => third.seen.messages.length === 2, 'the replay');
    expect(seqs(third.seen.messages)).to.deep.equal([4, 5]);
    expect(third.seen.gaps).to.deep.equal([]);
  });

  it('rotates sockets ahead of the connection cap, every subscribe resuming: each message once, in order', async () => {
    const srv = await setup();
    const { c, seen } = client({ maxConnectionAgeMs: 60 });
    await c.subscribe('t', () => undefined);
    let n = 0;
    while (srv.connections.length < 4) {
      srv.publish('t', `m${++n}`, n);
      await sleep(2);
    }
    srv.publish('t', `m${++n}`, n);
    await until(() => seen.messages.length >= n, 'every message');
    await until(() => srv.connections.every((conn) => conn.received.length > 0), 'every socket subscribed');
    expect(seqs(seen.messages)).to.deep.equal(range(1, n));
    expect(seen.states).to.deep.equal(['connecting', 'open']);
    for (const conn of srv.connections.slice(1)) expect(Object.keys(resumes(conn)[0].since)).to.deep.equal(['t']);
  });

  it('loses nothing when another request\'s failure is blamed on a resubscribe that was replaying (API Gateway\'s error names no request)', async () => {
    const srv = await setup({ concurrentAnswers: true, answer: (_conn, r) => (r.topics.includes('X') ? 'gateway-error' : 'reply') });
    const { c, seen } = client({ requestTimeoutMs: 50 });
    await c.subscribe('A', () => undefined);
    await c.subscribe('B', () => undefined);
    void c.subscribe('X', () => undefined).catch(() => undefined);
    const sent = { A: 0, B: 0 };
    while (seen.errors.filter((e) => e.code === 'INTERNAL').length < 4 || srv.connections.length < 4) {
      for (const topic of ['A', 'B'] as const) srv.publish(topic, `${topic}${++sent[topic]}`, null);
      await sleep(2);
    }
    await until(() => seqs(seen.messages, 'A').length >= sent.A && seqs(seen.messages, 'B').length >= sent.B, 'every message');
    expect(seqs(seen.messages, 'A')).to.deep.equal(range(1, sent.A));
    expect(seqs(seen.messages, 'B')).to.deep.equal(range(1, sent.B));
  });

  it('asks again for the rest when a replay stopped early (the server deadline), once a later message shows the gap', async () => {
    const srv = await setup({ replayLimit: 3 });
    const { c, seen } = client({ gapWaitMs: 20 });
    await c.subscribe('t', () => undefined);
    srv.publish('t', 'm1', 1);
    await until(() => seen.messages.length === 1, 'the first message');
    srv.connections[0].socket.terminate();
    for (const n of range(2, 12)) srv.publish('t', `m${n}`, n);
    await until(() => seen.messages.length === 4, 'the first page of the replay');
    await until(() => srv.open().length === 1, 'the new socket');
    srv.publish('t', 'm13', 13);
    await until(() => seen.messages.length >= 13, 'the rest');
    expect(seqs(seen.messages)).to.deep.equal(range(1, 13));
    expect(seen.gaps).to.deep.equal([]);
  });

  it('starts a topic afresh after unsubscribing it, and stops delivering at once when a handler unsubscribes mid-drain', async () => {
    const srv = await setup();
    const { c } = client();
    const got: number[] = [];
    const off = await c.subscribe('t', (m) => {
      got.push(m.seq!);
      if (m.seq === 2) void off();
    });
    const [one, two, three] = ['m1', 'm2', 'm3'].map((id) => srv.reserve('t', id, null));
    three.land();
    two.land();
    one.land(); // delivers 1, then drains 2 (whose handler unsubscribes), so 3 is not delivered
    await until(() => c.topics.length === 0 && !srv.open()[0].topics.has('t'), 'the unsubscribe');
    expect(got).to.deep.equal([1, 2]);
    expect(c.positions()).to.deep.equal({});

    await c.subscribe('t', (m) => got.push(m.seq!));
    expect(srv.open()[0].received.at(-1)).to.deep.equal({ action: 'subscribe', topics: ['t'] }); // no since: a new subscription
    srv.publish('t', 'm4', null);
    await until(() => got.length === 3, 'a message of the new subscription');
    expect(got).to.deep.equal([1, 2, 4]);
  });

  it('delivers an older server\'s frames (no seq, no positions) as before: de-duplicated by id, no since on resume', async () => {
    const srv = await setup({ continuity: false });
    const { c, seen } = client();
    await c.subscribe('t', () => undefined);
    srv.publish('t', 'a', 1);
    srv.publish('t', 'a', 1);
    srv.publish('t', 'b', 2);
    await until(() => seen.messages.length === 2, 'two messages');
    expect(seen.messages.map((m) => [m.id, m.seq])).to.deep.equal([
      ['a', undefined],
      ['b', undefined],
    ]);
    srv.connections[0].socket.terminate();
    await until(() => srv.open()[0]?.topics.has('t'), 'resubscribed');
    expect(srv.connections[1].received[0]).to.deep.equal({ action: 'subscribe', topics: ['t'] });
    expect(c.positions()).to.deep.equal({});
  });

  it('refuses malformed positions up front', async () => {
    await setup();
    expect(() => new RealtimeClient({ url: server.url, positions: { t: { seq: -1 } } })).to.throw(TypeError, /positions\.t/);
    expect(() => new RealtimeClient({ url: server.url, positions: { t: { epoch: '', seq: 1 } } })).to.throw(TypeError, /positions\.t/);
    const { c } = client();
    await c.subscribe('t', () => undefined, { since: { seq: 1.5 } }).then(
      () => expect.fail('accepted a fractional seq'),
      (err: unknown) => expect(err).to.be.instanceOf(TypeError),
    );
    expect(c.topics).to.deep.equal([]);
  });
});
