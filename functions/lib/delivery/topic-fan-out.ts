/**
 * Fan-out of one message on one topic, as publish does it: read the topic's subscribers page by
 * page; post to the first SLICE_THRESHOLD of them right here (a small topic is delivered in this
 * invocation, with no added latency); cut the rest into slice jobs of SLICE_SIZE connections for
 * the delivery function, queued as soon as their page is read so parallel invocations start on
 * them while this one posts (a big topic is never bounded by one invocation's CPU or timeout);
 * and hand the connections the inline posts could not reach to retry and rest jobs.
 *
 * The result is a success once every job is queued: the record that carried the message is
 * then done, and a retry never re-sends the message to everyone. Only a deadline reached before
 * every page was read (`unfetched`) leaves the record to SQS's redelivery, which reads the topic
 * from the start (the slices already queued then reach their connections twice; clients drop
 * the duplicate by seq and id).
 * Inline posting keeps at most two pages waiting, which bounds memory however big the topic.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Deliverer, DeliveryReport } from './deliverer';
import { jobsFor, type DeliveryJob } from './job';
import type { JobQueue } from './job-queue';
import type { SubscriberReader } from './subscribers';

export interface SliceSettings {
  /** Subscribers a topic may have for publish to post to them all itself; the rest go to slices. */
  sliceThreshold: number;
  /** Connections per slice job. */
  sliceSize: number;
}

export interface TopicFanOutDeps {
  reader: SubscriberReader;
  deliverer: Deliverer;
  jobs: JobQueue;
  settings: SliceSettings;
  logger: Logger;
}

export interface TopicMessage {
  topic: string;
  messageId: string;
  /** The frame as subscribers receive it. */
  frame: string;
}

export interface TopicResult {
  subscribers: number;
  delivered: number;
  gone: number;
  /** 413s: refused by API Gateway as too large, not retried. */
  rejected: number;
  /** Connections handed to slice jobs. */
  sliced: number;
  /** Connections whose inline post failed, handed to retry jobs. */
  retrying: number;
  /** Connections the deadline left unsent, handed to rest jobs. */
  rest: number;
  /** The deadline came before every page was read: the record must be retried. */
  unfetched: boolean;
}

export async function fanOutTopic(deps: TopicFanOutDeps, message: TopicMessage): Promise<TopicResult> {
  const { reader, deliverer, jobs, settings } = deps;
  const about = { topic: message.topic, messageId: message.messageId };
  const bytes = new TextEncoder().encode(message.frame);
  const base = { messageId: message.messageId, topic: message.topic, frame: message.frame };
  const result: TopicResult = { subscribers: 0, delivered: 0, gone: 0, rejected: 0, sliced: 0, retrying: 0, rest: 0, unfetched: false };

  let inlineRoom = settings.sliceThreshold;
  const inline: Promise<DeliveryReport>[] = [];
  const reports: DeliveryReport[] = [];
  const queued: Promise<void>[] = [];
  try {
    const pages = reader.pages(message.topic, () => deliverer.late);
    for (;;) {
      const next = await pages.next();
      if (next.done) {
        result.unfetched = next.value === 'stopped';
        break;
      }
      const ids = next.value;
      result.subscribers += ids.length;
      const here = ids.slice(0, inlineRoom);
      const sliced = ids.slice(here.length);
      inlineRoom -= here.length;
      if (sliced.length > 0) {
        result.sliced += sliced.length;
        const slices = jobs.enqueue(jobsFor({ ...base, kind: 'slice', attempt: 0 }, sliced, settings.sliceSize));
        // Awaited below; handled now, so a refusal while posts run is not an unhandled rejection (which ends a Lambda process).
        slices.catch(() => undefined);
        queued.push(slices);
      }
      if (here.length > 0) {
        inline.push(deliverer.deliver(here, bytes, about));
        // Backpressure: before reading a third page, wait for the oldest to be posted.
        if (inline.length >= 2) reports.push(await inline.shift()!);
      }
    }
  } finally {
    // deliver() never rejects: wait for it even when a query failed, so nothing is posted after we answer.
    reports.push(...(await Promise.all(inline)));
    await Promise.allSettled(queued);
  }
  await Promise.all(queued); // a refused slice job fails the record

  const followUps: DeliveryJob[] = [];
  for (const report of reports) {
    result.delivered += report.delivered;
    result.gone += report.gone;
    result.rejected += report.rejected;
    result.retrying += report.retry.length;
    result.rest += report.rest.length;
    followUps.push(...jobsFor({ ...base, kind: 'retry', attempt: 1 }, report.retry, settings.sliceSize));
    followUps.push(...jobsFor({ ...base, kind: 'rest', attempt: 0 }, report.rest, settings.sliceSize));
  }
  // Unread pages fail the record, and its redelivery posts to the whole topic again: jobs for
  // these connections would only send them the frame once more.
  if (!result.unfetched) await jobs.enqueue(followUps);
  return result;
}
