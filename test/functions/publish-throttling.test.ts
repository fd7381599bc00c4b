/**
 * The publish handler against a management API that throttles: a rate limit below our fan-out
 * rate is met by lowering the concurrency and retrying 429s until the invocation's deadline, so
 * every subscriber gets the message once, in one invocation. What the deadline leaves is handed
 * to delivery jobs by connection (retry: its posts failed; rest: never sent), and the record
 * succeeds; it fails only when the deadline comes before every subscriber was read.
 */
import { expect } from 'chai';
import type { SQSBatchResponse } from 'aws-lambda';
import { ENV } from '../../protocol/env';
import { DeliveryFailedError, makeHandler, type PublishOutcome } from '../../functions/handlers/publish';
import { DEADLINE_MARGIN_MIN_MS, retryDeadline } from '../../functions/lib/deadline';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { FakePoster } from './fake-poster';
import { withFakeDeliveryQueue } from './fake-queue';
import { withFakeTable } from './fake-table';
import { captureOutput, delay, eventBridgeEvent, serverError, sqsEvent, sqsRecord, testEnv, throttled } from './helpers';

/** A context whose remaining time leaves `retryMs` for retries once the margin is kept. */
const contextWithRetryTime = (retryMs: number) => {
  // Inverts deadline.ts's margin: half of a short time, 2 s of a middling one, 10 % of a long one.
  const remaining = retryMs <= DEADLINE_MARGIN_MIN_MS ? 2 * retryMs : retryMs <= 9 * DEADLINE_MARGIN_MIN_MS ? retryMs + DEADLINE_MARGIN_MIN_MS : retryMs / 0.9;
  expect(retryDeadline({ getRemainingTimeInMillis: () => remaining }, 0, 0)).to.be.closeTo(retryMs, 1);
  const end = Date.now() + remaining;
  return { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
};

/** Small backoff steps keep the suite fast; the behaviour is the same at 50 ms. */
const FAST = { [ENV.postBaseBackoffMs]: '2' };

describe('publish handler under throttling', () => {
  const db = withFakeTable();
  const q = withFakeDeliveryQueue();
  const poster = new FakePoster();
  beforeEach(() => poster.reset());

  const ids = (n: number) => Array.from({ length: n }, (_, i) => `s${String(i).padStart(3, '0')}=`);

  /**
   * A management API that accepts `perWindow` posts per `windowMs` window and answers 429
   * beyond, each call taking a few ms. It counts deliveries per connection and the calls in
   * flight: overall, and once every call in flight at the first 429 has finished.
   */
  function rateLimitedApi(perWindow: number, windowMs: number) {
    const state = {
      delivered: new Map<string, number>(),
      throttled: 0,
      inFlight: 0,
      maxInFlight: 0,
      /** Calls in flight when the first 429 was answered; once they are done, maxAfterThrottle counts. */
      beforeThrottle: undefined as Set<number> | undefined,
      maxAfterThrottle: 0,
    };
    const running = new Set<number>();
    let window = -1;
    let used = 0;
    let callNo = 0;
    poster.callsFake(async (input) => {
      const call = ++callNo;
      running.add(call);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      if (state.beforeThrottle && state.beforeThrottle.size === 0) state.maxAfterThrottle = Math.max(state.maxAfterThrottle, state.inFlight);
      try {
        await delay(2);
        const now = Math.floor(performance.now() / windowMs);
        if (now !== window) [window, used] = [now, 0];
        if (++used > perWindow) {
          state.throttled++;
          state.beforeThrottle ??= new Set(running);
          throw throttled();
        }
        const id = input.connectionId;
        state.delivered.set(id, (state.delivered.get(id) ?? 0) + 1);
        return {};
      } finally {
        state.inFlight--;
        running.delete(call);
        state.beforeThrottle?.delete(call);
      }
    });
    return state;
  }

  it('delivers to all 300 subscribers exactly once in one invocation at 20 posts per 100 ms, lowering the bound below 64', async () => {
    for (const id of ids(300)) db.table.subscribe(id, 'busy');
    const api = rateLimitedApi(20, 100);
    const env = testEnv({ ...FAST, [ENV.publishConcurrency]: '64', [ENV.logLevel]: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' });
    const { result, lines } = await captureOutput(
      async () => (await makeHandler(env, { poster })(sqsEvent(sqsRecord('r-busy', { topic: 'busy', data: 1 })), contextWithRetryTime(60_000))) as SQSBatchResponse,
    );

    expect(result.batchItemFailures).to.deep.equal([]);
    expect(api.delivered.size).to.equal(300);
    expect([...api.delivered.values()].every((n) => n === 1)).to.equal(true);
    expect(api.throttled, 'the mock must actually throttle').to.be.greaterThan(0);
    // The first posts go out at the full bound; once those have finished, fewer are in flight.
    expect(api.maxInFlight).to.equal(64);
    expect(api.beforeThrottle?.size).to.equal(0);
    expect(api.maxAfterThrottle).to.be.greaterThan(0).and.below(64);

    const logs = lines.map((l) => JSON.parse(l));
    const published = logs.find((l) => l.message === 'published');
    expect(published).to.include({ messageId: 'r-busy', status: 'delivered', delivered: 300, retrying: 0, rest: 0 });
    expect(q.queue.sent, 'nothing left for a delivery job').to.deep.equal([]);
    expect(published.concurrencyReductions).to.be.greaterThan(0);
    expect(published.concurrency).to.be.within(1, 63);
    const emf = logs.find((l) => l._aws?.CloudWatchMetrics);
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).to.include.members([
      'concurrencyReductions',
      'minConcurrency',
    ]);
    expect(emf.concurrencyReductions).to.equal(published.concurrencyReductions);
    expect(emf.minConcurrency).to.be.within(1, 32);
    expect(emf).to.include({ delivered: 300, failed: 0, notSent: 0, throttled: api.throttled, jobsQueued: 0 });
  });

  it('hands a connection whose 429s last past the deadline to a retry job (the record succeeds) and still delivers the others once', async () => {
    db.table.subscribe('stuck=', 'jammed');
    db.table.subscribe('ok=', 'jammed');
    db.table.subscribe('fine=', 'open');
    const attempts = new Map<string, number>();
    poster.callsFake(async (input) => {
      const id = input.connectionId;
      attempts.set(id, (attempts.get(id) ?? 0) + 1);
      if (id === 'stuck=') throw throttled();
      return {};
    });
    const env = testEnv({ ...FAST, [ENV.postMaxAttempts]: '2', [ENV.logLevel]: 'WARN' });
    const { result, lines } = await captureOutput(
      async () =>
        (await makeHandler(env, { poster })(
          sqsEvent(sqsRecord('r-jammed', { topic: 'jammed', data: 1 }), sqsRecord('r-open', { topic: 'open', data: 2 })),
          contextWithRetryTime(300),
        )) as SQSBatchResponse,
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    // 429s are not held to POST_MAX_ATTEMPTS: the deadline ended them.
    expect(attempts.get('stuck=')).to.be.greaterThan(2);
    expect(attempts.get('ok=')).to.equal(1);
    expect(attempts.get('fine=')).to.equal(1);
    const failure = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'delivery failed');
    expect(failure).to.include({ connectionId: 'stuck=', kind: 'throttled', reason: 'retry deadline reached', attempts: attempts.get('stuck=') });
    expect(q.queue.sent.map((s) => s.job)).to.deep.equal([
      { kind: 'retry', messageId: 'r-jammed', topic: 'jammed', attempt: 1, connectionIds: ['stuck='], frame: q.queue.sent[0].job.frame },
    ]);
    expect(JSON.parse(q.queue.sent[0].job.frame)).to.include({ type: 'message', topic: 'jammed', id: 'r-jammed', data: 1 });
  });

  it('does not send a retry that got its slot only after the deadline: that connection goes to a retry job', async () => {
    db.table.subscribe('a=', 't');
    db.table.subscribe('b=', 't');
    const attempts = new Map<string, number>();
    poster.callsFake(async (input) => {
      const id = input.connectionId;
      attempts.set(id, (attempts.get(id) ?? 0) + 1);
      if (id === 'a=') throw throttled();
      await delay(250); // b holds the only slot past the deadline while a's retry waits for it
      return {};
    });
    const env = testEnv({ ...FAST, [ENV.publishConcurrency]: '1' });
    const result = (await makeHandler(env, { poster })(sqsEvent(sqsRecord('r', { topic: 't', data: 1 })), contextWithRetryTime(100))) as SQSBatchResponse;
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('a=')).to.equal(1);
    expect(attempts.get('b=')).to.equal(1);
    // a= was sent once and throttled: a retry, not a rest. b= got its frame and is in no job.
    expect(q.queue.sent.map((s) => [s.job.kind, s.job.attempt, s.job.connectionIds])).to.deep.equal([['retry', 1, ['a=']]]);
  });

  it('logs a retry left unsent at the deadline with the kind of the failure that made it retry (a 5xx, not "throttled")', async () => {
    db.table.subscribe('a=', 't');
    db.table.subscribe('b=', 't');
    poster.callsFake(async (input) => {
      if (input.connectionId === 'a=') throw serverError();
      await delay(250); // b holds the only slot past the deadline while a's retry waits for it
      return {};
    });
    const env = testEnv({ ...FAST, [ENV.publishConcurrency]: '1', [ENV.logLevel]: 'WARN' });
    const { result, lines } = await captureOutput(
      async () => (await makeHandler(env, { poster })(sqsEvent(sqsRecord('r', { topic: 't', data: 1 })), contextWithRetryTime(100))) as SQSBatchResponse,
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    const failure = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'delivery failed');
    expect(failure).to.deep.include({ connectionId: 'a=', kind: 'transient', attempts: 1, reason: 'retry deadline reached' });
    expect(failure.error.name).to.equal('InternalServerErrorException');
    expect(q.queue.sent.map((s) => [s.job.kind, s.job.connectionIds])).to.deep.equal([['retry', ['a=']]]);
  });

  it('sends no post, first attempts included, and fetches no page once the deadline has passed; pages left unread fail the record, with no job for what its redelivery covers', async () => {
    for (const id of ids(2000)) db.table.subscribe(id, 'crowd');
    db.table.pageSize = 250; // 8 pages
    // A clock the test can move: real time plus an offset that jumps an hour once the flag flips.
    let offset = 0;
    const now = () => performance.now() + offset;
    let pastDeadline = false;
    let sentBefore = 0;
    let sentAfter = 0;
    let queriesAtFlip = 0;
    poster.callsFake(async () => {
      if (pastDeadline) sentAfter++;
      else if (++sentBefore === 300) {
        pastDeadline = true;
        offset += 3_600_000;
        queriesAtFlip = db.ddb.commandCalls(QueryCommand).length;
      }
      throw throttled();
    });
    // 10 s remaining: the deadline is 8 s away in real time, reached only through the jump.
    const context = { getRemainingTimeInMillis: () => 10_000 };
    const env = testEnv({ ...FAST, [ENV.publishConcurrency]: '64', [ENV.logLevel]: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' });
    const { result, lines } = await captureOutput(
      async () => (await makeHandler(env, { now, poster })(sqsEvent(sqsRecord('r-crowd', { topic: 'crowd', data: 1 })), context)) as SQSBatchResponse,
    );

    expect(pastDeadline, 'the mock must reach the flip').to.equal(true);
    expect(sentAfter, 'posts sent after the deadline').to.equal(0);
    expect(db.ddb.commandCalls(QueryCommand).length, 'pages fetched after the deadline').to.equal(queriesAtFlip);
    expect(queriesAtFlip).to.be.below(8);
    // Pages were left unread: only SQS's redelivery of the record can reach those subscribers.
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'r-crowd' }]);
    const logs = lines.map((l) => JSON.parse(l));
    const published = logs.find((l) => l.message === 'published');
    const fetched = queriesAtFlip * 250;
    // Nobody of the fetched pages was delivered: those sent (throttled) are retries, most were never sent (rests).
    expect(published).to.include({ status: 'failed', delivered: 0, subscribers: fetched, unfetched: true });
    expect(published.retrying + published.rest).to.equal(fetched);
    expect(published.rest).to.be.above(0);
    expect(logs.find((l) => l.message === 'deadline reached: connections left for a delivery job')).to.include({ topic: 'crowd' });
    const emf = logs.find((l) => l._aws?.CloudWatchMetrics);
    expect(emf).to.include({ delivered: 0, failed: published.retrying, notSent: published.rest });
    // No job for the fetched subscribers: the record's redelivery reads the topic from the start
    // and reaches them again; a job would only send them the frame once more.
    expect(q.queue.connections('retry')).to.deep.equal([]);
    expect(q.queue.connections('rest')).to.deep.equal([]);
  });

  it('hands the subscribers the deadline left unsent to rest jobs once every page was read: the record succeeds', async () => {
    const all = ids(40);
    for (const id of all) db.table.subscribe(id, 'crowd');
    let offset = 0;
    const now = () => performance.now() + offset;
    poster.callsFake(async (input) => {
      // The tenth post moves the clock an hour on: the deadline passes while it is in flight.
      if (input.connectionId === all[9]) offset += 3_600_000;
      return {};
    });
    const env = testEnv({ ...FAST, [ENV.publishConcurrency]: '1', [ENV.logLevel]: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' });
    const { result, lines } = await captureOutput(
      async () => (await makeHandler(env, { now, poster })(sqsEvent(sqsRecord('r-late', { topic: 'crowd', data: 1 })), { getRemainingTimeInMillis: () => 10_000 })) as SQSBatchResponse,
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(poster.calls.map((c) => c.connectionId), 'posts sent: up to the deadline, none after').to.deep.equal(all.slice(0, 10));
    expect(q.queue.sent.map((s) => [s.job.kind, s.job.attempt, s.job.connectionIds, s.delaySeconds])).to.deep.equal([['rest', 0, all.slice(10), undefined]]);
    const logs = lines.map((l) => JSON.parse(l));
    expect(logs.find((l) => l.message === 'published')).to.include({ status: 'queued', subscribers: 40, delivered: 10, retrying: 0, rest: 30, unfetched: false });
    expect(logs.find((l) => l._aws?.CloudWatchMetrics)).to.include({ delivered: 10, notSent: 30, jobsQueued: 1 });
  });

  it('throws for a raw EventBridge event when the deadline comes before every subscriber was read, so EventBridge retries it', async () => {
    const all = ids(5);
    for (const id of all) db.table.subscribe(id, 'orders/1');
    db.table.pageSize = 2;
    let offset = 0;
    const now = () => performance.now() + offset;
    // The first page's query moves the clock an hour on: the deadline passes with 3 subscribers unread.
    db.table.afterCall = (command) => {
      if (command === 'QueryCommand') offset += 3_600_000;
    };
    let error: unknown;
    try {
      await makeHandler(testEnv(FAST), { now, poster })(eventBridgeEvent({ topic: 'orders/1', data: 1 }, 'eb-late'), { getRemainingTimeInMillis: () => 10_000 });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(DeliveryFailedError);
    expect((error as Error).message).to.equal('message eb-late: the deadline passed before every subscriber of its topics was read (2 read)');
    expect((error as DeliveryFailedError).outcome).to.include({ status: 'failed', unfetched: true, subscribers: 2, delivered: 0 });
    expect(poster.calls, 'nothing sent after the deadline').to.have.length(0);
    expect(db.ddb.commandCalls(QueryCommand)).to.have.length(1);
  });

  it('with a short function timeout (333 ms) still retries a 5xx within the deadline', async () => {
    db.table.subscribe('flaky=', 't');
    let posts = 0;
    poster.callsFake(async () => {
      if (++posts === 1) throw serverError();
      return {};
    });
    const env = testEnv({ ...FAST, [ENV.postMaxAttempts]: '3' });
    // A stopped clock: the deadline (166 ms after the start) is never reached, however slow the machine.
    const context = { getRemainingTimeInMillis: () => 333 };
    const result = (await makeHandler(env, { now: () => 0, poster })(sqsEvent(sqsRecord('r', { topic: 't', data: 1 })), context)) as SQSBatchResponse;
    expect(posts).to.equal(2);
    expect(result.batchItemFailures).to.deep.equal([]);
  });

  it('holds 5xx to POST_MAX_ATTEMPTS even between 429s, which do not count against it; the spent connection goes to a retry job', async () => {
    db.table.subscribe('recovers=', 't');
    db.table.subscribe('broken=', 't');
    const answers: Record<string, (() => Error)[]> = {
      // five 429s and one 500, then success: 7 attempts with POST_MAX_ATTEMPTS 2
      'recovers=': [throttled, throttled, throttled, throttled, throttled, serverError],
      // 500, 429, 429, 500: the second 500 is the last of its 2 attempts
      'broken=': [serverError, throttled, throttled, serverError, () => new Error('never reached')],
    };
    const attempts = new Map<string, number>();
    poster.callsFake(async (input) => {
      const id = input.connectionId;
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      const answer = answers[id][n - 1];
      if (answer) throw answer();
      return {};
    });
    const env = testEnv({ ...FAST, [ENV.postMaxAttempts]: '2' });
    const result = (await makeHandler(env, { poster })(sqsEvent(sqsRecord('r', { topic: 't', data: 1 })), contextWithRetryTime(10_000))) as SQSBatchResponse;
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('recovers=')).to.equal(7);
    expect(attempts.get('broken=')).to.equal(4);
    expect(q.queue.sent.map((s) => [s.job.kind, s.job.connectionIds])).to.deep.equal([['retry', ['broken=']]]);
  });

  it('without a Lambda context, retries 429s for PUBLISH_RETRY_BUDGET_MS, then hands the connection to a retry job', async () => {
    db.table.subscribe('stuck=', 't');
    let posts = 0;
    poster.callsFake(async () => {
      posts++;
      throw throttled();
    });
    const env = testEnv({ ...FAST, [ENV.postMaxAttempts]: '1', [ENV.publishRetryBudgetMs]: '150' });
    const result = (await makeHandler(env, { poster })(sqsEvent(sqsRecord('r', { topic: 't', data: 1 })))) as SQSBatchResponse;
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(posts).to.be.greaterThan(1);
    expect(q.queue.sent.map((s) => [s.job.kind, s.job.connectionIds])).to.deep.equal([['retry', ['stuck=']]]);
  });

  it("takes a raw EventBridge event's deadline from its context too; when it passes, the connection goes to a retry job and nothing is thrown", async () => {
    db.table.subscribe('stuck=', 'orders/1');
    poster.rejects(throttled());
    const event = eventBridgeEvent({ topic: 'orders/1', data: 1 }, 'eb-9');
    // A budget far beyond mocha's timeout: only the context's deadline can end this.
    const env = testEnv({ ...FAST, [ENV.publishRetryBudgetMs]: '900000' });
    const outcome = (await makeHandler(env, { poster })(event, contextWithRetryTime(150))) as PublishOutcome;
    expect(outcome).to.include({ id: 'eb-9', status: 'queued', delivered: 0, retrying: 1, rest: 0, unfetched: false });
    expect(poster.calls.length).to.be.greaterThan(1);
    expect(q.queue.sent.map((s) => [s.job.kind, s.job.messageId, s.job.connectionIds])).to.deep.equal([['retry', 'eb-9', ['stuck=']]]);
  });
});
