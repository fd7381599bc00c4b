/**
 * Posting one frame to a list of connections, in one invocation: the per-connection part of the
 * fan-out, shared by publish (a topic's first subscribers, inline) and the delivery function
 * (slices and retries).
 *
 * Posts go through one limiter per invocation (so the posts in flight never exceed
 * PUBLISH_CONCURRENCY, whatever the number of frames and connections), which adapts to 429s
 * (AIMD, adaptive-limit.ts), and through the stack's rate budget when there is one
 * (rate-budget.ts). A throttled post is retried until the deadline; 5xx and timeouts up to
 * POST_MAX_ATTEMPTS attempts. A post waits for its backoff outside the limiter, so the bound
 * counts only requests in flight. 410 deletes the connection's rows, once per invocation.
 *
 * What is left is reported by connection, never as a failure of the whole message: `retry`
 * (its last attempt failed: 429 at the deadline, 5xx or timeouts after every attempt, 403) and
 * `rest` (never sent: the deadline came first). The caller hands those connections — and only
 * those — to a delivery job, so no retry re-sends to anyone who already has the frame.
 * No attempt, first ones included, starts after the deadline: the time left is for answering.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { AdaptiveLimit } from '../adaptive-limit';
import { fullJitterDelay, sleep } from '../backoff';
import type { Config } from '../config';
import { deleteConnectionRows } from '../connection-rows';
import { classifyPostError, type PostErrorKind } from '../post-errors';
import { describeError } from '../telemetry';
import type { Poster } from './management-api';

/** Longest wait between two attempts of one post. */
export const POST_BACKOFF_CAP_MS = 2000;

/** Anything that paces posts: the stack's rate budget (rate-budget.ts). */
export interface Pacer {
  take(): Promise<void>;
}

export interface DelivererDeps {
  poster: Poster;
  /** For the rows of connections that answer 410. */
  ddb: DynamoDBDocumentClient;
  tableName: string;
  config: Pick<Config, 'publishConcurrency' | 'postMaxAttempts' | 'postBaseBackoffMs'>;
  logger: Logger;
  /** No post is sent after this time (`now` clock); see deadline.ts. */
  retryDeadline: number;
  budget?: Pacer;
  /** Monotonic milliseconds (default `performance.now()`); injectable for tests. */
  now?: () => number;
  /** What a 410 does with the connection's rows (default deleteConnectionRows; presence also leaves its topics). */
  forgetConnection?: (connectionId: string) => Promise<number>;
}

/** What the message is, for logs. */
export interface About {
  topic: string;
  messageId: string;
}

export interface DeliveryReport {
  delivered: number;
  gone: number;
  /** 413: API Gateway refused the frame as too large; no retry can help. */
  rejected: number;
  /** Connections whose last attempt failed: they need a retry. */
  retry: string[];
  /** Connections never sent to: the deadline came first. */
  rest: string[];
}

type Outcome = 'delivered' | 'gone' | 'rejected' | 'retry' | 'rest';
/** What one attempt came to; `late` when it got its slot after the deadline and was not sent. */
type Attempt = { kind: 'delivered' } | Failure | { kind: 'late' };
type Failure = { kind: PostErrorKind; error: unknown; startedAt: number };

/** One per invocation: the shared bound, counters for metrics, 410 bookkeeping. */
export class Deliverer {
  /** Per invocation, for metrics: `gone` counts every delivery whose outcome is gone, skipped ones too. */
  readonly counts = { delivered: 0, gone: 0, throttled: 0, failed: 0, rejected: 0, retries: 0, notSent: 0 };
  readonly limit: AdaptiveLimit;
  /** Connections that answered 410 in this invocation, with their cleanup; later posts skip them. */
  private readonly goneConnections = new Map<string, Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly deps: DelivererDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.limit = new AdaptiveLimit({ max: deps.config.publishConcurrency, now: this.now });
  }

  get deadline(): number {
    return this.deps.retryDeadline;
  }

  /** Has the deadline passed? */
  get late(): boolean {
    return this.now() >= this.deps.retryDeadline;
  }

  /** Post `frame` to every connection; resolves (never rejects) with what became of each. */
  async deliver(connectionIds: readonly string[], frame: Uint8Array, about: About): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: 0, gone: 0, rejected: 0, retry: [], rest: [] };
    const outcomes = await Promise.all(connectionIds.map((id) => this.deliverOne(id, frame, about)));
    outcomes.forEach((outcome, i) => {
      if (outcome === 'retry' || outcome === 'rest') report[outcome].push(connectionIds[i]);
      else report[outcome]++;
    });
    if (report.rest.length > 0) this.deps.logger.info('deadline reached: connections left for a delivery job', { ...about, rest: report.rest.length });
    return report;
  }

  /**
   * One connection, with full-jitter backoff between attempts: 429s are retried until the
   * deadline, 5xx/timeouts up to POST_MAX_ATTEMPTS attempts and only while the deadline is not
   * reached. A first attempt that finds the deadline passed is `rest`.
   */
  private async deliverOne(connectionId: string, frame: Uint8Array, about: About): Promise<Outcome> {
    const { config, logger } = this.deps;
    let transientFailures = 0;
    /** The latest attempt that was sent and failed: what a retry left unsent at the deadline reports. */
    let lastFailure: Failure | undefined;
    for (let attempt = 1; ; attempt++) {
      const result = await this.limit.run((startedAt) => this.attempt(connectionId, frame, about, startedAt));
      if (result.kind === 'delivered' || result.kind === 'gone') return result.kind;
      if (result.kind === 'late' && attempt === 1) {
        this.counts.notSent++;
        return 'rest';
      }
      if (result.kind !== 'late') lastFailure = result;
      let retry = false;
      if (result.kind === 'throttled') retry = true;
      if (result.kind === 'transient') retry = ++transientFailures < config.postMaxAttempts;
      const delay = retry ? fullJitterDelay(attempt, config.postBaseBackoffMs, POST_BACKOFF_CAP_MS) : 0;
      const pastDeadline = result.kind === 'late' || (retry && this.now() + delay >= this.deps.retryDeadline);
      if (retry && !pastDeadline) {
        this.counts.retries++;
        await sleep(delay);
        continue;
      }
      if (result.kind === 'tooLarge') this.counts.rejected++;
      else this.counts.failed++;
      // A retry left unsent at the deadline reports the failure that made it retry (429, 5xx, timeout).
      const failure = result.kind === 'late' ? lastFailure : result;
      logger.warn('delivery failed', {
        connectionId,
        ...about,
        kind: failure?.kind,
        attempts: result.kind === 'late' ? attempt - 1 : attempt,
        ...(pastDeadline ? { reason: 'retry deadline reached' } : {}),
        ...(failure ? { error: describeError(failure.error) } : {}),
      });
      return result.kind === 'tooLarge' ? 'rejected' : 'retry';
    }
  }

  /** One attempt, run in a limiter slot: the budget, the post, and for a 410 the connection's cleanup. */
  private async attempt(connectionId: string, frame: Uint8Array, about: About, startedAt: number): Promise<Attempt> {
    if (this.goneConnections.has(connectionId)) {
      this.counts.gone++;
      return { kind: 'gone', error: undefined, startedAt };
    }
    if (startedAt >= this.deps.retryDeadline) return { kind: 'late' };
    if (this.deps.budget) {
      await this.deps.budget.take();
      // Waiting for the budget may have taken us past the deadline.
      if (this.now() >= this.deps.retryDeadline) return { kind: 'late' };
    }
    try {
      await this.deps.poster.post(connectionId, frame);
      this.counts.delivered++;
      this.limit.succeeded();
      return { kind: 'delivered' };
    } catch (error) {
      const kind = classifyPostError(error);
      if (kind === 'gone') {
        this.counts.gone++;
        await this.forget(connectionId, about);
      } else if (kind === 'throttled') {
        this.counts.throttled++;
        const before = this.limit.bound;
        if (this.limit.throttled(startedAt)) this.deps.logger.debug('throttled: concurrency bound lowered', { messageId: about.messageId, from: before, to: this.limit.bound });
      }
      return { kind, error, startedAt };
    }
  }

  /** 410: delete the connection's rows once. A failed cleanup is logged; TTL removes the rows later. */
  private forget(connectionId: string, about: About): Promise<void> {
    let cleanup = this.goneConnections.get(connectionId);
    if (!cleanup) {
      const { ddb, tableName, logger, forgetConnection } = this.deps;
      cleanup = (forgetConnection ? forgetConnection(connectionId) : deleteConnectionRows(ddb, tableName, connectionId)).then(
        (deleted) => logger.info('connection gone, rows deleted', { connectionId, ...about, deleted }),
        (error: unknown) => logger.warn('connection gone, cleanup failed', { connectionId, ...about, error: describeError(error) }),
      );
      this.goneConnections.set(connectionId, cleanup);
    }
    return cleanup;
  }
}
