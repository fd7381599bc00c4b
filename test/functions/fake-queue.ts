/**
 * A stand-in for the delivery queue and its DLQ behind aws-sdk-client-mock, for the publish and
 * deliver handler tests: SendMessageBatch to the delivery queue and SendMessage to the DLQ are
 * answered here, and every job they carry is decoded with parseJob (a body that is not a valid
 * job, or a call to another queue, fails the call and so the test) and kept in the order it was
 * accepted, with the queue it went to and its DelaySeconds. A test can have entries refused
 * (answered in the batch's Failed list, as SQS does) or whole calls rejected.
 * JobQueue's own batching and re-sending are tested in job-queue.test.ts.
 */
import { SendMessageBatchCommand, SendMessageCommand, SQSClient, type BatchResultErrorEntry } from '@aws-sdk/client-sqs';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { parseJob, type DeliveryJob, type JobKind } from '../../functions/lib/delivery/job';
import { BATCH_ENTRIES } from '../../functions/lib/delivery/job-queue';
import { DELIVERY_DLQ_URL, DELIVERY_QUEUE_URL } from './helpers';

export interface QueuedJob {
  queue: 'delivery' | 'dlq';
  job: DeliveryJob;
  delaySeconds?: number;
}

function decode(body: string | undefined): DeliveryJob {
  const parsed = parseJob(body ?? '');
  if (!parsed.ok) throw new Error(`FakeDeliveryQueue: not a delivery job: ${parsed.reason}`);
  return parsed.job;
}

export class FakeDeliveryQueue {
  /** Every job accepted, in order. */
  readonly sent: QueuedJob[] = [];
  /** Entries for which this is true are answered as failed, every time they are sent. */
  refuse: (job: DeliveryJob) => boolean = () => false;
  /** Entries answered as failed so far. */
  refused = 0;

  install(mock: AwsClientStub<SQSClient>): this {
    mock.on(SendMessageBatchCommand).callsFake(async (input) => {
      // On its own tick, as a network call is.
      await new Promise((resolve) => setImmediate(resolve));
      if (input.QueueUrl !== DELIVERY_QUEUE_URL) throw new Error(`FakeDeliveryQueue: SendMessageBatch to an unexpected queue ${String(input.QueueUrl)}`);
      const entries = input.Entries ?? [];
      if (entries.length === 0 || entries.length > BATCH_ENTRIES) throw new Error(`FakeDeliveryQueue: a batch of ${entries.length} entries`);
      const failed: BatchResultErrorEntry[] = [];
      const successful = [];
      for (const entry of entries) {
        const job = decode(entry.MessageBody);
        if (this.refuse(job)) {
          this.refused++;
          failed.push({ Id: entry.Id, SenderFault: false, Code: 'InternalError' });
          continue;
        }
        this.sent.push({ queue: 'delivery', job, ...(entry.DelaySeconds !== undefined ? { delaySeconds: entry.DelaySeconds } : {}) });
        successful.push({ Id: entry.Id, MessageId: `q-${this.sent.length}`, MD5OfMessageBody: '' });
      }
      return { Successful: successful, Failed: failed };
    });
    mock.on(SendMessageCommand).callsFake(async (input) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (input.QueueUrl !== DELIVERY_DLQ_URL) throw new Error(`FakeDeliveryQueue: SendMessage to an unexpected queue ${String(input.QueueUrl)}`);
      this.sent.push({ queue: 'dlq', job: decode(input.MessageBody) });
      return { MessageId: `dlq-${this.sent.length}` };
    });
    return this;
  }

  /** The jobs accepted on `queue` (default the delivery queue), of `kind` if given, in order. */
  jobs(kind?: JobKind, queue: QueuedJob['queue'] = 'delivery'): DeliveryJob[] {
    return this.sent.filter((s) => s.queue === queue && (kind === undefined || s.job.kind === kind)).map((s) => s.job);
  }

  /** The connection ids of those jobs, in order. */
  connections(kind?: JobKind, queue: QueuedJob['queue'] = 'delivery'): string[] {
    return this.jobs(kind, queue).flatMap((j) => j.connectionIds);
  }
}

/**
 * Mock SQSClient for the enclosing `describe` (created in `before` and restored in `after`, so
 * later test files get real clients) with a fresh FakeDeliveryQueue before each test.
 */
export function withFakeDeliveryQueue(): { readonly sqs: AwsClientStub<SQSClient>; readonly queue: FakeDeliveryQueue } {
  const state = {} as { sqs: AwsClientStub<SQSClient>; queue: FakeDeliveryQueue };
  before(() => (state.sqs = mockClient(SQSClient)));
  beforeEach(() => {
    state.sqs.reset();
    state.queue = new FakeDeliveryQueue().install(state.sqs);
  });
  after(() => state.sqs.restore());
  return state;
}
