/**
 * deliver: post delivery jobs (delivery/job.ts) from the delivery queue — the slices of big
 * topics and the retries of deliveries that failed — each job one frame to a list of
 * connections, with the same per-connection retries, adaptive bound and rate budget as publish.
 *
 * What a job leaves over goes on as a new job with just those connections: `retry` for posts
 * that failed (one more round, after a delay that grows with the rounds; past
 * DELIVERY_MAX_ATTEMPTS rounds the job goes to the delivery DLQ), `rest` for posts the deadline
 * left unsent (no delay, no round counted — unless the job got nothing at all sent, which counts
 * as a failed round so a starved job cannot spin). The record succeeds once that is queued, so
 * SQS never re-sends a job to the connections that already have its frame. A body that is not a
 * job is logged and dropped.
 *
 * Slices take their posts from the rate budget with a share below the whole (SLICE_BUDGET_PERCENT,
 * default 75 %):
 * one message's huge topic leaves part of every second to other messages' small topics, which
 * publish delivers inline with the whole budget.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { EnvMap } from '../lib/config';
import { retryDeadline } from '../lib/deadline';
import { Deliverer } from '../lib/delivery/deliverer';
import { jobsFor, parseJob, type DeliveryJob } from '../lib/delivery/job';
import type { Poster } from '../lib/delivery/management-api';
import { makePosting } from '../lib/delivery/posting';
import { lambdaEntry } from '../lib/lazy-handler';
import { makeRuntime } from '../lib/runtime';
import { describeError, MetricUnit } from '../lib/telemetry';

export interface DeliverOutcome {
  messageId: string;
  topic: string;
  kind: DeliveryJob['kind'];
  attempt: number;
  connections: number;
  delivered: number;
  gone: number;
  rejected: number;
  /** Connections handed on to a retry job (or the DLQ). */
  retrying: number;
  /** Connections handed on to a rest job. */
  rest: number;
}

export interface DeliverHandlerOptions {
  now?: () => number;
  poster?: Poster;
  /** Told what each job came to (the local mode prints it). What it throws is ignored. */
  onOutcome?: (outcome: DeliverOutcome) => void;
}

export function makeHandler(env: EnvMap, options: DeliverHandlerOptions = {}): (event: SQSEvent, context?: Context | unknown) => Promise<SQSBatchResponse> {
  const now = options.now ?? (() => performance.now());
  const runtime = makeRuntime(env, 'realtime-deliver');
  const { ddb, tableName, logger, metrics, config } = runtime;
  const { poster, jobs, budget, forgetConnection } = makePosting(runtime, env, { poster: options.poster, budgetShare: config.sliceBudgetPercent / 100 });

  async function deliverJob(deliverer: Deliverer, job: DeliveryJob): Promise<DeliverOutcome> {
    const about = { topic: job.topic, messageId: job.messageId };
    const report = await deliverer.deliver(job.connectionIds, new TextEncoder().encode(job.frame), about);
    const base = { kind: job.kind, messageId: job.messageId, topic: job.topic, frame: job.frame };
    // A job the deadline left wholly unsent made no progress: count the round, so it cannot spin.
    const starved = report.rest.length === job.connectionIds.length;
    const next = [
      ...jobsFor({ ...base, kind: 'retry', attempt: job.attempt + 1 }, [...report.retry, ...(starved ? report.rest : [])], config.sliceSize),
      ...(starved ? [] : jobsFor({ ...base, kind: 'rest', attempt: job.attempt }, report.rest, config.sliceSize)),
    ];
    await jobs.enqueue(next);
    const outcome: DeliverOutcome = {
      ...about,
      kind: job.kind,
      attempt: job.attempt,
      connections: job.connectionIds.length,
      delivered: report.delivered,
      gone: report.gone,
      rejected: report.rejected,
      retrying: report.retry.length + (starved ? report.rest.length : 0),
      rest: starved ? 0 : report.rest.length,
    };
    logger.info('job delivered', { ...outcome });
    try {
      options.onOutcome?.(outcome);
    } catch {
      // an observer never changes what happens to the job
    }
    return outcome;
  }

  return async (event, context) => {
    runtime.addContext(context);
    const deliverer = new Deliverer({ poster, ddb, tableName, config, logger, now, budget, forgetConnection, retryDeadline: retryDeadline(context, config.publishRetryBudgetMs, now()) });
    const before = { ...jobs.counts };
    const processor = new BatchProcessor(EventType.SQS);
    const recordHandler = async (record: SQSRecord) => {
      const parsed = parseJob(record.body);
      if (!parsed.ok) {
        logger.error('delivery job dropped, not retried', { messageId: record.messageId, reason: parsed.reason });
        metrics.addMetric('jobsDropped', MetricUnit.Count, 1);
        return undefined;
      }
      try {
        return await deliverJob(deliverer, parsed.job);
      } catch (error) {
        logger.warn('job failed, SQS will retry it', { messageId: parsed.job.messageId, topic: parsed.job.topic, error: describeError(error) });
        throw error;
      }
    };
    try {
      return await processPartialResponse(event, recordHandler, processor, { context: context as Context, throwOnFullBatchFailure: false });
    } finally {
      const c = deliverer.counts;
      for (const name of ['delivered', 'gone', 'throttled', 'failed', 'notSent'] as const) metrics.addMetric(name, MetricUnit.Count, c[name]);
      metrics.addMetric('rejectedDeliveries', MetricUnit.Count, c.rejected);
      metrics.addMetric('concurrencyReductions', MetricUnit.Count, deliverer.limit.reductions);
      metrics.addMetric('minConcurrency', MetricUnit.Count, deliverer.limit.lowest);
      metrics.addMetric('jobsQueued', MetricUnit.Count, jobs.counts.enqueued - before.enqueued);
      metrics.addMetric('jobsDeadLettered', MetricUnit.Count, jobs.counts.deadLettered - before.deadLettered);
      runtime.flushMetrics();
    }
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
