/**
 * Presence and client publish, end to end in local mode with auth on: real sockets, the real
 * handlers, dynalite, the publish queue and its poller.
 */
import { expect } from 'chai';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { mintToken } from '../../local/auth-token';
import { LOCAL_CREDENTIALS } from '../../local/constants';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { ERROR_CODES } from '../../protocol/error-codes';
import { TABLE } from '../../protocol/table';
import { startBlackholeProxy, type BlackholeProxy } from '../client/blackhole-proxy';
import { openSocket, publish, withToken, type Client } from './auth-fixtures';
import { eventually } from './system-helpers';

const SECRET = 'presence-secret';
const RATE = 5;

type Frame = Record<string, unknown>;
const isReply = (f: Frame) => f.type !== 'message' && f.type !== 'presence';

/** A request's reply (the next frame that is neither a message nor a presence event). */
async function ask(client: Client, frame: object | string): Promise<Frame> {
  const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
  client.ws.send(text);
  return client.next(isReply, `the reply to ${text.slice(0, 80)}`);
}

/** The connection ids of a member of a presence topic, read from the table. */
async function memberConnections(ddb: DynamoDBClient, tableName: string, topic: string, principal: string): Promise<string[]> {
  const { Items } = await ddb.send(
    new QueryCommand({
      TableName: tableName,
      ConsistentRead: true,
      KeyConditionExpression: '#pk = :pk AND #sk = :sk',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': { S: `${TABLE.presencePartitionPrefix}${topic}` }, ':sk': { S: `${TABLE.presenceMemberPrefix}${principal}` } },
    }),
  );
  return Items?.[0]?.connections?.SS ?? [];
}

/**
 * Every frame `client` receives up to a sentinel message published on `topic` now. Presence
 * events are on the publish queue before the request that caused them is answered, so one not
 * in this list by then was never sent.
 */
async function framesUntilSentinel(system: LocalSystem, client: Client, topic: string): Promise<Frame[]> {
  const marker = `sentinel-${Math.random()}`;
  await publish(system.outputs, topic, { marker });
  const seen: Frame[] = [];
  for (;;) {
    const frame = await client.next(() => true, 'the sentinel');
    if ((frame.data as { marker?: string } | undefined)?.marker === marker) return seen;
    seen.push(frame);
  }
}

describe('presence and client publish (local mode, auth on, real sockets)', function () {
  this.timeout(60_000);
  let system: LocalSystem;
  let ddb: DynamoDBClient;
  const lines: string[] = [];
  const open: Client[] = [];
  const connect = async (sub: string, claims: { topics?: string[]; publish?: string[]; presence?: unknown } = {}, url = system.outputs.websocketUrl) => {
    const token = await mintToken({ secret: SECRET, sub, topics: claims.topics ?? ['room/*', 'chat/*'], publish: claims.publish, presence: claims.presence });
    const client = await openSocket(withToken(url, token));
    open.push(client);
    return client;
  };

  before(async () => {
    system = await startLocal({
      authSecret: SECRET,
      logLevel: 'SILENT',
      log: (line) => lines.push(line),
      env: { [ENV.presenceTopics]: '["room/*"]', [ENV.clientPublishPerSecond]: String(RATE) },
    });
    ddb = new DynamoDBClient({ region: system.outputs.region, endpoint: system.outputs.dynamodbEndpoint, credentials: LOCAL_CREDENTIALS });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  after(async () => {
    ddb?.destroy();
    await system?.stop();
  });

  it('two users, one with two tabs: 2 members; closing one tab sends no leave, closing the last does', async () => {
    const topic = 'room/tabs';
    const alice1 = await connect('alice', { presence: { name: 'Alice' } });
    const first = await ask(alice1, { action: 'subscribe', topics: [topic] });
    expect(first.presence).to.deep.equal({ [topic]: { members: [{ id: 'alice', data: { name: 'Alice' } }], count: 1 } });

    const bob = await connect('bob', { presence: { name: 'Bob' } });
    const second = await ask(bob, { action: 'subscribe', topics: [topic] });
    await bob.next((f) => f.type === 'presence', 'its own join');
    const listed = (second.presence as Record<string, { members: { id: string }[]; count: number }>)[topic];
    expect(listed.count).to.equal(2);
    expect(listed.members.map((m) => m.id).sort()).to.deep.equal(['alice', 'bob']);
    // Every subscriber hears of a join, the joiner too (its own join comes first).
    expect(await alice1.next((f) => f.type === 'presence', 'alice joining')).to.deep.include({ event: 'join', member: { id: 'alice', data: { name: 'Alice' } }, count: 1 });
    expect(await alice1.next((f) => f.type === 'presence', 'bob joining')).to.deep.equal({
      type: 'presence',
      topic,
      event: 'join',
      member: { id: 'bob', data: { name: 'Bob' } },
      count: 2,
    });

    // A second tab of alice: still 2 members, and nobody hears of it.
    const alice2 = await connect('alice', { presence: { name: 'Alice' } });
    const third = await ask(alice2, { action: 'subscribe', topics: [topic] });
    expect((third.presence as Record<string, { count: number }>)[topic].count).to.equal(2);
    expect((await framesUntilSentinel(system, bob, topic)).filter((f) => f.type === 'presence')).to.deep.equal([]);

    // Closing one tab: alice stays (once $disconnect has run, her member item holds one connection).
    await alice2.close();
    await eventually(async () => (await memberConnections(ddb, system.outputs.tableName, topic, 'alice')).length === 1, "the closed tab's $disconnect");
    expect((await framesUntilSentinel(system, bob, topic)).filter((f) => f.type === 'presence')).to.deep.equal([]);

    // Closing the last one: alice leaves.
    await alice1.close();
    expect(await bob.next((f) => f.type === 'presence', 'alice leaving')).to.deep.equal({
      type: 'presence',
      topic,
      event: 'leave',
      member: { id: 'alice', data: { name: 'Alice' } },
      count: 1,
    });
    const again = await ask(bob, { action: 'subscribe', topics: [topic] });
    expect(again.presence).to.deep.equal({ [topic]: { members: [{ id: 'bob', data: { name: 'Bob' } }], count: 1 } });
  });

  it('unsubscribing the last connection of a member is a leave too', async () => {
    const topic = 'room/unsub';
    const carol = await connect('carol');
    const dan = await connect('dan');
    await ask(carol, { action: 'subscribe', topics: [topic] });
    await ask(dan, { action: 'subscribe', topics: [topic] });
    await carol.next((f) => f.type === 'presence' && (f.member as { id: string }).id === 'dan', 'dan joining');
    expect(await ask(dan, { action: 'unsubscribe', topics: [topic] })).to.deep.equal({ type: 'unsubscribed', topics: [topic] });
    expect(await carol.next((f) => f.type === 'presence' && f.event === 'leave', 'dan leaving')).to.deep.include({ member: { id: 'dan' }, count: 1 });
  });

  it('client publish: FORBIDDEN without a publish claim; with it every subscriber, the sender too, gets the message once, with `from`', async () => {
    const topic = 'chat/1';
    const reader = await connect('reader');
    const sender = await connect('sender', { publish: ['chat/*'] });
    await ask(reader, { action: 'subscribe', topics: [topic] });
    await ask(sender, { action: 'subscribe', topics: [topic] });

    expect(await ask(reader, { action: 'publish', topic, data: 'hi' })).to.deep.include({ type: 'error', code: 'FORBIDDEN', topics: [topic] });
    expect(await ask(sender, { action: 'publish', topic: 'room/1', data: 'hi' })).to.deep.include({ type: 'error', code: 'FORBIDDEN', topics: ['room/1'] });

    const reply = await ask(sender, { action: 'publish', topic, data: { text: 'hello' }, id: 'msg-1' });
    expect(reply).to.include({ type: 'published', topic });
    const id = reply.id as string;
    expect(id).to.match(/^c\.[A-Za-z0-9_-]{16}\.msg-1$/);

    for (const client of [reader, sender]) {
      const frames = await framesUntilSentinel(system, client, topic);
      const copies = frames.filter((f) => f.type === 'message' && f.id === id);
      expect(copies, JSON.stringify(frames)).to.have.length(1);
      expect(copies[0]).to.deep.include({ topic, data: { text: 'hello' }, from: 'sender' });
      expect(copies[0].seq).to.be.a('number');
    }

    // The same id again (a retry): the same message id, the same place in the stream.
    const retried = await ask(sender, { action: 'publish', topic, data: { text: 'hello' }, id: 'msg-1' });
    expect(retried.id).to.equal(id);
  });

  it('flooding past the rate limit gets RATE_LIMITED; another connection is not refused, and its latency is measured', async () => {
    const topic = 'chat/flood';
    const flooder = await connect('flooder', { publish: ['chat/*'] });
    const other = await connect('other', { publish: ['chat/*'] });

    /** Round trips of `n` publishes of `client`, one after the other. */
    const roundTrips = async (client: Client, n: number) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        const reply = await ask(client, { action: 'publish', topic, data: i });
        expect(reply.type, JSON.stringify(reply)).to.equal('published');
        times.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 1000 / RATE));
      }
      return times.sort((a, b) => a - b);
    };
    const baseline = await roundTrips(other, 5);

    const FLOOD = 300;
    for (let i = 0; i < FLOOD; i++) flooder.ws.send(JSON.stringify({ action: 'publish', topic, data: i }));
    const during = await roundTrips(other, 5);
    const replies: Frame[] = [];
    for (let i = 0; i < FLOOD; i++) replies.push(await flooder.next(isReply, `flood reply ${i}`));

    const limited = replies.filter((r) => r.code === 'RATE_LIMITED');
    const published = replies.filter((r) => r.type === 'published');
    expect(limited.length + published.length).to.equal(FLOOD);
    expect(limited.length).to.be.greaterThan(FLOOD / 2);
    expect(limited[0].message).to.match(/at most 5 messages per second/);
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];
    // A report, not a speed target: the other connection's publishes all went through.
    console.log(`      other connection's publish round trip: median ${median(baseline).toFixed(1)} ms before, ${median(during).toFixed(1)} ms during a flood of ${FLOOD} (${published.length} accepted, ${limited.length} RATE_LIMITED)`);
  });

  it('500 fuzzed publish and presence frames: a clear error each, no handler failure, other subscriptions unharmed', async () => {
    const watcher = await connect('watcher', { presence: { w: 1 } });
    await ask(watcher, { action: 'subscribe', topics: ['room/fuzz', 'chat/fuzz'] });
    const fuzzer = await connect('fuzzer', { topics: ['chat/*'], publish: ['chat/ok/*'] });

    let seed = 15;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
    const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
    const generators: (() => unknown)[] = [
      () => ({ action: 'publish' }),
      () => ({ action: 'publish', topic: 'chat/ok/1' }),
      () => ({ action: 'publish', data: 1 }),
      () => ({ action: 'publish', topic: pick([1, null, [], {}, true]), data: 1 }),
      () => ({ action: 'publish', topic: pick(['', '$x', 'a//b', '/a', 'a/', 'sp ace', 'x'.repeat(300), 'é']), data: 1 }),
      () => ({ action: 'publish', topic: 'chat/ok/1', data: 1, id: pick(['', 'x'.repeat(65), 'sp ace', 7, null, {}]) }),
      () => ({ action: 'publish', topic: 'chat/ok/1', data: 1, extra: pick([1, 'x', null]) }),
      () => ({ action: 'publish', topic: pick(['chat/other', 'room/fuzz', 'chat/ok/1/2']), data: 'forbidden' }),
      () => ({ action: 'publish', topic: 'chat/ok/1', data: deep(200) }),
      // Big (a single ws frame stays under API Gateway's 32 KB frame limit) and forbidden.
      () => ({ action: 'publish', topic: 'chat/fuzz', data: 'x'.repeat(30 * 1024) }),
      () => ({ action: 'presence', topic: 'room/fuzz' }),
      () => ({ action: 'subscribe', topics: ['room/fuzz'] }), // not in this token's topics
      () => ({ action: 'subscribe', topics: pick([[], 'room/fuzz', [1], null]) }),
      () => ({ type: 'presence', event: 'join', member: { id: 'mallory' } }),
      () => ({ action: pick(['PUBLISH', 'publish ', ['publish'], 1]) }),
      () => `{"action":"publish","topic":"chat/ok/1","data":${'['.repeat(pick([1, 5, 50]))}`,
      () => pick(['', 'null', '[]', '"publish"', '{"action":"publish",}', '\u0000']),
    ];
    for (let i = 0; i < 500; i++) {
      const frame = pick(generators)();
      const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
      if (text === '') continue; // ws sends no empty text frame the gateway would route
      const reply = await ask(fuzzer, text === '' ? ' ' : text);
      expect(reply.type, `${text.slice(0, 100)} → ${JSON.stringify(reply)}`).to.equal('error');
      expect(ERROR_CODES, text.slice(0, 100)).to.include(reply.code);
      expect(reply.message).to.be.a('string').and.not.equal('');
      expect(reply.code, text.slice(0, 100)).to.not.equal('INTERNAL');
    }
    expect(lines.filter((l) => /handler failed|error/i.test(l))).to.deep.equal([]);

    // The watcher's subscriptions still work: messages arrive, presence still lists it.
    await publish(system.outputs, 'chat/fuzz', 'still here');
    expect(await watcher.next((f) => f.type === 'message', 'a message after the fuzz')).to.deep.include({ topic: 'chat/fuzz', data: 'still here' });
    const state = await ask(watcher, { action: 'subscribe', topics: ['room/fuzz'] });
    expect(state.presence).to.deep.equal({ 'room/fuzz': { members: [{ id: 'watcher', data: { w: 1 } }], count: 1 } });
  });
});

describe('presence without auth (local mode)', () => {
  let system: LocalSystem;
  before(async () => {
    system = await startLocal({ quiet: true, env: { [ENV.presenceTopics]: '["room/*"]' } });
  });
  after(async () => {
    await system?.stop();
  });

  it('refuses presence topics with a clear FORBIDDEN, and client publish too', async () => {
    const client = await openSocket(system.outputs.websocketUrl);
    try {
      const refused = await ask(client, { action: 'subscribe', topics: ['room/1', 'other'] });
      expect(refused).to.deep.include({ type: 'error', code: 'FORBIDDEN', topics: ['room/1'] });
      expect(refused.message).to.match(/presence topics need an authenticated connection/);
      const publishRefused = await ask(client, { action: 'publish', topic: 'other', data: 1 });
      expect(publishRefused).to.deep.include({ type: 'error', code: 'FORBIDDEN' });
      expect(publishRefused.message).to.match(/auth is off/);
    } finally {
      await client.close();
    }
  });
});

describe('presence: a socket killed without a close frame (local mode, short idle timeout)', function () {
  this.timeout(30_000);
  const IDLE_MS = 1000;
  let system: LocalSystem;
  let proxy: BlackholeProxy;
  before(async () => {
    system = await startLocal({ authSecret: SECRET, quiet: true, idleTimeoutMs: IDLE_MS, env: { [ENV.presenceTopics]: '["room/*"]' } });
    proxy = await startBlackholeProxy(system.outputs.websocketUrl);
  });
  after(async () => {
    await proxy?.close();
    await system?.stop();
  });

  it('leaves within the idle timeout', async () => {
    const topic = 'room/idle';
    const token = (sub: string) => mintToken({ secret: SECRET, sub, topics: ['room/*'] });
    const watcher = await openSocket(withToken(system.outputs.websocketUrl, await token('watcher')));
    const heartbeat = setInterval(() => watcher.ws.send('{"action":"ping"}'), IDLE_MS / 4);
    try {
      await ask(watcher, { action: 'subscribe', topics: [topic] });
      const gone = await openSocket(withToken(proxy.url, await token('gone')));
      await ask(gone, { action: 'subscribe', topics: [topic] });
      await watcher.next((f) => f.type === 'presence' && f.event === 'join', 'the join');

      // The network vanishes: no close frame, no FIN; only the gateway's idle timeout ends it.
      const dark = proxy.blackhole(IDLE_MS * 4);
      const started = performance.now();
      const leave = await watcher.next((f) => f.type === 'presence' && f.event === 'leave', 'the leave');
      const after = performance.now() - started;
      expect(leave).to.deep.include({ event: 'leave', member: { id: 'gone' }, count: 1 });
      expect(after).to.be.below(IDLE_MS * 4);
      console.log(`      leave seen ${after.toFixed(0)} ms after the network vanished (idle timeout ${IDLE_MS} ms)`);
      await dark;
      gone.ws.terminate();
    } finally {
      clearInterval(heartbeat);
      await watcher.close();
    }
  });
});
