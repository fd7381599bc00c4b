/**
 * The deliver handler: each delivery job (a slice of a big topic, or connections whose delivery
 * failed) is posted to its connections only, and what is left goes on as a new job with just
 * those connections: a retry round (attempt + 1, delayed) for posts that failed, a rest (same
 * attempt, no delay) for posts the deadline left unsent — unless nothing at all was sent, which
 * counts as a round — and the delivery DLQ once DELIVERY_MAX_ATTEMPTS rounds are spent.
 */
import { expect } from 'chai';
import type { SQSBatchResponse } from 'aws-lambda';
import { ENV, METRICS_NAMESPACE } from '../../protocol/env';
import { TABLE } from '../../protocol/table';
import { makeHandler } from '../../functions/handlers/deliver';
import type { DeliveryJob } from '../../functions/lib/delivery/job';
import { FakePoster } from './fake-poster';
import { withFakeDeliveryQueue } from './fake-queue';
import { withFakeTable } from './fake-table';
import { captureOutput, delay, gone, serverError, sqsEvent, sqsRecord, testEnv, throttled } from './helpers';

/** Small backoff steps keep the suite fast; the behaviour is the same at 50 ms. */
const FAST = { [ENV.postBaseBackoffMs]: '2' };

const forbidden = () => Object.assign(new Error('Forbidden'), { name: 'ForbiddenException', $fault: 'client', $metadata: { httpStatusCode: 403 } });
const tooLarge = () => Object.assign(new Error('PayloadTooLarge'), { name: 'PayloadTooLargeException', $fault: 'client', $metadata: { httpStatusCode: 413 } });

/** Runs `fn` with Math.random fixed, so the jittered DelaySeconds of a retry job is known. */
async function withRandom<T>(value: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = () => value;
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}

describe('deliver handler', () => {
  const db = withFakeTable();
  const q = withFakeDeliveryQueue();
  const poster = new FakePoster();
  /** Frames (as text) each connection received, successful posts only. */
  let received: Map<string, string[]>;
  let attempts: Map<string, number>;

  /** Route every post through `fake` (which may throw), recording attempts and deliveries. */
  function onPost(fake: (connectionId: string, attempt: number) => Promise<void> | void = () => undefined) {
    poster.callsFake(async ({ connectionId, data }) => {
      const attempt = (attempts.get(connectionId) ?? 0) + 1;
      attempts.set(connectionId, attempt);
      await fake(connectionId, attempt);
      received.set(connectionId, [...(received.get(connectionId) ?? []), new TextDecoder().decode(data)]);
    });
  }

  beforeEach(() => {
    poster.reset();
    received = new Map();
    attempts = new Map();
    onPost();
  });

  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}=`);
  const frameOf = (messageId: string, topic = 't') => JSON.stringify({ type: 'message', topic, id: messageId, seq: 7, epoch: 'e1', data: { n: 1 }, publishedAt: '2026-01-01T00:00:00.000Z' });
  const job = (over: Partial<DeliveryJob> & Pick<DeliveryJob, 'connectionIds'>): DeliveryJob => ({
    kind: 'slice',
    messageId: 'm1',
    topic: 't',
    frame: frameOf(over.messageId ?? 'm1', over.topic),
    attempt: 0,
    ...over,
  });
  const run = async (env: Record<string, string>, records: ReturnType<typeof sqsRecord>[], options: { context?: unknown; now?: () => number } = {}) =>
    (await makeHandler(testEnv({ ...FAST, ...env }), { poster, now: options.now })(sqsEvent(...records), options.context)) as SQSBatchResponse;
  const logged = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('posts the job\'s frame, byte for byte, once to each of its connections; a job delivered fully queues nothing', async () => {
    const conns = ids('c', 5);
    const j = job({ connectionIds: conns });
    const { result, lines } = await captureOutput(() => run({ [ENV.logLevel]: 'INFO' }, [sqsRecord('q1', j)]));
    expect(result.batchItemFailures).to.deep.equal([]);
    for (const id of conns) expect(received.get(id), id).to.deep.equal([j.frame]);
    expect(poster.calls).to.have.length(5);
    expect(q.sqs.calls(), 'no call to the delivery queue').to.have.length(0);
    expect(logged(lines).find((l) => l.message === 'job delivered')).to.include({ messageId: 'm1', topic: 't', kind: 'slice', attempt: 0, connections: 5, delivered: 5, gone: 0, rejected: 0, retrying: 0, rest: 0 });
  });

  it('hands connections that answered 429 past the deadline, 5xx after POST_MAX_ATTEMPTS, or 403 to one delayed retry job, attempt + 1; the others get the frame once', async () => {
    const conns = ['ok1=', 'busy=', 'broken=', 'denied=', 'ok2='];
    onPost((id) => {
      if (id === 'busy=') throw throttled();
      if (id === 'broken=') throw serverError();
      if (id === 'denied=') throw forbidden();
    });
    const retried = job({ kind: 'retry', attempt: 2, connectionIds: conns });
    const slice = job({ messageId: 'm2', connectionIds: ['ok3=', 'broken='] });
    // 300 ms left: the deadline is 150 ms away, which ends busy='s 429s.
    const result = await withRandom(0.99, () =>
      run({ [ENV.postMaxAttempts]: '2' }, [sqsRecord('q-retry', retried), sqsRecord('q-slice', slice)], { context: { getRemainingTimeInMillis: () => 300 } }),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('busy=')).to.be.greaterThan(2); // 429s are retried until the deadline, not POST_MAX_ATTEMPTS times
    expect(attempts.get('broken=')).to.equal(4); // 2 attempts in each job
    expect(attempts.get('denied=')).to.equal(1); // 403 is not retried here
    for (const id of ['ok1=', 'ok2=']) expect(received.get(id)).to.deep.equal([retried.frame]);
    expect(received.get('ok3=')).to.deep.equal([slice.frame]);
    // The records of a batch run side by side: their jobs may be queued in either order.
    expect([...q.queue.sent].sort((a, b) => a.job.messageId.localeCompare(b.job.messageId))).to.deep.equal([
      // Round 3 waits up to 2^(3-1) s (full jitter: 0.99 of 4 s), round 1 up to 1 s.
      { queue: 'delivery', job: { ...retried, attempt: 3, connectionIds: ['busy=', 'broken=', 'denied='] }, delaySeconds: 4 },
      { queue: 'delivery', job: { ...slice, kind: 'retry', attempt: 1, connectionIds: ['broken='] }, delaySeconds: 1 },
    ]);
  });

  it('hands the connections the deadline left unsent to a rest job at the same attempt, without delay', async () => {
    const conns = ids('r', 10);
    let offset = 0;
    const now = () => performance.now() + offset;
    onPost((id) => {
      // The fourth post moves the clock an hour on: the deadline passes while it is in flight.
      if (id === conns[3]) offset += 3_600_000;
    });
    const j = job({ kind: 'retry', attempt: 2, connectionIds: conns });
    const { result, lines } = await captureOutput(() =>
      run({ [ENV.publishConcurrency]: '1', [ENV.logLevel]: 'INFO' }, [sqsRecord('q', j)], { now, context: { getRemainingTimeInMillis: () => 10_000 } }),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(poster.calls.map((c) => c.connectionId), 'no post after the deadline').to.deep.equal(conns.slice(0, 4));
    expect(q.queue.sent).to.deep.equal([{ queue: 'delivery', job: { ...j, kind: 'rest', attempt: 2, connectionIds: conns.slice(4) } }]);
    expect(logged(lines).find((l) => l.message === 'job delivered')).to.include({ delivered: 4, retrying: 0, rest: 6 });
  });

  it('counts a job that got nothing sent before the deadline as a failed round: a delayed retry at attempt + 1, so it cannot spin', async () => {
    const conns = ids('s', 3);
    const j = job({ kind: 'rest', attempt: 1, connectionIds: conns });
    // No time left: the deadline is now.
    const { result, lines } = await withRandom(0.99, () =>
      captureOutput(() => run({ [ENV.logLevel]: 'INFO' }, [sqsRecord('q', j)], { context: { getRemainingTimeInMillis: () => 0 } })),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(poster.calls).to.have.length(0);
    expect(q.queue.sent).to.deep.equal([{ queue: 'delivery', job: { ...j, kind: 'retry', attempt: 2, connectionIds: conns }, delaySeconds: 2 }]);
    expect(logged(lines).find((l) => l.message === 'job delivered')).to.include({ delivered: 0, retrying: 3, rest: 0 });
  });

  it('sends a job to the delivery DLQ once its connections have had DELIVERY_MAX_ATTEMPTS failed rounds', async () => {
    onPost((id) => {
      if (id.startsWith('bad')) throw serverError();
    });
    const failing = job({ kind: 'retry', attempt: 2, connectionIds: ['bad1=', 'ok=', 'bad2='] });
    const earlier = job({ messageId: 'm-early', kind: 'retry', attempt: 1, connectionIds: ['bad3='] });
    const { result, lines } = await captureOutput(() =>
      run({ [ENV.deliveryMaxAttempts]: '3', [ENV.postMaxAttempts]: '1', POWERTOOLS_METRICS_DISABLED: 'false' }, [sqsRecord('q-last', failing), sqsRecord('q-early', earlier)]),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(q.queue.jobs(undefined, 'dlq')).to.deep.equal([{ ...failing, attempt: 3, connectionIds: ['bad1=', 'bad2='] }]);
    // A job with rounds left goes back on the queue.
    expect(q.queue.jobs(undefined, 'delivery')).to.deep.equal([{ ...earlier, attempt: 2 }]);
    expect(received.get('ok=')).to.deep.equal([failing.frame]);
    expect(logged(lines).find((l) => l._aws)).to.include({ jobsDeadLettered: 1, jobsQueued: 1 });
  });

  it('drops a body that is not a delivery job, logged with the reason and never retried, and delivers the valid jobs of the batch', async () => {
    const valid = job({ connectionIds: ['ok='] });
    const { result, lines } = await captureOutput(() =>
      run({ [ENV.logLevel]: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'false' }, [
        sqsRecord('not-json', '{"kind":"slice",'),
        sqsRecord('empty', {}),
        sqsRecord('no-connections', { ...valid, connectionIds: [] }),
        sqsRecord('bad-kind', { ...valid, kind: 'everyone' }),
        sqsRecord('valid', valid),
      ]),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(poster.calls.map((c) => c.connectionId)).to.deep.equal(['ok=']);
    expect(q.sqs.calls()).to.have.length(0);
    const logs = logged(lines);
    const dropped = Object.fromEntries(logs.filter((l) => l.message === 'delivery job dropped, not retried').map((l) => [l.messageId, l.reason]));
    expect(Object.keys(dropped).sort()).to.deep.equal(['bad-kind', 'empty', 'no-connections', 'not-json']);
    expect(dropped['not-json']).to.equal('the delivery job is not valid JSON');
    expect(dropped['no-connections']).to.match(/^not a delivery job: connectionIds:/);
    const emf = logs.find((l) => l._aws) as Record<string, unknown>;
    expect([emf.jobsDropped].flat().reduce((a: number, b) => a + Number(b), 0)).to.equal(4);
  });

  it('on 410 deletes that connection\'s rows once, posts to it no more in this invocation, and hands it to no job', async () => {
    for (const id of ['a=', 'dead=', 'b=']) {
      db.table.put({ connectionId: id, sk: TABLE.connectionSortKey, expiresAt: 1 });
      db.table.subscribe(id, 't', 'u');
    }
    onPost((id) => {
      if (id === 'dead=') throw gone();
    });
    const { result, lines } = await captureOutput(() =>
      run({ [ENV.publishConcurrency]: '1', [ENV.logLevel]: 'INFO' }, [
        sqsRecord('q1', job({ messageId: 'm1', connectionIds: ['a=', 'dead='] })),
        sqsRecord('q2', job({ messageId: 'm2', topic: 'u', connectionIds: ['dead=', 'b='] })),
      ]),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(db.table.rowsOf('dead=')).to.deep.equal([]);
    expect(db.table.rowsOf('a=')).to.have.length(3);
    expect(db.table.rowsOf('b=')).to.have.length(3);
    expect(attempts.get('dead=')).to.equal(1);
    expect([...received.keys()].sort()).to.deep.equal(['a=', 'b=']);
    expect(q.queue.sent).to.deep.equal([]);
    expect(logged(lines).filter((l) => l.message === 'job delivered').map((l) => l.gone)).to.deep.equal([1, 1]);
  });

  it('never hands on a 413 (too large now, too large on every retry)', async () => {
    onPost((id) => {
      if (id === 'big=') throw tooLarge();
    });
    const { result, lines } = await captureOutput(() => run({ [ENV.logLevel]: 'INFO' }, [sqsRecord('q', job({ connectionIds: ['big=', 'ok='] }))]));
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(attempts.get('big=')).to.equal(1);
    expect(q.queue.sent).to.deep.equal([]);
    expect(logged(lines).find((l) => l.message === 'job delivered')).to.include({ delivered: 1, rejected: 1, retrying: 0 });
  });

  it('never has more posts in flight than PUBLISH_CONCURRENCY, across the jobs of a batch', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    onPost(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await delay(1 + Math.floor(Math.random() * 4));
      inFlight--;
    });
    const jobs = [0, 1, 2].map((n) => job({ messageId: `m${n}`, connectionIds: ids(`j${n}-`, 20) }));
    const result = await run({ [ENV.publishConcurrency]: '4' }, jobs.map((j, n) => sqsRecord(`q${n}`, j)));
    expect(result.batchItemFailures).to.deep.equal([]);
    expect(maxInFlight).to.equal(4);
    for (const j of jobs) for (const id of j.connectionIds) expect(received.get(id), id).to.deep.equal([j.frame]);
  });

  it('fails only the record whose leftovers the delivery queue refuses (SQS redelivers that job), not the others', async () => {
    onPost((id) => {
      if (id.startsWith('bad')) throw serverError();
    });
    q.queue.refuse = (j) => j.messageId === 'm-refused';
    const { result, lines } = await captureOutput(() =>
      run({ [ENV.postMaxAttempts]: '1', [ENV.logLevel]: 'WARN' }, [
        sqsRecord('q-refused', job({ messageId: 'm-refused', connectionIds: ['bad1=', 'ok1='] })),
        sqsRecord('q-queued', job({ messageId: 'm-queued', connectionIds: ['bad2=', 'ok2='] })),
      ]),
    );
    expect(result.batchItemFailures).to.deep.equal([{ itemIdentifier: 'q-refused' }]);
    expect(q.queue.jobs().map((j) => [j.messageId, j.connectionIds])).to.deep.equal([['m-queued', ['bad2=']]]);
    expect(logged(lines).find((l) => l.message === 'job failed, SQS will retry it')).to.include({ messageId: 'm-refused', topic: 't' });
  });

  it('emits EMF metrics (delivered, gone, throttled, failed, notSent, rejectedDeliveries, concurrency, jobsQueued, jobsDeadLettered) in the RealtimePubSub namespace', async () => {
    for (const id of ['ok=', 'dead=', 'slow=', 'broken=', 'big=']) db.table.put({ connectionId: id, sk: TABLE.connectionSortKey, expiresAt: 1 });
    onPost((id, attempt) => {
      if (id === 'dead=') throw gone();
      if (id === 'slow=' && attempt === 1) throw throttled();
      if (id === 'broken=') throw serverError();
      if (id === 'big=') throw tooLarge();
    });
    const { result, lines } = await captureOutput(() =>
      run({ [ENV.postMaxAttempts]: '1', POWERTOOLS_METRICS_DISABLED: 'false' }, [sqsRecord('q', job({ connectionIds: ['ok=', 'dead=', 'slow=', 'broken=', 'big='] }))]),
    );
    expect(result.batchItemFailures).to.deep.equal([]);
    const emf = logged(lines).find((l) => l._aws) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] } };
    expect(emf, lines.join('\n')).to.not.equal(undefined);
    expect(emf._aws.CloudWatchMetrics[0].Namespace).to.equal(METRICS_NAMESPACE);
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).to.include.members([
      'delivered',
      'gone',
      'throttled',
      'failed',
      'notSent',
      'rejectedDeliveries',
      'concurrencyReductions',
      'minConcurrency',
      'jobsQueued',
      'jobsDeadLettered',
    ]);
    expect(emf).to.include({ delivered: 2, gone: 1, throttled: 1, failed: 1, notSent: 0, rejectedDeliveries: 1, jobsQueued: 1, jobsDeadLettered: 0 });
    expect(q.queue.connections('retry')).to.deep.equal(['broken=']);
  });
});
