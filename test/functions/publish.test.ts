import { expect } from 'chai';
import { ScanCommand as RawScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse } from 'aws-lambda';
import { ENV, METRICS_NAMESPACE } from '../../protocol/env';
import { deliveredMessageSchema, type DeliveredMessage } from '../../protocol/messages';
import { TABLE } from '../../protocol/table';
import { makeHandler, type PublishOutcome } from '../../functions/handlers/publish';
import type { JobKind } from '../../functions/lib/delivery/job';
import { TOPIC_QUERY_CONCURRENCY } from '../../functions/lib/delivery/subscribers';
import { FakePoster } from './fake-poster';
import { withFakeDeliveryQueue } from './fake-queue';
import { applyInputTransformer } from '../../local/events';
import { deliveredMessage, MAX_DATA_DEPTH } from '../../protocol/envelope';
import { inputTransformerFor } from '../../protocol/rule-message';
import type { EventRule } from '../../protocol/rules';
import { withFakeTable } from './fake-table';
import { captureOutput, delay, eventBridgeEvent, gone, serverError, sqsEvent, sqsRecord, testEnv, throttled } from './helpers';

const SENT = '1700000000000';
const SENT_ISO = new Date(Number(SENT)).toISOString();

type PostFake = (connectionId: string, attempt: number) => Promise<void> | void;

describe('publish handler', () => {
  const db = withFakeTable();
  const q = withFakeDeliveryQueue();
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

  /**
   * What became of message `messageId` on `topic` for each of `subscribers`: those named in
   * `handedOn` are in jobs of exactly that kind (publish's jobs: slices and rests at attempt 0,
   * retries at attempt 1, each carrying the very frame the others got), `dropped` ones (410,
   * 413) got nothing and are in no job, and every other subscriber received exactly one frame.
   * Nobody is both delivered and handed on, nor in two jobs.
   */
  function expectEachOnce(
    topic: string,
    messageId: string,
    subscribers: string[],
    handedOn: Partial<Record<JobKind, string[]>> = {},
    dropped: string[] = [],
  ) {
    const jobs = q.queue.jobs().filter((j) => j.topic === topic && j.messageId === messageId);
    const inJobs = (kind: JobKind) => jobs.filter((j) => j.kind === kind).flatMap((j) => j.connectionIds);
    for (const kind of ['slice', 'retry', 'rest'] as const) expect(inJobs(kind).sort(), `${kind} jobs of ${messageId} on ${topic}`).to.deep.equal([...(handedOn[kind] ?? [])].sort());
    const framesOf = (id: string) => (received.get(id) ?? []).filter((f) => f.topic === topic && f.id === messageId);
    const handed = jobs.flatMap((j) => j.connectionIds);
    expect(new Set(handed).size, 'a connection in two jobs').to.equal(handed.length);
    for (const id of subscribers) {
      const expected = handed.includes(id) || dropped.includes(id) ? 0 : 1;
      expect(framesOf(id), `frames of ${messageId} on ${topic} received by ${id}`).to.have.length(expected);
    }
    for (const job of jobs) {
      expect(job.attempt, `${job.kind} job attempt`).to.equal(job.kind === 'retry' ? 1 : 0);
      const frame = deliveredMessageSchema.parse(JSON.parse(job.frame));
      expect(frame).to.include({ type: 'message', topic, id: messageId });
      const delivered = subscribers.map(framesOf).find((f) => f.length > 0)?.[0];
      if (delivered) expect(frame, 'a job carries the frame the others got').to.deep.equal(delivered);
    }
  }

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
    expect(q.queue.sent, 'nothing left for the delivery queue').to.deep.equal([]);
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
    // A gone connection is not retried later either.
    expectEachOnce('t', 'm', ['a=', 'b=', 'c='], {}, ['b=']);
    expect(q.queue.sent).to.deep.equal([]);
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
    expect(q.queue.sent).to.deep.equal([]);
  });

  it('hands only the connection whose posts keep failing with 500 (after POST_MAX_ATTEMPTS tries) to a delayed retry job; its record succeeds', async () => {
    db.table.subscribe('bad=', 'broken');
    db.table.subscribe('ok1=', 'broken');
    db.table.subscribe('ok2=', 'fine');
    onPost((id) => {
      if (id === 'bad=') throw serverError();
    });
    const { result, lines } = await captureOutput(() =>
      sqs(
        { [ENV.postMaxAttempts]: '3', [ENV.logLevel]: 'INFO' },
        sqsRecord('r-broken', { topic: 'broken', data: 1 }),
        sqsRecord('r-fine', { topic: 'fine', data: 2 }),
      ),
    );
    // The failure of one delivery no longer has SQS re-send the message to everyone.
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('bad=')).to.equal(3);
    expectEachOnce('broken', 'r-broken', ['bad=', 'ok1='], { retry: ['bad='] });
    expectEachOnce('fine', 'r-fine', ['ok2=']);
    expect(q.queue.sent).to.have.length(1);
    // A retry round waits: DelaySeconds, when jitter gives one, is within the first round's 1 s.
    expect(q.queue.sent[0].delaySeconds ?? 0).to.be.within(0, 1);
    const published = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'published');
    expect(published.find((l) => l.messageId === 'r-broken')).to.include({ status: 'queued', subscribers: 2, delivered: 1, retrying: 1, rest: 0, sliced: 0 });
    expect(published.find((l) => l.messageId === 'r-fine')).to.include({ status: 'delivered', delivered: 1, retrying: 0, rest: 0, sliced: 0 });
  });

  it('reports a record failed when its topic cannot be queried, without touching the others', async () => {
    db.table.subscribe('a=', 'ok');
    db.ddb.on(QueryCommand, { ExpressionAttributeValues: { ':topic': 'broken' } }).rejects(new Error('ProvisionedThroughputExceededException'));
    const result = await sqs({}, sqsRecord('r-broken', { topic: 'broken', data: 1 }), sqsRecord('r-ok', { topic: 'ok', data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r-broken' }]);
    expect(received.get('a=')).to.have.length(1);
    expect(q.queue.sent).to.deep.equal([]);
  });

  it('answers a record whose topic cannot be queried only once its other topics are done: no post outlives the invocation', async () => {
    db.table.subscribe('a=', 'ok');
    db.ddb.on(QueryCommand, { ExpressionAttributeValues: { ':topic': 'broken' } }).rejects(new Error('ProvisionedThroughputExceededException'));
    let inFlight = 0;
    onPost(async () => {
      inFlight++;
      await delay(100);
      inFlight--;
    });
    const result = await sqs({}, sqsRecord('r', { topics: ['ok', 'broken'], data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r' }]);
    expect(inFlight, 'posts still in flight when the record was answered').to.equal(0);
    expect(received.get('a=')).to.have.length(1);
  });

  it('does not retry 403 or 413 here: a 403 goes to a retry job at once, a 413 is dropped; both records succeed', async () => {
    db.table.subscribe('forbidden=', 'f');
    db.table.subscribe('large=', 'l');
    onPost((id) => {
      const name = id === 'forbidden=' ? 'ForbiddenException' : 'PayloadTooLargeException';
      throw Object.assign(new Error(name), { name, $fault: 'client', $metadata: { httpStatusCode: id === 'forbidden=' ? 403 : 413 } });
    });
    const result = await sqs({}, sqsRecord('r-f', { topic: 'f', data: 1 }), sqsRecord('r-l', { topic: 'l', data: 1 }));
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('forbidden=')).to.equal(1);
    expect(attempts.get('large=')).to.equal(1);
    expectEachOnce('f', 'r-f', ['forbidden='], { retry: ['forbidden='] });
    // A frame too large now is too large on every retry: never handed on.
    expectEachOnce('l', 'r-l', ['large='], {}, ['large=']);
    expect(q.queue.sent).to.have.length(1);
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
    expect(q.queue.sent).to.deep.equal([]);
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

  it('applies MAX_PUBLISH_BYTES to the delivered frame, with room for the largest stream position it may carry', async () => {
    db.table.subscribe('a=', 't');
    // The check counts a seq of 2^53 - 1 and a 16-character epoch, so a message accepted without history is never refused with it.
    const largest = { seq: Number.MAX_SAFE_INTEGER, epoch: 'x'.repeat(16) };
    const frameBytes = JSON.stringify(deliveredMessage('t', 'm', 'x'.repeat(100), SENT_ISO, largest)).length;
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
      expect(outcome).to.include({ id: 'eb-1234', status: 'delivered', subscribers: 1, delivered: 1, retrying: 0, rest: 0, sliced: 0, unfetched: false });
      expect(received.get('a=')).to.deep.equal([
        { type: 'message', topic: 'orders/1', id: 'eb-1234', data: { n: 1 }, publishedAt: '2025-05-06T07:08:09.000Z' },
      ]);
    });

    it('hands deliveries that still fail to a retry job and returns queued, without throwing (EventBridge does not re-send to everyone)', async () => {
      db.table.subscribe('bad=', 'orders/1');
      db.table.subscribe('good=', 'orders/1');
      onPost((id) => {
        if (id === 'bad=') throw serverError();
      });
      const outcome = (await makeHandler(testEnv({ [ENV.postMaxAttempts]: '2' }), { poster: api })(event({ topic: 'orders/1', data: 1 }))) as PublishOutcome;
      expect(outcome).to.include({ id: 'eb-1234', status: 'queued', subscribers: 2, delivered: 1, retrying: 1, rest: 0, unfetched: false });
      expect(attempts.get('bad=')).to.equal(2);
      expectEachOnce('orders/1', 'eb-1234', ['bad=', 'good='], { retry: ['bad='] });
    });

    it('throws when the delivery queue refuses the jobs, so EventBridge retries the event', async () => {
      db.table.subscribe('bad=', 'orders/1');
      onPost(() => {
        throw serverError();
      });
      q.queue.refuse = () => true;
      let error: unknown;
      try {
        await makeHandler(testEnv({ [ENV.postMaxAttempts]: '1' }), { poster: api })(event({ topic: 'orders/1', data: 1 }));
      } catch (e) {
        error = e;
      }
      expect((error as Error)?.message).to.match(/the delivery queue refused 1 job/);
      expect(q.queue.refused).to.be.greaterThan(1); // re-sent before giving up
      expect(q.queue.sent).to.deep.equal([]);
    });

    it('throws when a topic cannot be queried, so EventBridge retries the event', async () => {
      db.ddb.on(QueryCommand).rejects(new Error('ProvisionedThroughputExceededException'));
      let error: unknown;
      try {
        await makeHandler(testEnv(), { poster: api })(event({ topic: 'orders/1', data: 1 }));
      } catch (e) {
        error = e;
      }
      expect((error as Error)?.message).to.equal('ProvisionedThroughputExceededException');
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
    expect(emf).to.include({ delivered: 1, failed: 0, rejectedDeliveries: 1, jobsQueued: 0 });
    expect(logs.find((l) => l.message === 'published')).to.include({ status: 'delivered', delivered: 1, retrying: 0, rejectedDeliveries: 1 });
    expect(q.queue.sent).to.deep.equal([]);
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
    expect(logs.find((l) => l.message === 'published')).to.include({ gone: 2, retrying: 0 });
    expect(logs.find((l) => l._aws?.CloudWatchMetrics)).to.include({ gone: 2, failed: 0 });
    expect(q.queue.sent).to.deep.equal([]);
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

  describe('sliced fan-out and the delivery queue', () => {
    const slicing = (threshold: number, size: number, extra: Record<string, string> = {}) => ({
      [ENV.sliceThreshold]: String(threshold),
      [ENV.sliceSize]: String(size),
      [ENV.logLevel]: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
      ...extra,
    });
    const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

    it('posts to the first SLICE_THRESHOLD subscribers itself and queues the rest, in byTopic order, in slice jobs of SLICE_SIZE; nobody twice', async () => {
      const ids = connections('c', 23);
      for (const id of ids) db.table.subscribe(id, 'big');
      const { result, lines } = await captureOutput(() => sqs(slicing(5, 4), sqsRecord('m-big', { topic: 'big', data: { n: 1 } }, SENT)));
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(api.calls.map((c) => c.connectionId).sort()).to.deep.equal(ids.slice(0, 5));
      const slices = q.queue.jobs('slice');
      expect(slices.map((j) => j.connectionIds)).to.deep.equal([ids.slice(5, 9), ids.slice(9, 13), ids.slice(13, 17), ids.slice(17, 21), ids.slice(21)]);
      for (const job of slices) expect(job).to.include({ kind: 'slice', messageId: 'm-big', topic: 'big', attempt: 0 });
      expect(JSON.parse(slices[0].frame)).to.deep.equal({ type: 'message', topic: 'big', id: 'm-big', data: { n: 1 }, publishedAt: SENT_ISO });
      expect(q.queue.sent.map((s) => s.delaySeconds), 'slices wait for nothing').to.deep.equal(Array(5).fill(undefined));
      expectEachOnce('big', 'm-big', ids, { slice: ids.slice(5) });
      const logs = parse(lines);
      expect(logs.find((l) => l.message === 'published')).to.include({ status: 'queued', subscribers: 23, delivered: 5, sliced: 18, retrying: 0, rest: 0, unfetched: false });
      expect(logs.find((l) => l._aws)).to.include({ delivered: 5, jobsQueued: 5, jobsDeadLettered: 0 });
    });

    it('keeps a topic of exactly SLICE_THRESHOLD subscribers inline; one more goes to a slice', async () => {
      const six = connections('six', 6);
      const seven = connections('seven', 7);
      for (const id of six) db.table.subscribe(id, 'six');
      for (const id of seven) db.table.subscribe(id, 'seven');
      const result = await sqs(slicing(6, 10), sqsRecord('m6', { topic: 'six', data: 1 }), sqsRecord('m7', { topic: 'seven', data: 1 }));
      expect(result.batchItemFailures).to.deep.equal([]);
      expectEachOnce('six', 'm6', six);
      expectEachOnce('seven', 'm7', seven, { slice: [seven[6]] });
      expect(q.queue.jobs().map((j) => j.connectionIds)).to.deep.equal([[seven[6]]]);
    });

    it('cuts slices page by page as the index is read, and queues them while its own posts are still running', async () => {
      const ids = connections('p', 23);
      for (const id of ids) db.table.subscribe(id, 'paged');
      db.table.pageSize = 4;
      const slicesQueuedAtPost: number[] = [];
      onPost(async () => {
        slicesQueuedAtPost.push(q.queue.jobs('slice').length);
        await delay(20);
      });
      const result = await sqs(slicing(6, 3, { [ENV.publishConcurrency]: '1' }), sqsRecord('m-paged', { topic: 'paged', data: 1 }));
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(api.calls.map((c) => c.connectionId)).to.deep.equal(ids.slice(0, 6));
      const slices = q.queue.jobs('slice');
      // Page 2 (ids 4-7): 4 and 5 posted here, 6 and 7 the first slice; then each page's ids in slices of at most 3.
      expect(slices.map((j) => j.connectionIds)).to.deep.equal([ids.slice(6, 8), ids.slice(8, 11), [ids[11]], ids.slice(12, 15), [ids[15]], ids.slice(16, 19), [ids[19]], ids.slice(20, 23)]);
      expect(slicesQueuedAtPost.at(-1), 'slices on the queue when the last inline post started').to.be.greaterThan(0);
      expectEachOnce('paged', 'm-paged', ids, { slice: ids.slice(6) });
    });

    it('with SLICE_THRESHOLD 0 posts nothing itself: every subscriber goes to a slice', async () => {
      const ids = connections('z', 7);
      for (const id of ids) db.table.subscribe(id, 'all');
      const { result, lines } = await captureOutput(() => sqs(slicing(0, 3), sqsRecord('m0', { topic: 'all', data: 1 })));
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(api.calls).to.have.length(0);
      expect(q.queue.jobs('slice').map((j) => j.connectionIds)).to.deep.equal([ids.slice(0, 3), ids.slice(3, 6), [ids[6]]]);
      expectEachOnce('all', 'm0', ids, { slice: ids });
      expect(parse(lines).find((l) => l.message === 'published')).to.include({ status: 'queued', subscribers: 7, delivered: 0, sliced: 7 });
    });

    it('applies the threshold per topic of an envelope, each topic slicing its own frame', async () => {
      const a = connections('a', 4);
      const b = connections('b', 3);
      for (const id of a) db.table.subscribe(id, 'ta');
      for (const id of b) db.table.subscribe(id, 'tb');
      const result = await sqs(slicing(2, 10), sqsRecord('m-ab', { topics: ['ta', 'tb'], data: 1 }));
      expect(result.batchItemFailures).to.deep.equal([]);
      expectEachOnce('ta', 'm-ab', a, { slice: a.slice(2) });
      expectEachOnce('tb', 'm-ab', b, { slice: b.slice(2) });
    });

    it('hands inline failures to retry jobs and the rest of the topic to slices, in one record that succeeds', async () => {
      const ids = connections('f', 8);
      for (const id of ids) db.table.subscribe(id, 'mixed');
      onPost((id) => {
        if (id === ids[1]) throw serverError();
        if (id === ids[2]) throw Object.assign(new Error('Forbidden'), { name: 'ForbiddenException', $fault: 'client', $metadata: { httpStatusCode: 403 } });
      });
      const { result, lines } = await captureOutput(() => sqs(slicing(3, 10, { [ENV.postMaxAttempts]: '2' }), sqsRecord('m-mixed', { topic: 'mixed', data: 1 })));
      expect(result.batchItemFailures).to.deep.equal([]);
      expect(attempts.get(ids[1])).to.equal(2);
      expect(attempts.get(ids[2])).to.equal(1);
      expectEachOnce('mixed', 'm-mixed', ids, { retry: [ids[1], ids[2]], slice: ids.slice(3) });
      expect(q.queue.jobs('retry')).to.have.length(1);
      expect(parse(lines).find((l) => l.message === 'published')).to.include({ status: 'queued', subscribers: 8, delivered: 1, retrying: 2, sliced: 5, rest: 0 });
    });

    it('fails the record when the delivery queue keeps refusing its slices, even while its own posts still run; other records are not touched', async () => {
      const ids = connections('r', 6);
      for (const id of ids) db.table.subscribe(id, 'big');
      db.table.subscribe('alone=', 'small');
      q.queue.refuse = (job) => job.topic === 'big';
      // Inline posts outlast every re-send of the refused slice: the refusal comes while they run.
      onPost(() => delay(600));
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      let output: { result: SQSBatchResponse; lines: string[] };
      try {
        output = await captureOutput(() => sqs(slicing(2, 10, { [ENV.logLevel]: 'WARN' }), sqsRecord('r-big', { topic: 'big', data: 1 }), sqsRecord('r-small', { topic: 'small', data: 1 })));
        await delay(10); // Node reports an unhandled rejection after the tick it happened in
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(output.result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r-big' }]);
      expect(unhandled.map(String), 'unhandled rejections (they end a Lambda process)').to.deep.equal([]);
      expect(q.queue.refused).to.be.greaterThan(1);
      expect(q.queue.jobs()).to.deep.equal([]);
      expectEachOnce('small', 'r-small', ['alone=']);
      const failed = parse(output.lines).find((l) => l.message === 'record failed, SQS will retry it');
      expect(failed).to.include({ messageId: 'r-big' });
      expect(JSON.stringify(failed?.error)).to.contain('the delivery queue refused 1 job(s)');
    });

    it('fails the record when the delivery queue refuses its retry job', async () => {
      db.table.subscribe('bad=', 't');
      db.table.subscribe('ok=', 't');
      onPost((id) => {
        if (id === 'bad=') throw serverError();
      });
      q.queue.refuse = (job) => job.kind === 'retry';
      const result = await sqs({ [ENV.postMaxAttempts]: '1' }, sqsRecord('r', { topic: 't', data: 1 }));
      expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r' }]);
      expect(q.queue.refused).to.be.greaterThan(0);
      expect(q.queue.jobs()).to.deep.equal([]);
    });
  });
});
