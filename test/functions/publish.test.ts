import { expect } from 'chai';
import { ScanCommand as RawScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse } from 'aws-lambda';
import { ENV, METRICS_NAMESPACE } from '../../protocol/env';
import { deliveredMessageSchema, type DeliveredMessage } from '../../protocol/messages';
import { TABLE } from '../../protocol/table';
import { DeliveryFailedError, makeHandler, type PublishOutcome } from '../../functions/handlers/publish';
import { FakePoster } from './fake-poster';
import { TOPIC_QUERY_CONCURRENCY } from '../../functions/lib/fan-out';
import { applyInputTransformer } from '../../local/events';
import { MAX_DATA_DEPTH } from '../../protocol/envelope';
import { inputTransformerFor } from '../../protocol/rule-message';
import type { EventRule } from '../../protocol/rules';
import { withFakeTable } from './fake-table';
import { captureOutput, delay, eventBridgeEvent, gone, serverError, sqsEvent, sqsRecord, testEnv, throttled } from './helpers';

const SENT = '1700000000000';
const SENT_ISO = new Date(Number(SENT)).toISOString();

type PostFake = (connectionId: string, attempt: number) => Promise<void> | void;

describe('publish handler', () => {
  const db = withFakeTable();
  const api = new FakePoster();
  /** Frames each connection received (successful posts only). */
  let received: Map<string, DeliveredMessage[]>;
  /** Post attempts per connection, successful or not. */
  let attempts: Map<string, number>;

  /** Route every post through `fake` (which may throw), recording attempts and deliveries. */
  function onPost(fake: PostFake = () => undefined) {
    api.callsFake(async (input) => {
      const id = input.connectionId;
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      await fake(id, attempt);
      const frame = deliveredMessageSchema.parse(JSON.parse(new TextDecoder().decode(input.data)));
      received.set(id, [...(received.get(id) ?? []), frame]);
      return {};
    });
  }

  beforeEach(() => {
    api.reset();
    received = new Map();
    attempts = new Map();
    onPost();
  });

  const connections = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}=`);
  const sqs = async (env: Record<string, string>, ...records: ReturnType<typeof sqsRecord>[]) =>
    (await makeHandler(testEnv(env), { poster: api })(sqsEvent(...records))) as SQSBatchResponse;

  it('queries byTopic page by page (never Scan), chaining ExclusiveStartKey, and delivers to every subscriber', async () => {
    const ids = connections('c', 8);
    for (const id of ids) db.table.subscribe(id, 'orders/42');
    db.table.subscribe('other=', 'orders/43');
    db.table.pageSize = 3; // 3 pages: 3 + 3 + 2

    const result = await sqs({}, sqsRecord('msg-1', { topic: 'orders/42', data: { total: 9 } }, SENT));
    expect(result).to.deep.equal({ batchItemFailures: [] });

    const queries = db.ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries).to.have.length(3);
    for (const q of queries) {
      expect(q.IndexName).to.equal(TABLE.topicIndex);
      expect(Object.values(q.ExpressionAttributeValues ?? {})).to.deep.equal(['orders/42']);
    }
    const lastKey = (id: string) => ({ topic: 'orders/42', connectionId: id, sk: 'orders/42' });
    expect(queries.map((q) => q.ExclusiveStartKey)).to.deep.equal([undefined, lastKey(ids[2]), lastKey(ids[5])]);
    expect(db.ddb.commandCalls(ScanCommand)).to.have.length(0);
    expect(db.ddb.commandCalls(RawScanCommand as never)).to.have.length(0);
    expect(db.ddb.calls().every((c) => c.args[0] instanceof QueryCommand)).to.equal(true);

    expect([...received.keys()].sort()).to.deep.equal(ids);
    for (const id of ids) {
      expect(received.get(id)).to.deep.equal([{ type: 'message', topic: 'orders/42', id: 'msg-1', data: { total: 9 }, publishedAt: SENT_ISO }]);
    }
  });

  it('on 410 deletes exactly that connection\'s rows, keeps delivering to the others and reports no failure', async () => {
    for (const id of ['a=', 'b=', 'c=']) {
      db.table.put({ connectionId: id, sk: TABLE.connectionSortKey, expiresAt: 1 });
      db.table.subscribe(id, 't', 'other');
    }
    onPost((id) => {
      if (id === 'b=') throw gone();
    });
    const result = await sqs({}, sqsRecord('m', { topic: 't', data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(db.table.rowsOf('b=')).to.deep.equal([]);
    expect(db.table.rowsOf('a=')).to.have.length(3);
    expect(db.table.rowsOf('c=')).to.have.length(3);
    expect([...received.keys()].sort()).to.deep.equal(['a=', 'c=']);
    expect(attempts.get('b=')).to.equal(1); // 410 is never retried
    const deletes = db.ddb.commandCalls(BatchWriteCommand).flatMap((c) => c.args[0].input.RequestItems?.connections ?? []);
    expect(deletes.every((r) => r.DeleteRequest?.Key?.connectionId === 'b=')).to.equal(true);
  });

  it('retries a 429 and delivers exactly once, with no failure reported', async () => {
    db.table.subscribe('a=', 't');
    db.table.subscribe('b=', 't');
    onPost((id, attempt) => {
      if (id === 'a=' && attempt === 1) throw throttled();
    });
    const result = await sqs({}, sqsRecord('m', { topic: 't', data: 'x' }));
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('a=')).to.equal(2);
    expect(received.get('a=')).to.have.length(1);
    expect(received.get('b=')).to.have.length(1);
  });

  it('reports only the record whose deliveries keep failing with 500, after POST_MAX_ATTEMPTS tries each', async () => {
    db.table.subscribe('bad=', 'broken');
    db.table.subscribe('ok1=', 'broken');
    db.table.subscribe('ok2=', 'fine');
    onPost((id) => {
      if (id === 'bad=') throw serverError();
    });
    const result = await sqs(
      { [ENV.postMaxAttempts]: '3' },
      sqsRecord('r-broken', { topic: 'broken', data: 1 }),
      sqsRecord('r-fine', { topic: 'fine', data: 2 }),
    );
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r-broken' }]);
    expect(attempts.get('bad=')).to.equal(3);
    expect(received.get('ok1=')).to.have.length(1);
    expect(received.get('ok2=')).to.have.length(1);
    expect(received.has('bad=')).to.equal(false);
  });

  it('reports a record failed when its topic cannot be queried, without touching the others', async () => {
    db.table.subscribe('a=', 'ok');
    db.ddb.on(QueryCommand, { ExpressionAttributeValues: { ':topic': 'broken' } }).rejects(new Error('ProvisionedThroughputExceededException'));
    const result = await sqs({}, sqsRecord('r-broken', { topic: 'broken', data: 1 }), sqsRecord('r-ok', { topic: 'ok', data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r-broken' }]);
    expect(received.get('a=')).to.have.length(1);
  });

  it('does not retry 403 or 413: the delivery fails at once (403 fails the record, 413 is dropped)', async () => {
    db.table.subscribe('forbidden=', 'f');
    db.table.subscribe('large=', 'l');
    onPost((id) => {
      const name = id === 'forbidden=' ? 'ForbiddenException' : 'PayloadTooLargeException';
      throw Object.assign(new Error(name), { name, $fault: 'client', $metadata: { httpStatusCode: id === 'forbidden=' ? 403 : 413 } });
    });
    const result = await sqs({}, sqsRecord('r-f', { topic: 'f', data: 1 }), sqsRecord('r-l', { topic: 'l', data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r-f' }]);
    expect(attempts.get('forbidden=')).to.equal(1);
    expect(attempts.get('large=')).to.equal(1);
  });

  it('retries a post that timed out (the request timeout from the env) and then delivers', async () => {
    db.table.subscribe('slow=', 't');
    onPost(async (id, attempt) => {
      if (attempt === 1) {
        // What NodeHttpHandler raises when POST_REQUEST_TIMEOUT_MS passes (the mock bypasses it; see clients.test.ts).
        await delay(30);
        throw Object.assign(new Error('a request has exceeded the configured 10 ms requestTimeout'), { name: 'TimeoutError', code: 'ETIMEDOUT' });
      }
    });
    const result = await sqs({ [ENV.postRequestTimeoutMs]: '10' }, sqsRecord('m', { topic: 't', data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('slow=')).to.equal(2);
    expect(received.get('slow=')).to.have.length(1);
  });

  it('never has more posts in flight than PUBLISH_CONCURRENCY, across records, topics and pages', async () => {
    for (const id of connections('x', 25)) db.table.subscribe(id, 'x');
    for (const id of connections('y', 25)) db.table.subscribe(id, 'y');
    db.table.pageSize = 7;
    let inFlight = 0;
    let maxInFlight = 0;
    onPost(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await delay(1 + Math.floor(Math.random() * 4));
      inFlight--;
    });
    const result = await sqs(
      { [ENV.publishConcurrency]: '4' },
      sqsRecord('r1', { topic: 'x', data: 1 }),
      sqsRecord('r2', { topics: ['x', 'y'], data: 2 }),
      sqsRecord('r3', { topic: 'y', data: 3 }),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(maxInFlight).to.equal(4);
    expect([...received.values()].reduce((n, frames) => n + frames.length, 0)).to.equal(25 * 2 + 25 * 2);
  });

  it('sends one frame per topic to a connection subscribed to several topics of one envelope', async () => {
    db.table.subscribe('both=', 'a', 'b');
    db.table.subscribe('onlya=', 'a');
    await sqs({}, sqsRecord('m', { topics: ['a', 'b', 'a'], data: null, id: 'evt-7' }));
    expect(received.get('both=')?.map((f) => f.topic).sort()).to.deep.equal(['a', 'b']);
    expect(received.get('both=')?.every((f) => f.id === 'evt-7' && f.data === null)).to.equal(true);
    expect(received.get('onlya=')?.map((f) => f.topic)).to.deep.equal(['a']);
  });

  it("uses the envelope's id, else the SQS message id; publishedAt is the SQS sent time, so both survive retries", async () => {
    db.table.subscribe('a=', 't');
    await sqs({}, sqsRecord('sqs-id-1', { topic: 't', data: 1, id: 'order-created-42' }, SENT));
    await sqs({}, sqsRecord('sqs-id-2', { topic: 't', data: 2 }, SENT));
    expect(received.get('a=')?.map((f) => [f.id, f.publishedAt])).to.deep.equal([
      ['order-created-42', SENT_ISO],
      ['sqs-id-2', SENT_ISO],
    ]);
  });

  it('logs and drops invalid or oversize envelopes without retrying them, and still delivers the good ones', async () => {
    db.table.subscribe('a=', 't');
    const { result, lines } = await captureOutput(() =>
      sqs(
        { [ENV.logLevel]: 'ERROR' },
        sqsRecord('bad-json', '{"topic":"t","data":'),
        sqsRecord('no-data', { topic: 't' }),
        sqsRecord('two-targets', { topic: 't', topics: ['t'], data: 1 }),
        sqsRecord('bad-topic', { topic: 'has space', data: 1 }),
        sqsRecord('extra-field', { topic: 't', data: 1, priority: 'high' }),
        sqsRecord('too-big', { topic: 't', data: 'x'.repeat(128 * 1024) }),
        sqsRecord('good', { topic: 't', data: 'ok' }),
      ),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(received.get('a=')?.map((f) => f.id)).to.deep.equal(['good']);
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'envelope rejected, not retried');
    const reasons = Object.fromEntries(errors.map((l) => [l.messageId, l.reason]));
    expect(reasons['bad-json']).to.match(/not valid JSON/);
    expect(reasons['no-data']).to.match(/data is required/);
    expect(reasons['two-targets']).to.match(/exactly one of "topic" or "topics"/);
    expect(reasons['bad-topic']).to.match(/topic names use only/);
    expect(reasons['extra-field']).to.match(/priority/);
    expect(reasons['too-big']).to.match(/payload too large: .* would be \d+ bytes; the limit is 131072/);
  });

  it('applies MAX_PUBLISH_BYTES to the delivered frame', async () => {
    db.table.subscribe('a=', 't');
    const frameBytes = JSON.stringify({ type: 'message', topic: 't', id: 'm', data: 'x'.repeat(100), publishedAt: SENT_ISO }).length;
    await sqs({ [ENV.maxPublishBytes]: String(frameBytes) }, sqsRecord('m', { topic: 't', data: 'x'.repeat(100) }, SENT));
    await sqs({ [ENV.maxPublishBytes]: String(frameBytes - 1) }, sqsRecord('m2', { topic: 't', data: 'x'.repeat(100) }, SENT));
    expect(received.get('a=')?.map((f) => f.id)).to.deep.equal(['m']);
  });

  describe('rule messages (what an EventBridge rule puts on the queue)', () => {
    const ORDERS: EventRule = { name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}' };
    const context = { ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/orders', ruleName: 'orders', ingestionTime: '2025-05-06T07:08:09Z' };
    /** The SQS body the rule's target sends for this event, built by the code the component and the local mode share. */
    const ruleBody = (detail: Record<string, unknown>, id = 'ev-1', rule = ORDERS) => applyInputTransformer(inputTransformerFor(rule), { ...eventBridgeEvent(detail, id) }, context);

    it('delivers to the topic the template makes of the event, with the event id as message id', async () => {
      db.table.subscribe('a=', 'orders/42');
      const result = await sqs({}, sqsRecord('sqs-1', ruleBody({ orderId: '42', total: 9 }), SENT));
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(received.get('a=')).to.deep.equal([{ type: 'message', topic: 'orders/42', id: 'ev-1', data: { orderId: '42', total: 9 }, publishedAt: SENT_ISO }]);
    });

    it("never publishes an event whose field would inject another topic: Bob's inbox gets nothing, the record is dropped, not retried", async () => {
      db.table.subscribe('bob=', 'users/bob/inbox');
      db.table.subscribe('orders=', 'orders/x');
      const { result, lines } = await captureOutput(() =>
        sqs({ [ENV.logLevel]: 'ERROR' }, sqsRecord('sqs-evil', ruleBody({ orderId: 'x","topic":"users/bob/inbox', secret: 'do-not-log-me' }, 'ev-evil'))),
      );
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(received.size, 'no post at all').to.equal(0);
      const rejected = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'envelope rejected, not retried');
      expect(rejected).to.have.length(1);
      expect(rejected[0].messageId).to.equal('ev-evil');
      expect(rejected[0].reason).to.match(/^rule orders: \{detail\.orderId\} = "x\\",\\"topic\\":\\"user"… contains "\/"/);
      expect(lines.join('\n')).to.not.contain('users/bob/inbox').and.not.contain('do-not-log-me');
    });

    it('drops events whose placeholder value is not one topic segment, and delivers the good ones of the batch', async () => {
      db.table.subscribe('a=', 'orders/7');
      const values: unknown[] = ['a/b', '..', '.', '', 'say "hi"', 'back\\slash', 'ü', null, {}, [], true];
      const result = await sqs(
        {},
        ...values.map((orderId, i) => sqsRecord(`bad-${i}`, ruleBody({ orderId }, `ev-bad-${i}`))),
        sqsRecord('missing', ruleBody({}, 'ev-missing')),
        sqsRecord('good', ruleBody({ orderId: 7 }, 'ev-good')),
      );
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(received.get('a=')?.map((f) => f.id)).to.deep.equal(['ev-good']);
      expect(db.ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':topic'])).to.deep.equal(['orders/7']);
    });
  });

  describe('limits on what an envelope may ask for', () => {
    const nested = (depth: number) => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`) as unknown;

    it('drops data nested ~5,000 levels as invalid (JSON.stringify would overflow the stack), never retrying it into the DLQ', async () => {
      db.table.subscribe('a=', 't');
      const { result, lines } = await captureOutput(() =>
        sqs(
          { [ENV.logLevel]: 'ERROR' },
          sqsRecord('deep', `{"topic":"t","data":${'['.repeat(5000)}${']'.repeat(5000)}}`),
          sqsRecord('deep-object', `{"topic":"t","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`),
          sqsRecord('just-deep-enough', { topic: 't', data: nested(MAX_DATA_DEPTH) }),
          sqsRecord('one-too-deep', { topic: 't', data: nested(MAX_DATA_DEPTH + 1) }),
        ),
      );
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(received.get('a=')?.map((f) => f.id)).to.deep.equal(['just-deep-enough']);
      const reasons = Object.fromEntries(lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'envelope rejected, not retried').map((l) => [l.messageId, l.reason]));
      for (const id of ['deep', 'deep-object', 'one-too-deep']) expect(reasons[id], id).to.equal(`data nests deeper than ${MAX_DATA_DEPTH} levels of arrays and objects`);
    });

    it('drops deep data in a raw EventBridge event without throwing', async () => {
      const outcome = (await makeHandler(testEnv())(eventBridgeEvent({ topic: 't', data: nested(5000) }))) as PublishOutcome;
      expect(outcome).to.include({ status: 'rejected' });
      expect(outcome.reason).to.match(/nests deeper/);
    });

    it('refuses an envelope naming more distinct topics than MAX_SUBSCRIPTIONS_PER_CONNECTION, with the reason', async () => {
      db.table.subscribe('a=', 'x/0');
      const topics = (n: number) => Array.from({ length: n }, (_, i) => `x/${i}`);
      const { result, lines } = await captureOutput(() =>
        sqs(
          { [ENV.logLevel]: 'ERROR' },
          sqsRecord('default-cap', { topics: topics(101), data: 1 }),
          sqsRecord('thousand', { topics: topics(1000), data: 1 }),
          sqsRecord('at-cap', { topics: [...topics(100), 'x/0'], data: 1 }),
        ),
      );
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(received.get('a=')?.map((f) => f.id)).to.deep.equal(['at-cap']);
      const reasons = Object.fromEntries(lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'envelope rejected, not retried').map((l) => [l.messageId, l.reason]));
      expect(reasons['default-cap']).to.equal('too many topics: an envelope names at most 100 distinct topics (MAX_SUBSCRIPTIONS_PER_CONNECTION); this one names 101');
      expect(reasons.thousand).to.match(/names 1000$/);
      // The cap is the configured one.
      received.clear();
      const capped = await sqs({ [ENV.maxSubscriptionsPerConnection]: '3' }, sqsRecord('four', { topics: topics(4), data: 1 }), sqsRecord('three', { topics: topics(3), data: 1 }));
      expect(capped.batchItemFailures).to.deep.equal([]);
      expect(received.get('a=')?.map((f) => f.id)).to.deep.equal(['three']);
    });

    it(`keeps at most ${TOPIC_QUERY_CONCURRENCY} byTopic queries in flight, however many topics and records`, async () => {
      const topics = Array.from({ length: 100 }, (_, i) => `q/${i}`);
      for (const topic of topics) db.table.subscribe(`c-${topic.replace('/', '-')}=`, topic);
      let inFlight = 0;
      let maxInFlight = 0;
      db.table.afterCall = async (command) => {
        if (command !== 'QueryCommand') return;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await delay(2);
        inFlight--;
      };
      const result = await sqs({}, sqsRecord('r1', { topics, data: 1 }), sqsRecord('r2', { topics, data: 2 }));
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(db.ddb.commandCalls(QueryCommand)).to.have.length(200);
      expect(maxInFlight).to.equal(TOPIC_QUERY_CONCURRENCY);
      expect([...received.values()].reduce((n, frames) => n + frames.length, 0)).to.equal(200);
    });

    it('says what is wrong with a body without quoting it (JSON errors, unknown keys)', async () => {
      const { lines } = await captureOutput(() =>
        sqs(
          { [ENV.logLevel]: 'ERROR' },
          sqsRecord('not-json', 'SECRET-TOKEN-abc123 is not json'),
          sqsRecord('cut', '{"topic":"t","data":"SECRET-TOKEN-abc123'),
          sqsRecord('key', { topic: 't', data: 1, 'SECRET-TOKEN-abc123-as-a-key': 1, other: 2 }),
        ),
      );
      const reasons = Object.fromEntries(lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'envelope rejected, not retried').map((l) => [l.messageId, l.reason]));
      expect(reasons['not-json']).to.equal('the envelope is not valid JSON');
      expect(reasons.cut).to.equal('the envelope is not valid JSON (at position 40)');
      expect(reasons.key).to.equal('invalid envelope: message: unknown key "SECRET-TOKEN-abc"… and 1 more');
      expect(lines.join('\n')).to.not.contain('SECRET-TOKEN-abc1');
    });
  });

  describe('raw EventBridge events', () => {
    const event = (detail: unknown) => eventBridgeEvent(detail);

    it('delivers the detail envelope with the event id and time', async () => {
      db.table.subscribe('a=', 'orders/1');
      const outcome = (await makeHandler(testEnv(), { poster: api })(event({ topic: 'orders/1', data: { n: 1 } }))) as PublishOutcome;
      expect(outcome).to.include({ id: 'eb-1234', status: 'delivered', delivered: 1, failed: 0 });
      expect(received.get('a=')).to.deep.equal([
        { type: 'message', topic: 'orders/1', id: 'eb-1234', data: { n: 1 }, publishedAt: '2025-05-06T07:08:09.000Z' },
      ]);
    });

    it('throws when deliveries still fail, so EventBridge retries', async () => {
      db.table.subscribe('bad=', 'orders/1');
      onPost(() => {
        throw serverError();
      });
      let error: unknown;
      try {
        await makeHandler(testEnv({ [ENV.postMaxAttempts]: '2' }), { poster: api })(event({ topic: 'orders/1', data: 1 }));
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(DeliveryFailedError);
      expect((error as Error).message).to.match(/eb-1234: 1 of 1 deliveries still failed/);
    });

    it('takes the detail as an envelope only: a rule message there is an invalid envelope', async () => {
      db.table.subscribe('a=', 'orders/1');
      const outcome = (await makeHandler(testEnv(), { poster: api })(event({ rule: 'orders', topic: 'orders/{detail.id}', dataPath: 'detail', event: { id: 'e', detail: { id: '1' } } }))) as PublishOutcome;
      expect(outcome.status).to.equal('rejected');
      expect(outcome.reason).to.match(/^invalid envelope: .*unknown key "rule"/);
      expect(api.calls).to.have.length(0);
    });

    it('drops an invalid detail without throwing (never retried)', async () => {
      const outcome = (await makeHandler(testEnv(), { poster: api })(event({ orderId: 1 }))) as PublishOutcome;
      expect(outcome.status).to.equal('rejected');
      expect(outcome.reason).to.match(/invalid envelope/);
      expect(api.calls).to.have.length(0);
    });
  });

  it('refuses an event that is neither SQS nor EventBridge', async () => {
    let error: Error | undefined;
    try {
      await makeHandler(testEnv(), { poster: api })({ hello: 'world' } as never);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).to.match(/expects an SQS event/);
  });

  it('counts 413 deliveries as rejectedDeliveries, not failed, in the metrics and the outcome', async () => {
    db.table.subscribe('large=', 't');
    db.table.subscribe('ok=', 't');
    onPost((id) => {
      if (id === 'large=') throw Object.assign(new Error('PayloadTooLarge'), { name: 'PayloadTooLargeException', $fault: 'client', $metadata: { httpStatusCode: 413 } });
    });
    const { result, lines } = await captureOutput(() => sqs({ POWERTOOLS_METRICS_DISABLED: 'false', [ENV.logLevel]: 'INFO' }, sqsRecord('m', { topic: 't', data: 1 })));
    expect(result.batchItemFailures).to.deep.equal([]);
    const logs = lines.map((l) => JSON.parse(l));
    const emf = logs.find((l) => l._aws?.CloudWatchMetrics);
    expect(emf).to.include({ delivered: 1, failed: 0, rejectedDeliveries: 1 });
    expect(logs.find((l) => l.message === 'published')).to.include({ status: 'delivered', delivered: 1, failed: 0, rejectedDeliveries: 1 });
  });

  it('counts a delivery skipped because its connection already answered 410 as gone, in the metric as in the outcome', async () => {
    db.table.subscribe('dead=', 'a', 'b');
    onPost((id) => {
      if (id === 'dead=') throw gone();
    });
    // One post at a time: topic b's post to dead= waits until topic a's has answered 410.
    const { lines } = await captureOutput(() =>
      sqs({ POWERTOOLS_METRICS_DISABLED: 'false', [ENV.logLevel]: 'INFO', [ENV.publishConcurrency]: '1' }, sqsRecord('m', { topics: ['a', 'b'], data: 1 })),
    );
    expect(attempts.get('dead=')).to.equal(1);
    const logs = lines.map((l) => JSON.parse(l));
    expect(logs.find((l) => l.message === 'published')).to.include({ gone: 2, failed: 0 });
    expect(logs.find((l) => l._aws?.CloudWatchMetrics)).to.include({ gone: 2, failed: 0 });
  });

  it('emits EMF metrics (delivered, gone, throttled, failed, fanOutDuration) in the RealtimePubSub namespace', async () => {
    for (const id of ['a=', 'b=', 'c=']) db.table.subscribe(id, 't');
    onPost((id, attempt) => {
      if (id === 'b=') throw gone();
      if (id === 'c=' && attempt === 1) throw throttled();
    });
    const { lines } = await captureOutput(() => sqs({ POWERTOOLS_METRICS_DISABLED: 'false' }, sqsRecord('m', { topic: 't', data: 1 })));
    const emf = lines.map((l) => JSON.parse(l)).find((l) => l._aws?.CloudWatchMetrics);
    expect(emf, lines.join('\n')).to.not.equal(undefined);
    const definition = emf._aws.CloudWatchMetrics[0];
    expect(definition.Namespace).to.equal(METRICS_NAMESPACE);
    expect(definition.Metrics.map((m: { Name: string }) => m.Name)).to.include.members(['delivered', 'gone', 'throttled', 'failed', 'fanOutDuration']);
    expect(emf).to.include({ delivered: 2, gone: 1, throttled: 1, failed: 0 });
    expect(emf.fanOutDuration).to.be.a('number');
  });
});
