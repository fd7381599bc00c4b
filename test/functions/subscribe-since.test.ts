/**
 * Subscribe with continuity, at the handler level against dynalite (which evaluates conditions,
 * ADD and key conditions as DynamoDB does): the real publish handler numbers and retains
 * messages, the real subscribe handler answers with each topic's position and replays what a
 * `since` asks for, posted through a FakePoster that captures the replayed frames.
 */
import { expect } from 'chai';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { makeHandler as makePublish, type PublishOutcome } from '../../functions/handlers/publish';
import { makeHandler as makeSubscribe } from '../../functions/handlers/subscribe';
import { makeHandler as makeUnsubscribe } from '../../functions/handlers/unsubscribe';
import { REPLAY_PAGE_ITEMS } from '../../functions/lib/history/replay';
import { LOCAL_CREDENTIALS } from '../../local/constants';
import { ENV } from '../../protocol/env';
import { createHistoryTableInput, type StreamPosition } from '../../protocol/history';
import { deliveredMessageSchema, errorReplySchema, serverMessageSchema, subscribedReplySchema, type DeliveredMessage, type ServerMessage } from '../../protocol/messages';
import { createTableInput, TABLE } from '../../protocol/table';
import { withDynalite } from './dynalite';
import { FakePoster } from './fake-poster';
import { withFakeDeliveryQueue } from './fake-queue';
import { eventBridgeEvent, messageEvent, serverError, testEnv } from './helpers';

const CONN = 'Resume0cOFvHcCIhw=';

describe('subscribe with since and positions (handlers against dynalite)', () => {
  const dynamo = withDynalite();
  let tables = 0;
  let env: Record<string, string | undefined>;
  /** Posts of the subscribe handler: the replayed frames. */
  const replayPoster = new FakePoster();
  /** Posts of the publish handler (live deliveries), kept apart. */
  const livePoster = new FakePoster();
  withFakeDeliveryQueue();

  beforeEach(async () => {
    replayPoster.reset();
    livePoster.reset();
    const n = ++tables;
    env = testEnv({
      [ENV.tableName]: `connections-${n}`,
      [ENV.historyTableName]: `history-${n}`,
      [ENV.postBaseBackoffMs]: '2',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });
    await dynamo.createTable(createTableInput(env[ENV.tableName]!));
    await dynamo.createTable(createHistoryTableInput(env[ENV.historyTableName]!));
    // The connection as $connect records it.
    await dynamo.ddb.send(new PutCommand({ TableName: env[ENV.tableName], Item: { connectionId: CONN, sk: TABLE.connectionSortKey, expiresAt: 1_900_000_000, subscriptionCount: 0 } }));
  });

  /** Publish `n` messages to `topic` (ids `topic-1`, `topic-2`, … in order) through the publish handler, history on; returns each one's position. */
  async function publish(topic: string, n: number, overrides: Record<string, string> = {}): Promise<StreamPosition[]> {
    const handler = makePublish({ ...env, ...overrides }, { poster: livePoster });
    const positions: StreamPosition[] = [];
    for (let i = 0; i < n; i++) {
      const count = (published.get(topic) ?? 0) + 1;
      published.set(topic, count);
      const outcome = (await handler(eventBridgeEvent({ topic, data: { i: count - 1 } }, `${topic}-${count}`))) as PublishOutcome;
      positions.push(outcome.positions![topic]);
    }
    return positions;
  }
  const published = new Map<string, number>();
  beforeEach(() => published.clear());

  /** `n` messages to `topic` from one of several publishers running side by side (their seqs interleave). */
  async function publishSome(topic: string, n: number, publisher: number): Promise<StreamPosition[]> {
    const handler = makePublish(env, { poster: livePoster });
    const out: StreamPosition[] = [];
    for (let i = 0; i < n; i++) {
      const outcome = (await handler(eventBridgeEvent({ topic, data: { publisher, i } }, `${topic}-${publisher}-${i}`))) as PublishOutcome;
      out.push(outcome.positions![topic]);
    }
    return out;
  }

  async function send(body: unknown, route: 'subscribe' | 'unsubscribe' = 'subscribe', handler?: ReturnType<typeof makeSubscribe>): Promise<ServerMessage> {
    const h = handler ?? (route === 'subscribe' ? makeSubscribe(env, { poster: replayPoster }) : makeUnsubscribe(env));
    const result = await h(messageEvent(CONN, JSON.stringify(body), route));
    expect(result.statusCode).to.equal(200);
    return serverMessageSchema.parse(JSON.parse(result.body));
  }
  const subscribed = (reply: ServerMessage) => subscribedReplySchema.parse(reply);
  /** The frames replayed to the connection, in the order they were posted. */
  const replayed = (): DeliveredMessage[] => {
    expect(replayPoster.calls.every((c) => c.connectionId === CONN)).to.equal(true);
    return replayPoster.calls.map((c) => deliveredMessageSchema.parse(JSON.parse(new TextDecoder().decode(c.data))));
  };
  const seqs = (frames: DeliveredMessage[], topic: string) => frames.filter((f) => f.topic === topic).map((f) => f.seq);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  async function subscriptionRows(): Promise<string[]> {
    const { Items } = await dynamo.ddb.send(
      new QueryCommand({ TableName: env[ENV.tableName], KeyConditionExpression: '#pk = :c', ExpressionAttributeNames: { '#pk': TABLE.partitionKey }, ExpressionAttributeValues: { ':c': CONN }, ConsistentRead: true }),
    );
    return (Items ?? []).map((i) => String(i[TABLE.sortKey])).filter((sk) => sk !== TABLE.connectionSortKey).sort();
  }

  it('gives each topic its position in every subscribed reply: topics with messages, topics never published to, topics already held', async () => {
    const a = await publish('a', 3);
    expect(a.map((p) => p.seq)).to.deep.equal([1, 2, 3]);
    const first = subscribed(await send({ action: 'subscribe', topics: ['a', 'b'] }));
    expect(first.positions?.a).to.deep.equal({ epoch: a[0].epoch, seq: 3 });
    expect(first.positions?.b).to.include({ seq: 0 });
    expect(first).to.not.have.property('recovered');
    // Already held: nothing written, the positions all the same.
    const again = subscribed(await send({ action: 'subscribe', topics: ['b', 'a'] }));
    expect(again).to.deep.equal({ type: 'subscribed', topics: ['b', 'a'], positions: first.positions });
    expect(replayPoster.calls, 'no replay without since').to.have.length(0);
    // The stream b's position named is the one publish then uses.
    const [b1] = await publish('b', 1);
    expect(b1).to.deep.equal({ epoch: first.positions!.b.epoch, seq: 1 });
    expect(await subscriptionRows()).to.deep.equal(['a', 'b']);
  });

  it('replays exactly the frames after since, in seq order, byte for byte as publish delivered them live, before the reply; recovered true', async () => {
    // Another connection already holds `a`: publish's live frames to it are what a replay must repeat.
    await dynamo.ddb.send(new PutCommand({ TableName: env[ENV.tableName], Item: { connectionId: 'other=', sk: 'a', topic: 'a', expiresAt: 1_900_000_000 } }));
    const a = await publish('a', 5);
    const b = await publish('b', 2);
    const liveText = (to: string) => livePoster.calls.filter((c) => c.connectionId === to).map((c) => new TextDecoder().decode(c.data));
    expect(liveText('other=')).to.have.length(5);
    expect(liveText(CONN), 'the connection held neither topic then').to.deep.equal([]);

    const reply = subscribed(
      await send({ action: 'subscribe', topics: ['a', 'b', 'c'], since: { a: { epoch: a[0].epoch, seq: 2 }, b: { seq: 0 } } }),
    );
    // Posted before the reply came back.
    const frames = replayed();
    expect(seqs(frames, 'a')).to.deep.equal([3, 4, 5]);
    expect(seqs(frames, 'b')).to.deep.equal([1, 2]);
    expect(seqs(frames, 'c')).to.deep.equal([]);
    const replayedText = replayPoster.calls.map((c) => new TextDecoder().decode(c.data)).filter((t) => JSON.parse(t).topic === 'a');
    expect(replayedText).to.deep.equal(liveText('other=').slice(2));
    expect(frames.find((f) => f.topic === 'a' && f.seq === 3)).to.deep.include({ type: 'message', id: 'a-3', epoch: a[0].epoch, data: { i: 2 } });
    expect(reply.positions).to.deep.include({ a: { epoch: a[0].epoch, seq: 5 }, b: { epoch: b[0].epoch, seq: 2 } });
    expect(reply.positions?.c).to.include({ seq: 0 });
    expect(reply.recovered).to.deep.equal({ a: true, b: true });

    // Live delivery starts with the subscription: the next message reaches the connection through publish.
    await publish('a', 1);
    const live = () => livePoster.calls.filter((c) => c.connectionId === CONN).map((c) => deliveredMessageSchema.parse(JSON.parse(new TextDecoder().decode(c.data))));
    expect(live().map((f) => [f.id, f.seq])).to.deep.equal([['a-6', 6]]);
    // A redelivered envelope (same id) keeps its seq: the client drops it as a duplicate, history holds it once.
    const again = (await makePublish(env, { poster: livePoster })(eventBridgeEvent({ topic: 'a', data: { i: 2 } }, 'a-3'))) as PublishOutcome;
    expect(again.positions).to.deep.equal({ a: { epoch: a[0].epoch, seq: 3 } });
    expect(live().map((f) => [f.id, f.seq])).to.deep.equal([['a-6', 6], ['a-3', 3]]);
    replayPoster.reset();
    await send({ action: 'subscribe', topics: ['a'], since: { a: { epoch: a[0].epoch, seq: 0 } } });
    expect(replayed().map((f) => f.id)).to.deep.equal(['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'a-6']);
  });

  it('replays again on a repeated subscribe with since (idempotent), and nothing from the head', async () => {
    const a = await publish('a', 3);
    await send({ action: 'subscribe', topics: ['a'], since: { a: { epoch: a[0].epoch, seq: 1 } } });
    replayPoster.reset();
    const again = subscribed(await send({ action: 'subscribe', topics: ['a'], since: { a: { epoch: a[0].epoch, seq: 1 } } }));
    expect(seqs(replayed(), 'a')).to.deep.equal([2, 3]);
    expect(again.recovered).to.deep.equal({ a: true });
    replayPoster.reset();
    const atHead = subscribed(await send({ action: 'subscribe', topics: ['a'], since: { a: { epoch: a[0].epoch, seq: 3 } } }));
    expect(replayPoster.calls).to.have.length(0);
    expect(atHead).to.deep.include({ positions: { a: { epoch: a[0].epoch, seq: 3 } }, recovered: { a: true } });
  });

  it('says recovered false, replaying nothing, from a stale epoch, a position ahead of the head, or one whose next message is gone', async () => {
    const stale = await publish('stale', 2);
    const ahead = await publish('ahead', 2);
    // 3 kept per topic: after 6 messages, 4-6 remain.
    const trimmed = await publish('trimmed', 6, { [ENV.historyMaxMessages]: '3' });
    const edge = await publish('edge', 6, { [ENV.historyMaxMessages]: '3' });
    const reply = subscribed(
      await send({
        action: 'subscribe',
        topics: ['stale', 'ahead', 'trimmed', 'edge'],
        since: {
          stale: { epoch: 'another-stream', seq: 1 },
          ahead: { epoch: ahead[0].epoch, seq: 9 },
          trimmed: { epoch: trimmed[0].epoch, seq: 2 },
          edge: { epoch: edge[0].epoch, seq: 3 },
        },
      }),
    );
    expect(reply.recovered).to.deep.equal({ stale: false, ahead: false, trimmed: false, edge: true });
    // Only the topic whose next message is still retained is replayed.
    const frames = replayed();
    expect(frames.map((f) => f.topic)).to.deep.equal(['edge', 'edge', 'edge']);
    expect(seqs(frames, 'edge')).to.deep.equal([4, 5, 6]);
    // Every position is the head of the stream as it is now.
    expect(reply.positions).to.deep.equal({
      stale: { epoch: stale[0].epoch, seq: 2 },
      ahead: { epoch: ahead[0].epoch, seq: 2 },
      trimmed: { epoch: trimmed[0].epoch, seq: 6 },
      edge: { epoch: edge[0].epoch, seq: 6 },
    });
  });

  it('answers BAD_REQUEST to a since naming a topic the request does not subscribe to, and writes and replays nothing', async () => {
    const a = await publish('a', 2);
    const reply = errorReplySchema.parse(await send({ action: 'subscribe', topics: ['b'], since: { a: { epoch: a[0].epoch, seq: 0 } } }));
    expect(reply.code).to.equal('BAD_REQUEST');
    expect(reply.message).to.match(/"since" names 1 topic\(s\) the request does not subscribe to \(first: "a"\)/);
    expect(await subscriptionRows()).to.deep.equal([]);
    expect(replayPoster.calls).to.have.length(0);
  });

  it('answers BAD_REQUEST to since on unsubscribe, and keeps the subscription', async () => {
    await send({ action: 'subscribe', topics: ['a'] });
    const reply = errorReplySchema.parse(await send({ action: 'unsubscribe', topics: ['a'], since: { a: { seq: 0 } } }, 'unsubscribe'));
    expect(reply.code).to.equal('BAD_REQUEST');
    expect(reply.message).to.match(/"since" belongs to subscribe requests, not unsubscribe/);
    expect(await subscriptionRows()).to.deep.equal(['a']);
  });

  it('when a replayed frame cannot be delivered, stops after that page and gives the head as position, so the client asks again; asking again fills the rest', async () => {
    const total = REPLAY_PAGE_ITEMS + 20;
    const positions = (await Promise.all(Array.from({ length: 12 }, (_, k) => publishSome('long', total / 12, k)))).flat();
    expect(positions.map((p) => p.seq).sort((x, y) => x - y)).to.deep.equal(range(1, total));
    const { epoch } = positions[0];
    replayPoster.callsFake(({ data }) => {
      if (JSON.parse(new TextDecoder().decode(data)).seq === 3) throw serverError();
    });
    const handler = makeSubscribe({ ...env, [ENV.postMaxAttempts]: '2' }, { poster: replayPoster });
    const reply = subscribed(await send({ action: 'subscribe', topics: ['long'], since: { long: { epoch, seq: 0 } } }, 'subscribe', handler));
    const attempted = seqs(replayed(), 'long');
    // The first page was posted (seq 3 twice: POST_MAX_ATTEMPTS), the second never.
    expect([...new Set(attempted)].sort((x, y) => x! - y!)).to.deep.equal(range(1, REPLAY_PAGE_ITEMS));
    expect(attempted.filter((s) => s === 3)).to.have.length(2);
    expect(reply.positions).to.deep.equal({ long: { epoch, seq: total } });
    expect(reply.recovered).to.deep.equal({ long: true });

    // The client had 1 and 2 in a row; it asks from 2 and now gets the rest.
    replayPoster.reset();
    const retry = subscribed(await send({ action: 'subscribe', topics: ['long'], since: { long: { epoch, seq: 2 } } }));
    expect(seqs(replayed(), 'long')).to.deep.equal(range(3, total));
    expect(retry).to.deep.include({ positions: { long: { epoch, seq: total } }, recovered: { long: true } });
  });

  it('answers INTERNAL naming the request\'s topics when the history cannot be read; the same request succeeds once it can', async () => {
    const broken = { ...env, [ENV.historyTableName]: `missing-${tables}` };
    const handler = makeSubscribe(broken, { poster: replayPoster });
    const reply = errorReplySchema.parse(await send({ action: 'subscribe', topics: ['a', 'b'] }, 'subscribe', handler));
    expect(reply).to.deep.equal({ type: 'error', code: 'INTERNAL', message: 'the server could not complete this request; it is safe to retry', topics: ['a', 'b'] });
    await dynamo.createTable(createHistoryTableInput(broken[ENV.historyTableName]!));
    const ok = subscribed(await send({ action: 'subscribe', topics: ['a', 'b'] }, 'subscribe', handler));
    expect(ok.positions?.a).to.include({ seq: 0 });
    expect(await subscriptionRows()).to.deep.equal(['a', 'b']);
  });
});
