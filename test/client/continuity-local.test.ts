/**
 * Message continuity end to end (issue "Message continuity", its "done when"): the client SDK
 * against the local system with real sockets — publish gives every message its seq and keeps it,
 * subscribe with `since` replays what a connection missed, the SDK hands each message over once
 * and in seq order, and says so when a gap cannot be filled.
 */
import { expect } from 'chai';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { RealtimeClient, type DeliveredMessage, type Gap, type RealtimeClientOptions } from '../../client/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';
import { startLocal, type LocalOptions, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { HISTORY } from '../../protocol/history';
import { startBlackholeProxy, type BlackholeProxy } from './blackhole-proxy';
import { connectionsOn, deleteConnection, eventually, sendEnvelope } from './local-helpers';

describe('continuity end to end (client SDK, local mode, real sockets)', function () {
  this.timeout(120_000);
  let system: LocalSystem | undefined;
  let proxy: BlackholeProxy | undefined;
  let clients: RealtimeClient[] = [];

  const start = async (options: LocalOptions = {}) => (system = await startLocal({ quiet: true, ...options }));
  function client(options: Partial<RealtimeClientOptions> = {}): RealtimeClient {
    const c = new RealtimeClient({ url: system!.outputs.websocketUrl, reconnect: { baseDelayMs: 50, maxDelayMs: 300 }, gapWaitMs: 300, ...options });
    clients.push(c);
    return c;
  }
  /** What the app saw on one topic: messages in the order handed over, and gap events. */
  async function follow(c: RealtimeClient, topic: string, options?: { since?: { epoch?: string; seq: number } }) {
    const seen = { messages: [] as DeliveredMessage[], gaps: [] as Gap[] };
    c.on('gap', (g) => g.topic === topic && seen.gaps.push(g));
    await c.subscribe(topic, (m) => seen.messages.push(m), options);
    return seen;
  }
  const publishMany = async (topic: string, ids: string[], data: (id: string) => unknown = (id) => ({ id })) => {
    for (const id of ids) await sendEnvelope(system!.outputs, { topic, id, data: data(id) });
  };
  /** Every id once, handed over in seq order (SQS does not keep send order: the server's seq is the order). */
  const inOrderOnce = (messages: DeliveredMessage[], ids: string[]) => {
    expect(messages.map((m) => m.id).sort()).to.deep.equal([...ids].sort());
    const seqs = messages.map((m) => m.seq!);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i], `seq after ${seqs[i - 1]}`).to.be.greaterThan(seqs[i - 1]);
  };

  afterEach(async () => {
    clients.forEach((c) => c.close());
    clients = [];
    await proxy?.close();
    proxy = undefined;
    await system?.stop();
    system = undefined;
  });

  it('a socket the gateway drops (DELETE) and one whose network vanishes for 5 s both end with all 50 messages published meanwhile, once each, in order, recovered', async () => {
    const { outputs } = await start();
    proxy = await startBlackholeProxy(outputs.websocketUrl);
    const dropped = client();
    // Through the proxy: the heartbeat is what tells the client its network is gone.
    const tunnel = client({ url: proxy.url, heartbeatIntervalMs: 500 });
    const a = await follow(dropped, 'room/1');
    const b = await follow(tunnel, 'room/1');
    const before = ['m-0', 'm-1', 'm-2'];
    await publishMany('room/1', before);
    await eventually(() => a.messages.length === 3 && b.messages.length === 3, 'the first three live');

    const ids = Array.from({ length: 50 }, (_, i) => `m-${i + 3}`);
    const droppedId = await connectionOf(dropped);
    // Both lose their connection while the 50 are published: one is closed by the gateway at once,
    // the other goes dark for 5 s (the gateway keeps its connection and its posts "succeed").
    const dark = proxy.blackhole(5000);
    await deleteConnection(outputs, droppedId);
    await publishMany('room/1', ids.slice(0, 25));
    await dark;
    await publishMany('room/1', ids.slice(25));

    const all = [...before, ...ids];
    await eventually(() => a.messages.length >= all.length && b.messages.length >= all.length, 'every message on both clients', 60_000);
    inOrderOnce(a.messages, all);
    inOrderOnce(b.messages, all);
    expect(a.messages.map((m) => m.id), 'both in the same order').to.deep.equal(b.messages.map((m) => m.id));
    expect(a.gaps).to.deep.equal([]);
    expect(b.gaps).to.deep.equal([]);
    expect(dropped.positions()['room/1'].seq).to.equal(b.messages[b.messages.length - 1].seq);
  });

  /** The connection id a client's current socket has (the only subscriber of its private topic). */
  async function connectionOf(c: RealtimeClient): Promise<string> {
    const topic = `whoami/${Math.random().toString(36).slice(2)}`;
    await c.subscribe(topic, () => undefined);
    const [id] = await connectionsOn(system!.outputs, topic);
    await c.unsubscribe(topic);
    return id;
  }

  it('a resume from a position older than the retention, and one from a stale epoch, raise the gap event (recovered: false) and carry on live', async () => {
    await start({ env: { [ENV.historyMaxMessages]: '5' } });
    await publishMany('news', ['n-1', 'n-2', 'n-3']);
    const reader = client();
    const first = await follow(reader, 'news');
    expect(first.messages).to.deep.equal([]); // a plain subscribe starts at the head
    const { epoch } = reader.positions().news;
    reader.close();

    await publishMany('news', ['n-4', 'n-5', 'n-6', 'n-7', 'n-8', 'n-9', 'n-10']); // seq 4..10: seq 4 is no longer kept (5 are)
    const late = client();
    const old = await follow(late, 'news', { since: { epoch, seq: 3 } });
    await eventually(() => old.gaps.length === 1, 'the gap event');
    expect(old.gaps[0]).to.deep.include({ topic: 'news', reason: 'expired', to: { epoch, seq: 10 } });
    expect(old.messages).to.deep.equal([]);

    const stale = client();
    const reset = await follow(stale, 'news', { since: { epoch: 'not-this-stream', seq: 9 } });
    await eventually(() => reset.gaps.length === 1, 'the gap event');
    expect(reset.gaps[0]).to.deep.include({ topic: 'news', reason: 'epoch' });

    await publishMany('news', ['n-11']);
    await eventually(() => old.messages.length === 1 && reset.messages.length === 1, 'live again');
    expect([old.messages[0].id, reset.messages[0].id]).to.deep.equal(['n-11', 'n-11']);
  });

  it('a replay larger than 128 KB arrives complete, in order, one message frame each', async () => {
    await start();
    const c = client();
    await follow(c, 'big');
    const position = c.positions().big;
    c.close();
    const ids = Array.from({ length: 24 }, (_, i) => `big-${i}`);
    await publishMany('big', ids, (id) => ({ id, pad: 'x'.repeat(10_000) })); // ~240 KB in all
    const again = client();
    const seen = await follow(again, 'big', { since: position });
    await eventually(() => seen.messages.length === ids.length, 'the whole replay', 30_000);
    inOrderOnce(seen.messages, ids);
    expect(seen.gaps).to.deep.equal([]);
  });

  it('1,000 messages published at once through SQS, each sent twice and with invocations timing out (redeliveries), reach a subscriber exactly once and in seq order; history holds each once', async () => {
    await start({
      faults: { latencyMs: 5 },
      // Holes (a seq taken by the losing delivery of an id) count against the per-topic limit: keep them all here.
      env: { [ENV.historyMaxMessages]: '10000' },
      // A visibility timeout shorter than an invocation under a load of 2,000 records: records come
      // back (SQS redelivery) while their first attempt is still running, so deliveries of one id race.
      queue: { visibilityTimeoutSeconds: 1 },
      poller: { functionTimeoutMs: 10_000, maximumConcurrency: 8 },
    });
    const { outputs } = system!;
    const c = client();
    const seen = await follow(c, 'burst');
    const ids = Array.from({ length: 1000 }, (_, i) => `b-${i}`);
    const sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: outputs.sqsEndpoint });
    try {
      // Every envelope twice (a producer retry, or SQS's at-least-once): same id, so the same seq.
      const bodies = ids.flatMap((id) => [id, id]).map((id, i) => ({ Id: String(i), MessageBody: JSON.stringify({ topic: 'burst', id, data: id }) }));
      const batches = [];
      for (let i = 0; i < bodies.length; i += 10) batches.push(sqs.send(new SendMessageBatchCommand({ QueueUrl: outputs.queueUrl, Entries: bodies.slice(i, i + 10) })));
      await Promise.all(batches);
      await eventually(() => seen.messages.length >= ids.length, 'every message', 90_000).catch((err) => {
        throw new Error(`${(err as Error).message}: ${seen.messages.length} of ${ids.length}, positions ${JSON.stringify(c.positions())}, poller ${JSON.stringify(system!.poller.stats())}, delivery ${JSON.stringify(system!.deliveryPoller.stats())}`);
      });
      await eventually(async () => {
        const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
        return Attributes?.ApproximateNumberOfMessages === '0' && Attributes.ApproximateNumberOfMessagesNotVisible === '0';
      }, 'the publish queue to drain', 60_000);
    } finally {
      sqs.destroy();
    }
    // Exactly once each, in strictly increasing seq (holes allowed, never taken for a loss).
    expect(new Set(seen.messages.map((m) => m.id)).size).to.equal(ids.length);
    expect(seen.messages).to.have.length(ids.length);
    const seqs = seen.messages.map((m) => m.seq!);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).to.be.greaterThan(seqs[i - 1]);
    expect(seen.gaps).to.deep.equal([]);
    expect(system!.poller.stats().records, 'records received (2,000 sent, plus redeliveries)').to.be.at.least(2000);

    // History: each id once, seq strictly increasing with the order the subscriber saw.
    const dynamodb = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: outputs.dynamodbEndpoint });
    try {
      const items: { seq: number; id: string }[] = [];
      let start: Record<string, never> | undefined;
      do {
        const page = await dynamodb.send(
          new QueryCommand({
            TableName: outputs.historyTableName,
            KeyConditionExpression: '#t = :t AND #s >= :one',
            ExpressionAttributeNames: { '#t': HISTORY.partitionKey, '#s': HISTORY.sortKey },
            ExpressionAttributeValues: { ':t': { S: 'burst' }, ':one': { N: '1' } },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) items.push({ seq: Number(item.seq.N), id: String(item.id.S) });
        start = page.LastEvaluatedKey as typeof start;
      } while (start);
      expect(items).to.have.length(ids.length);
      expect(new Set(items.map((i) => i.id)).size).to.equal(ids.length);
      expect(items.map((i) => i.id)).to.deep.equal(seen.messages.map((m) => m.id));
    } finally {
      dynamodb.destroy();
    }
  });
});
