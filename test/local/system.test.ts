import { expect } from 'chai';
import { PutItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mintToken } from '../../local/auth-token';
import { startLocal, type LocalSystem } from '../../local/system';
import { parseJob } from '../../functions/lib/delivery/job';
import { ENV } from '../../protocol/env';
import { deliveredMessageSchema } from '../../protocol/messages';
import { TABLE } from '../../protocol/table';
import { openSocket, refusedStatus, withToken, type Client } from './auth-fixtures';
import { eventually, queueCounts, rowsOf, sdkClients, subscribersOf, expectSubscribed } from './system-helpers';

/** Every frame a client receives, parsed, in order (besides what Client.next consumes). */
function record(client: Client): Record<string, unknown>[] {
  const frames: Record<string, unknown>[] = [];
  client.ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
  return frames;
}

const idsOf = (frames: Record<string, unknown>[], topic: string) => new Set(frames.filter((f) => f.type === 'message' && f.topic === topic).map((f) => f.id as string));

describe('local mode end to end (real ws clients, real AWS SDK clients)', () => {
  let system: LocalSystem;
  let aws: ReturnType<typeof sdkClients>;
  const open: Client[] = [];
  const connect = async (url = system.outputs.websocketUrl) => {
    const client = await openSocket(url);
    open.push(client);
    return client;
  };
  const send = (body: unknown) => aws.sqs.send(new SendMessageCommand({ QueueUrl: system.outputs.queueUrl, MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }));

  before(async () => {
    system = await startLocal({
      quiet: true,
      // Deliveries that fail go to per-connection retry jobs; two rounds keep the DLQ test quick.
      env: { [ENV.deliveryMaxAttempts]: '2' },
      eventRules: [{ name: 'orders', eventPattern: { source: ['shop.orders'], 'detail-type': [{ prefix: 'Order ' }] }, topic: 'orders/{detail.orderId}' }],
    });
    aws = sdkClients(system.outputs);
  });
  afterEach(async () => {
    system.gateway.setFaults({});
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  after(async () => {
    aws?.destroy();
    await system?.stop();
  });

  it('connect → subscribe → SendMessage → the subscriber receives it', async () => {
    const client = await connect();
    expectSubscribed(await client.request({ action: 'subscribe', topics: ['demo'] }), ['demo']);
    await send({ topic: 'demo', data: { hello: 'world' }, id: 'first' });
    const frame = deliveredMessageSchema.parse(await client.next((f) => f.type === 'message', 'the message'));
    expect(frame).to.deep.include({ topic: 'demo', id: 'first', data: { hello: 'world' } });
    expect(Date.parse(frame.publishedAt)).to.be.a('number').and.not.be.NaN;
  });

  it('PutEvents → rule → input transformer → queue → subscriber; unmatched events are accepted and counted', async () => {
    const client = await connect();
    await client.request({ action: 'subscribe', topics: ['orders/42'] });
    const before = system.events.stats();
    const out = await aws.events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'shop.orders', DetailType: 'Order Shipped', Detail: JSON.stringify({ orderId: '42', status: 'shipped' }) },
          { Source: 'shop.users', DetailType: 'User Created', Detail: '{"id":1}' },
        ],
      }),
    );
    expect(out.FailedEntryCount).to.equal(0);
    const frame = await client.next((f) => f.type === 'message', 'the event');
    // The envelope id is the event id, so a retried event keeps it.
    expect(frame).to.deep.include({ topic: 'orders/42', id: out.Entries![0].EventId, data: { orderId: '42', status: 'shipped' } });
    expect(system.events.stats().matched - before.matched).to.equal(1);
    expect(system.events.stats().unmatched - before.unmatched).to.equal(1);
  });

  it('unsubscribe stops delivery of that topic only', async () => {
    const client = await connect();
    const frames = record(client);
    await client.request({ action: 'subscribe', topics: ['keep', 'drop'] });
    expect(await client.request({ action: 'unsubscribe', topics: ['drop'] })).to.deep.equal({ type: 'unsubscribed', topics: ['drop'] });
    const done = system.poller.stats().succeeded;
    await send({ topics: ['drop', 'keep'], data: 1, id: 'both' });
    await client.next((f) => f.type === 'message' && f.topic === 'keep', 'the kept topic');
    // Both frames of one envelope go out in one invocation: once it is done, 'drop' had its chance.
    await eventually(() => system.poller.stats().succeeded > done, 'the publish invocation');
    expect(frames.filter((f) => f.type === 'message').map((f) => f.topic)).to.deep.equal(['keep']);
    expect(await subscribersOf(aws.dynamodb, system.outputs.tableName, 'drop')).to.deep.equal([]);
    expect(await subscribersOf(aws.dynamodb, system.outputs.tableName, 'keep')).to.have.length(1);
  });

  it('a client that vanishes without a close frame: $disconnect cleans its rows; rows whose $disconnect was lost go on the next publish (410)', async () => {
    const table = system.outputs.tableName;
    const vanishing = await connect();
    await vanishing.request({ action: 'subscribe', topics: ['vanish'] });
    const [id] = await subscribersOf(aws.dynamodb, table, 'vanish');
    const { Items } = await aws.dynamodb.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: '#c = :c', ExpressionAttributeNames: { '#c': TABLE.partitionKey }, ExpressionAttributeValues: { ':c': { S: id } } }),
    );
    expect(Items!.map((i) => i[TABLE.sortKey].S).sort()).to.deep.equal(['$connection', 'vanish']);
    const staying = await connect();
    const stayingFrames = record(staying);
    await staying.request({ action: 'subscribe', topics: ['vanish'] });

    // No close frame: the TCP connection just dies.
    (vanishing.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await eventually(async () => (await rowsOf(aws.dynamodb, table, id)).length === 0, '$disconnect to delete the rows');

    // Now as if $disconnect had never run (it is best effort on AWS): the rows are back.
    for (const item of Items as Record<string, AttributeValue>[]) await aws.dynamodb.send(new PutItemCommand({ TableName: table, Item: item }));
    const gone = system.gateway.stats().gone;
    await send({ topic: 'vanish', data: 'are you there?', id: 'probe' });
    await eventually(() => idsOf(stayingFrames, 'vanish').has('probe'), 'the live subscriber to get the message');
    await eventually(async () => (await rowsOf(aws.dynamodb, table, id)).length === 0, 'the 410 to delete the stale rows');
    expect(system.gateway.stats().gone).to.be.greaterThan(gone);
    expect(await subscribersOf(aws.dynamodb, table, 'vanish')).to.not.include(id);
  });

  it('with injected 429s and 500s every subscriber gets every message (after de-duplication); only undeliverable connections reach the delivery DLQ, invalid envelopes are dropped', async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect()));
    const frames = clients.map(record);
    for (const c of clients) await c.request({ action: 'subscribe', topics: ['faulty'] });
    const before = system.gateway.stats();
    system.gateway.setFaults({ throttleRate: 0.2, errorRate: 0.1 });

    const ids = Array.from({ length: 20 }, (_, i) => `f-${i}`);
    for (const chunk of [ids.slice(0, 10), ids.slice(10)]) {
      await aws.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: system.outputs.queueUrl,
          Entries: chunk.map((id) => ({ Id: id, MessageBody: JSON.stringify({ topic: 'faulty', data: { id }, id }) })),
        }),
      );
    }
    // Never deliverable: not JSON, and not an envelope. They must be dropped, not retried into the DLQ.
    await send('not json at all');
    await send({ topic: '$invalid', data: 1 });

    await eventually(() => frames.every((f) => idsOf(f, 'faulty').size === ids.length), 'every subscriber to have every message', 15_000);
    await eventually(async () => {
      const counts = await queueCounts(aws.sqs, system.outputs.queueUrl);
      return counts.visible === 0 && counts.inFlight === 0;
    }, 'the publish queue to drain');
    expect(await queueCounts(aws.sqs, system.outputs.dlqUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
    for (const f of frames) expect([...idsOf(f, 'faulty')].sort()).to.deep.equal([...ids].sort());
    const after = system.gateway.stats();
    expect(after.throttled - before.throttled, 'some 429s were injected').to.be.greaterThan(0);
    expect(after.errors - before.errors, 'some 500s were injected').to.be.greaterThan(0);

    // Every post fails: each connection gets DELIVERY_MAX_ATTEMPTS rounds (the inline one, then a
    // retry job), then its job — the frame and just those connections — lands in the delivery DLQ.
    // The publish record itself succeeded: the publish DLQ stays empty.
    system.gateway.setFaults({ errorRate: 1 });
    await send({ topic: 'faulty', data: 'doomed', id: 'doomed' });
    const dead = await eventually(async () => {
      const { Messages } = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: system.outputs.deliveryDlqUrl, MaxNumberOfMessages: 10 }));
      return Messages?.[0];
    }, 'the delivery DLQ to hold the undeliverable connections', 20_000);
    const job = parseJob(dead.Body!);
    if (!job.ok) throw new Error(job.reason);
    expect(job.job).to.deep.include({ kind: 'retry', messageId: 'doomed', topic: 'faulty', attempt: 2 });
    expect(job.job.connectionIds.sort()).to.deep.equal((await subscribersOf(aws.dynamodb, system.outputs.tableName, 'faulty')).sort());
    expect(JSON.parse(job.job.frame)).to.deep.include({ type: 'message', id: 'doomed', data: 'doomed' });
    expect(await queueCounts(aws.sqs, system.outputs.dlqUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
    for (const f of frames) expect(idsOf(f, 'faulty').has('doomed')).to.equal(false);
  });

  it('serves the demo page, its config and POST /publish', async () => {
    const demo = system.outputs.demoUrl!;
    expect(await (await fetch(new URL('config.json', demo))).json()).to.deep.equal(system.outputs);
    const page = await fetch(demo);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/text\/html/);
    expect(await page.text()).to.match(/<html/i);
    expect((await fetch(`${demo}%2e%2e/package.json`)).status).to.equal(404);

    const client = await connect();
    await client.request({ action: 'subscribe', topics: ['from-demo'] });
    const ok = await fetch(new URL('publish', demo), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'from-demo', data: { x: 1 } }) });
    expect(ok.status).to.equal(200);
    const { messageId } = (await ok.json()) as { messageId: string };
    expect(messageId).to.be.a('string');
    // No envelope id: the SQS message id is the delivered id.
    expect(await client.next((f) => f.type === 'message', 'the demo message')).to.deep.include({ topic: 'from-demo', id: messageId, data: { x: 1 } });
    const bad = await fetch(new URL('publish', demo), { method: 'POST', body: JSON.stringify({ topic: 'a b', data: 1 }) });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: string }).error).to.match(/topic/);
    const notJson = await fetch(new URL('publish', demo), { method: 'POST', body: '{' });
    expect(notJson.status).to.equal(400);
  });
});

describe('local mode with the authorizer on', () => {
  let system: LocalSystem;
  before(async () => {
    system = await startLocal({ quiet: true, authSecret: 'local-test-secret' });
  });
  after(async () => {
    await system?.stop();
  });

  it('shows a rejected $connect its status, and lets a valid token in', async () => {
    expect(await refusedStatus(system.outputs.websocketUrl)).to.equal(401);
    const token = await mintToken({ secret: 'local-test-secret', sub: 'alice', topics: ['inbox/{sub}'] });
    const client = await openSocket(withToken(system.outputs.websocketUrl, token));
    expectSubscribed(await client.request({ action: 'subscribe', topics: ['inbox/alice'] }), ['inbox/alice']);
    await client.close();
  });
});
