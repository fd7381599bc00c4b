/** Delivery jobs onto the delivery queue: batching within SQS limits, failed entries re-sent, retry delays, the DLQ after the last attempt. */
import { expect } from 'chai';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { jobsFor, parseJob, type DeliveryJob } from '../../functions/lib/delivery/job';
import { BATCH_BYTES, batches, JobQueue, MAX_DELAY_SECONDS } from '../../functions/lib/delivery/job-queue';

describe('delivery jobs', () => {
  let sqsMock: AwsClientStub<SQSClient>;
  before(() => (sqsMock = mockClient(SQSClient)));
  afterEach(() => sqsMock.reset());
  // Every SQSClient of later tests would answer from this mock otherwise.
  after(() => sqsMock.restore());
  const base = { kind: 'slice' as const, messageId: 'm1', topic: 't', frame: '{"type":"message"}', attempt: 0 };
  const queue = (maxAttempts = 5) =>
    new JobQueue({ sqs: new SQSClient({ region: 'us-east-1' }), queueUrl: 'https://q/delivery', deadLetterUrl: 'https://q/delivery-dlq', maxAttempts, random: () => 0.5 });

  it('cuts connection ids into jobs of at most perJob, in order', () => {
    const ids = Array.from({ length: 1050 }, (_, i) => `c${i}`);
    const jobs = jobsFor(base, ids, 500);
    expect(jobs.map((j) => j.connectionIds.length)).to.deep.equal([500, 500, 50]);
    expect(jobs.flatMap((j) => j.connectionIds)).to.deep.equal(ids);
  });

  it('parses what it writes and reports anything else without throwing', () => {
    const [job] = jobsFor(base, ['a', 'b'], 10);
    expect(parseJob(JSON.stringify(job))).to.deep.equal({ ok: true, job });
    expect(parseJob('{not json')).to.deep.equal({ ok: false, reason: 'the delivery job is not valid JSON' });
    const bad = parseJob(JSON.stringify({ ...job, connectionIds: [] }));
    expect(bad.ok).to.equal(false);
  });

  it('groups entries by 10 and by the batch byte limit', () => {
    const small = Array.from({ length: 25 }, () => ({ body: 'x' }));
    expect(batches(small).map((b) => b.length)).to.deep.equal([10, 10, 5]);
    const big = Array.from({ length: 5 }, () => ({ body: 'x'.repeat(BATCH_BYTES / 2 - 10) }));
    expect(batches(big).map((b) => b.length)).to.deep.equal([2, 2, 1]);
  });

  it('sends 23 jobs in 3 batches and re-sends only the entries SQS failed', async () => {
    let call = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake((input) => {
      call++;
      // The first call fails two entries; they come back in a later call.
      return call === 1 ? { Successful: [], Failed: [{ Id: input.Entries[3].Id, SenderFault: false, Code: 'InternalError' }, { Id: input.Entries[7].Id, SenderFault: false, Code: 'InternalError' }] } : { Successful: [], Failed: [] };
    });
    const jobs = Array.from({ length: 23 }, (_, i) => ({ ...base, connectionIds: [`c${i}`] }));
    const q = queue();
    await q.enqueue(jobs);
    const sent = sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries!.map((e) => (JSON.parse(e.MessageBody!) as DeliveryJob).connectionIds[0]));
    expect(sent[1]).to.deep.equal(['c3', 'c7']);
    expect(sent.flat().sort()).to.deep.equal([...jobs.map((j) => j.connectionIds[0]), 'c3', 'c7'].sort());
    expect(q.counts.enqueued).to.equal(23);
  });

  it('throws when SQS keeps refusing an entry, so the caller record is retried', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input) => ({ Successful: [], Failed: [{ Id: input.Entries[0].Id, SenderFault: false, Code: 'InternalError' }] }));
    let error: unknown;
    await queue().enqueue([{ ...base, connectionIds: ['a'] }]).catch((e) => (error = e));
    expect(String(error)).to.match(/refused 1 job/);
  });

  it('delays retries exponentially (capped at 15 minutes), never slices or rests', () => {
    const q = queue(50);
    expect(q.delayFor({ ...base, connectionIds: ['a'] })).to.equal(0);
    expect(q.delayFor({ ...base, kind: 'rest', attempt: 3, connectionIds: ['a'] })).to.equal(0);
    const delays = [1, 2, 3, 4, 12].map((attempt) => q.delayFor({ ...base, kind: 'retry', attempt, connectionIds: ['a'] }));
    expect(delays).to.deep.equal([1, 1, 2, 4, MAX_DELAY_SECONDS / 2]); // random 0.5 of 1, 2, 4, 8 s, … capped at 900 s
  });

  it('sends a job out of attempts to the DLQ, the others to the queue', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    sqsMock.on(SendMessageCommand).resolves({});
    const q = queue(3);
    await q.enqueue([
      { ...base, kind: 'retry', attempt: 3, connectionIds: ['dead'] },
      { ...base, kind: 'retry', attempt: 2, connectionIds: ['alive'] },
    ]);
    const dlq = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(dlq).to.have.length(1);
    expect(dlq[0].QueueUrl).to.equal('https://q/delivery-dlq');
    expect((JSON.parse(dlq[0].MessageBody!) as DeliveryJob).connectionIds).to.deep.equal(['dead']);
    const batch = sqsMock.commandCalls(SendMessageBatchCommand)[0].args[0].input;
    expect(batch.QueueUrl).to.equal('https://q/delivery');
    expect(batch.Entries!.map((e) => (JSON.parse(e.MessageBody!) as DeliveryJob).connectionIds[0])).to.deep.equal(['alive']);
    expect(batch.Entries![0].DelaySeconds).to.be.a('number');
    expect(q.counts).to.deep.equal({ enqueued: 1, deadLettered: 1 });
  });
});
