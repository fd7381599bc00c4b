import { expect } from 'chai';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startPoller, type Poller } from '../../local/poller';
import { md5Hex, Queue } from '../../local/sqs';

const arn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

/** Resolves once `check` holds, polling; the mocha timeout bounds the wait. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

describe('local poller (SQS event source mapping)', () => {
  let queue: Queue;
  let dlq: Queue;
  let poller: Poller | undefined;

  beforeEach(() => {
    dlq = new Queue('dlq', arn('dlq'));
    queue = new Queue('publish', arn('publish'), { visibilityTimeoutSeconds: 0.1 });
    queue.redrive = { deadLetterQueue: dlq, maxReceiveCount: 3 };
  });
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
    queue.close();
    dlq.close();
  });

  it('invokes the handler with real SQS records and deletes what succeeded', async () => {
    const events: SQSEvent[] = [];
    poller = startPoller({ queue, handler: async (event) => void events.push(event) });
    const sent = queue.send({ body: '{"topic":"a","data":1}', attributes: { kind: { DataType: 'String', StringValue: 'test' } }, senderId: 'AIDALOCAL' });
    await until(() => poller!.stats().succeeded === 1);
    const [record] = events[0].Records;
    expect(record).to.deep.include({
      messageId: sent.messageId,
      body: '{"topic":"a","data":1}',
      md5OfBody: md5Hex('{"topic":"a","data":1}'),
      md5OfMessageAttributes: sent.md5OfAttributes,
      eventSource: 'aws:sqs',
      eventSourceARN: arn('publish'),
      awsRegion: 'us-east-1',
    });
    expect(record.receiptHandle).to.be.a('string').and.not.be.empty;
    expect(record.attributes).to.include({ ApproximateReceiveCount: '1', SenderId: 'AIDALOCAL' });
    expect(Number(record.attributes.SentTimestamp)).to.be.greaterThan(0);
    expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).to.be.at.least(Number(record.attributes.SentTimestamp));
    expect(record.messageAttributes).to.deep.equal({ kind: { stringValue: 'test', stringListValues: [], binaryListValues: [], dataType: 'String' } });
    expect(queue.counts()).to.deep.equal({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('retries only the records a partial batch response names', async () => {
    const seen: { body: string; count: string }[] = [];
    poller = startPoller({
      queue,
      maximumConcurrency: 1,
      handler: async (event: SQSEvent): Promise<SQSBatchResponse> => {
        for (const r of event.Records) seen.push({ body: r.body, count: r.attributes.ApproximateReceiveCount });
        const failures = event.Records.filter((r) => r.body === 'flaky' && r.attributes.ApproximateReceiveCount === '1');
        return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    queue.send({ body: 'fine' });
    queue.send({ body: 'flaky' });
    await until(() => poller!.stats().succeeded === 2);
    expect(seen.filter((s) => s.body === 'fine')).to.deep.equal([{ body: 'fine', count: '1' }]);
    expect(seen.filter((s) => s.body === 'flaky')).to.deep.equal([
      { body: 'flaky', count: '1' },
      { body: 'flaky', count: '2' },
    ]);
    expect(poller.stats()).to.include({ failed: 1, failedBatches: 0 });
    expect(dlq.counts().visible).to.equal(0);
  });

  it('fails the whole batch on a thrown error or an unreadable response, and redrives after maxReceiveCount', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    poller = startPoller({
      queue,
      maximumConcurrency: 1,
      onBatchError: (err) => errors.push(err),
      handler: async (event: SQSEvent) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        // Names no record of the batch: Lambda then treats the whole batch as failed.
        return { batchItemFailures: [{ itemIdentifier: event.Records.length > 0 ? 'not-in-this-batch' : '' }] };
      },
    });
    queue.send({ body: 'x' });
    queue.send({ body: 'y' });
    await until(() => dlq.counts().visible === 2);
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['boom']);
    expect(poller.stats()).to.include({ succeeded: 0 });
    expect(queue.counts()).to.deep.equal({ visible: 0, inFlight: 0, delayed: 0 });
    const moved = await dlq.receive({ maxMessages: 10 });
    expect(moved.map((m) => m.body).sort()).to.deep.equal(['x', 'y']);
    expect(moved[0].deadLetterQueueSourceArn).to.equal(arn('publish'));
  });

  it('keeps at most maximumConcurrency invocations running', async () => {
    let running = 0;
    let peak = 0;
    poller = startPoller({
      queue,
      batchSize: 1,
      maximumConcurrency: 3,
      handler: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
      },
    });
    // A long visibility timeout so slow invocations are never redelivered.
    queue.settings.visibilityTimeoutSeconds = 30;
    for (let i = 0; i < 12; i++) queue.send({ body: `m${i}` });
    await until(() => poller!.stats().succeeded === 12);
    expect(peak).to.be.at.most(3);
    expect(poller.stats().invocations).to.equal(12);
  });

  it('runs each concurrent invocation in its own environment (build), reused while warm', async () => {
    let environments = 0;
    const seen: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    queue.settings.visibilityTimeoutSeconds = 30;
    poller = startPoller({
      queue,
      batchSize: 1,
      maximumConcurrency: 3,
      build: () => {
        const env = ++environments;
        return async () => {
          seen.push(env);
          await held;
        };
      },
    });
    for (let i = 0; i < 3; i++) queue.send({ body: `first${i}` });
    await until(() => seen.length === 3);
    expect([...seen].sort()).to.deep.equal([1, 2, 3]);
    release();
    await until(() => poller!.stats().succeeded === 3);
    for (let i = 0; i < 6; i++) queue.send({ body: `then${i}` });
    await until(() => poller!.stats().succeeded === 9);
    expect(environments).to.equal(3);
    expect(poller.pool.stats()).to.include({ environmentsCreated: 3, maxConcurrent: 3, queued: 0 });
  });

  it('gathers a batch over the batching window', async () => {
    const sizes: number[] = [];
    queue.settings.visibilityTimeoutSeconds = 30;
    poller = startPoller({ queue, batchSize: 5, maxBatchingWindowMs: 400, maximumConcurrency: 1, handler: async (e: SQSEvent) => void sizes.push(e.Records.length) });
    await new Promise((r) => setTimeout(r, 20));
    // The first send wakes the waiting receive; the rest arrive while the window is open.
    for (const body of ['a', 'b', 'c']) queue.send({ body });
    await until(() => poller!.stats().succeeded === 3);
    expect(sizes).to.deep.equal([3]);
  });

  it('runs more than 10 workers without a MaxListenersExceededWarning (the delivery poller runs 20)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      // Every worker starts its long poll at once, each listening for the stop signal.
      poller = startPoller({ queue, handler: async () => undefined, maximumConcurrency: 20 });
      // process.emitWarning emits on the next tick.
      await new Promise((r) => setImmediate(r));
      queue.send({ body: 'one' });
      await until(() => poller!.stats().succeeded === 1);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).to.deep.equal([]);
  });

  it('refuses settings Lambda refuses', () => {
    expect(() => startPoller({ queue, handler: async () => undefined, batchSize: 11 })).to.throw(/batching window/);
    expect(() => startPoller({ queue, handler: async () => undefined, maximumConcurrency: 0 })).to.throw(/maximumConcurrency/);
    expect(() => startPoller({ queue })).to.throw(/either build or handler/);
  });
});
