/**
 * Putting delivery jobs on the delivery queue: SendMessageBatch in batches of at most 10 jobs
 * and SQS's size limit, entries that failed sent again with backoff, retry jobs held back with
 * an exponential, jittered DelaySeconds so a throttled API gets time to recover. A job that has
 * had every attempt goes to the delivery DLQ instead, where an operator can look at it and
 * redrive it. `enqueue` resolves only once every job is on a queue: the caller's record
 * succeeds then, and only then.
 */
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { fullJitterDelay, sleep } from '../backoff';
import type { DeliveryJob } from './job';

/** SQS: 10 entries per batch, and a batch's bodies together within the message size limit. */
export const BATCH_ENTRIES = 10;
export const BATCH_BYTES = 1024 * 1024;
/** SQS's longest DelaySeconds. */
export const MAX_DELAY_SECONDS = 900;
/** Sends of a batch's failed entries before enqueue gives up (and the record is retried by SQS). */
export const SEND_ATTEMPTS = 4;

export interface JobQueueOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Where a job goes once its connections have had `maxAttempts` failed rounds. */
  deadLetterUrl: string;
  maxAttempts: number;
  /** First retry delay; doubling per attempt, full jitter. */
  retryBaseSeconds?: number;
  random?: () => number;
}

export class JobQueue {
  readonly counts = { enqueued: 0, deadLettered: 0 };

  constructor(private readonly options: JobQueueOptions) {}

  /** Put every job on the delivery queue (or, out of attempts, on its DLQ); throws if some could not be sent. */
  async enqueue(jobs: readonly DeliveryJob[]): Promise<void> {
    const live = jobs.filter((job) => job.attempt < this.options.maxAttempts);
    const spent = jobs.filter((job) => job.attempt >= this.options.maxAttempts);
    for (const job of spent) {
      await this.options.sqs.send(new SendMessageCommand({ QueueUrl: this.options.deadLetterUrl, MessageBody: JSON.stringify(job) }));
      this.counts.deadLettered++;
    }
    for (const batch of batches(live.map((job) => ({ body: JSON.stringify(job), delaySeconds: this.delayFor(job) })))) await this.sendBatch(batch);
  }

  /**
   * 0 for slices and rests; for the n-th retry round, at least a second (SQS counts whole
   * seconds, and a throttled API needs the pause) plus full jitter over base·2^(n-1) s.
   */
  delayFor(job: DeliveryJob): number {
    if (job.kind !== 'retry') return 0;
    const ms = fullJitterDelay(job.attempt, (this.options.retryBaseSeconds ?? 1) * 1000, MAX_DELAY_SECONDS * 1000, this.options.random);
    return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.round(ms / 1000)));
  }

  private async sendBatch(entries: Entry[]): Promise<void> {
    let pending = entries.map((entry, i) => ({ ...entry, id: String(i) }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > SEND_ATTEMPTS) throw new Error(`the delivery queue refused ${pending.length} job(s) ${SEND_ATTEMPTS} times`);
      if (attempt > 1) await sleep(fullJitterDelay(attempt - 1, 50, 1000));
      const result = await this.options.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: pending.map((e) => ({ Id: e.id, MessageBody: e.body, ...(e.delaySeconds > 0 ? { DelaySeconds: e.delaySeconds } : {}) })),
        }),
      );
      const failed = new Set((result.Failed ?? []).map((f) => f.Id));
      this.counts.enqueued += pending.length - failed.size;
      pending = pending.filter((e) => failed.has(e.id));
    }
  }
}

interface Entry {
  body: string;
  delaySeconds: number;
}

/** Entries grouped within SQS's batch limits (a single entry over the byte limit goes alone and SQS refuses it). */
export function batches<T extends { body: string }>(entries: readonly T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.body);
    if (current.length > 0 && (current.length === BATCH_ENTRIES || bytes + size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
