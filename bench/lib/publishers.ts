/**
 * The publishers the fan-out benchmark compares, as they run in the publisher process
 * (publisher-process.ts): our publish handler (per post path and PUBLISH_CONCURRENCY), the
 * article's Scan + Promise.all (with the SDK's default retries, and without any) and the
 * sequential loop. Each request publishes one message and resolves with what the publisher
 * answered once all its posts are done.
 */
import { makeHandler as makePublishHandler } from '../../functions/handlers/publish';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../local/constants';
import { lambdaContext } from '../../local/gateway';
import { ENV } from '../../protocol/env';
import { deliveredMessage } from '../../protocol/envelope';
import { DEFAULTS } from '../../protocol/limits';
import { makeArticlePublisher, type ArticlePublisher, type BaselineTarget } from '../baselines/article';
import { makeSequentialPublisher, type SequentialPublisher } from '../baselines/sequential';
import { SdkPoster } from './sdk-poster';
import { sqsEventOf } from './sqs-event';

/**
 * How our fan-out reaches PostToConnection: 'lean' is the signed raw-HTTP client the publish
 * function ships with (functions/lib/delivery/management-api.ts); 'sdk' is the same handler with
 * the AWS SDK v3 client it used before (bench/lib/sdk-poster.ts), so both run the same fan-out code.
 */
export const POST_PATHS = ['sdk', 'lean'] as const;
export type PostPath = (typeof POST_PATHS)[number];

/** Everything a publisher needs to reach the local system (plain data: it crosses a process boundary). */
export interface PublisherTarget extends BaselineTarget {
  queueArn: string;
  /** The delivery queue publish hands slices and retries to, its DLQ, and the SQS endpoint serving them. */
  deliveryQueueUrl: string;
  deliveryDlqUrl: string;
  sqsEndpoint: string;
}

export type PublishRequest =
  /**
   * Our handler invoked as SQS would, up to `receives` times until the record succeeds. `env`
   * overrides the single-invocation settings of publishEnv (e.g. SLICE_THRESHOLD, RATE_BUDGET,
   * DELIVERY_QUEUE_URL for the large-topic scenario's sliced runs).
   */
  | { approach: 'ours'; postPath: PostPath; concurrency: number; topic: string; id: string; receives: number; env?: Record<string, string> }
  /** `retries: false` sets the SDK's maxAttempts to 1. */
  | { approach: 'article'; retries: boolean; topic: string; id: string }
  /** Posts to at most `maxPosts` subscribers, for extrapolation. */
  | { approach: 'sequential'; topic: string; id: string; maxPosts: number };

export interface PublishAnswer {
  /** What the publisher answered (status code, failed records, ...). */
  answer: string;
  /** The sequential loop: posts made and the time they took, for extrapolation. */
  sample?: { posts: number; postingMs: number; queryMs: number };
}

/** Stands in for the visibility timeout between two receives of a failed record. */
export const RETRY_PAUSE_MS = 1000;

export interface Publishers {
  publish(request: PublishRequest): Promise<PublishAnswer>;
  /** Sockets the article's SDK client allows per host, read from its HTTP agent (undefined if unreadable). */
  articleSocketLimit(): Promise<number | undefined>;
  destroy(): void;
}

export function makePublishers(target: PublisherTarget): Publishers {
  const handlers = new Map<string, ReturnType<typeof makePublishHandler>>();
  const oursAt = (postPath: PostPath, concurrency: number, env: Record<string, string> = {}) => {
    const key = `${postPath}/${concurrency}/${JSON.stringify(env)}`;
    let handler = handlers.get(key);
    if (!handler) handlers.set(key, (handler = makeOursHandler(target, postPath, concurrency, env)));
    return handler;
  };
  const article = makeArticlePublisher({ ...target, paginate: true });
  const articleNoRetry = makeArticlePublisher({ ...target, paginate: true, maxAttempts: 1 });
  const sequential: SequentialPublisher = makeSequentialPublisher(target);

  async function publishOurs(request: Extract<PublishRequest, { approach: 'ours' }>): Promise<PublishAnswer> {
    const handler = oursAt(request.postPath, request.concurrency, request.env);
    const body = envelope(request.topic, request.id);
    for (let receive = 1; ; receive++) {
      const response = await handler(sqsEventOf(body, target.queueArn, target.region, receive), benchContext());
      const failed = 'batchItemFailures' in response && response.batchItemFailures.length > 0;
      if (!failed) return { answer: receive === 1 ? 'record succeeded' : `record succeeded on receive ${receive}` };
      if (receive >= request.receives) return { answer: request.receives === 1 ? 'record reported failed (SQS retries it)' : `record failed ${receive} receives (to the DLQ)` };
      // SQS hands the record back after the visibility timeout (minutes on AWS); a second here
      // refills the gateway's token bucket just as well.
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }

  async function publishArticle(publisher: ArticlePublisher, topic: string, id: string): Promise<PublishAnswer> {
    const answer = await publisher.publish(topic, frameFor(topic, id));
    // After a 500 some posts are still in flight: they are the publisher's work too.
    await publisher.settled();
    return { answer: `HTTP ${answer.statusCode}` };
  }

  return {
    publish: async (request) => {
      switch (request.approach) {
        case 'ours':
          return publishOurs(request);
        case 'article':
          return publishArticle(request.retries ? article : articleNoRetry, request.topic, request.id);
        case 'sequential': {
          const out = await sequential.publish(request.topic, frameFor(request.topic, request.id), request.maxPosts);
          return { answer: `${out.posted} posted, ${out.failed} failed`, sample: { posts: out.posted, postingMs: out.postingMs, queryMs: out.queryMs } };
        }
      }
    },
    articleSocketLimit: () => article.socketLimit(),
    destroy: () => {
      article.destroy();
      articleNoRetry.destroy();
      sequential.destroy();
    },
  };
}

/** Our publish handler with the given post path: the same handler, only the Poster differs. */
function makeOursHandler(target: PublisherTarget, postPath: PostPath, concurrency: number, overrides: Record<string, string>): ReturnType<typeof makePublishHandler> {
  const env = { ...publishEnv(target, concurrency), ...overrides };
  switch (postPath) {
    case 'lean':
      // The shipping path: makeHandler builds the lean ManagementApi from the env map.
      return makePublishHandler(env);
    case 'sdk':
      return makePublishHandler(env, { poster: sdkPoster(target, concurrency) });
  }
}

/** The SDK client configured as the publish function configured it before the lean path (one attempt, the stack's post timeouts, sockets = concurrency). */
export function sdkPoster(target: BaselineTarget, concurrency: number): SdkPoster {
  return new SdkPoster({
    endpoint: target.managementEndpoint,
    region: target.region,
    credentials: target.credentials,
    connectTimeoutMs: DEFAULTS.postConnectTimeoutMs,
    requestTimeoutMs: DEFAULTS.postRequestTimeoutMs,
    maxSockets: concurrency,
  });
}

/** Above any topic of the benchmark: one invocation delivers the whole topic itself (SLICE_THRESHOLD's maximum). */
export const SINGLE_INVOCATION_THRESHOLD = 1_000_000;

/** The settings that make a publish one invocation with no shared budget (also given to the local system's own publish function, the "via SQS" row). */
export const SINGLE_INVOCATION_ENV: Readonly<Record<string, string>> = {
  [ENV.sliceThreshold]: String(SINGLE_INVOCATION_THRESHOLD),
  [ENV.rateBudget]: '0',
};

/**
 * The env map the publish handler gets in Lambda, pointed at the local system, set up for the
 * single-invocation comparison: SLICE_THRESHOLD above any topic (no slices) and RATE_BUDGET 0
 * (no shared ledger; 429s are still answered by the AIMD back-off), so our one invocation is
 * compared with the article's one Promise.all. The delivery queue is still there (publish needs
 * it): only failed posts would go to it.
 */
export function publishEnv(target: PublisherTarget, concurrency: number): Record<string, string> {
  return {
    [ENV.tableName]: target.tableName,
    [ENV.managementEndpoint]: target.managementEndpoint,
    [ENV.publishConcurrency]: String(concurrency),
    [ENV.deliveryQueueUrl]: target.deliveryQueueUrl,
    [ENV.deliveryDlqUrl]: target.deliveryDlqUrl,
    ...SINGLE_INVOCATION_ENV,
    [ENV.logLevel]: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: target.region,
    AWS_ENDPOINT_URL_DYNAMODB: target.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: target.sqsEndpoint,
    AWS_ACCESS_KEY_ID: target.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
  };
}

/** The payload every approach sends: small, and carrying the id the receivers count by. */
function benchData(id: string) {
  return { id, text: 'benchmark message', padding: 'x'.repeat(128) };
}

/** The publish envelope (what SendMessage carries to our handler). */
export function envelope(topic: string, id: string): string {
  return JSON.stringify({ topic, id, data: benchData(id) });
}

/** The frame a subscriber receives, built as the publish handler builds it. */
export function frameFor(topic: string, id: string): string {
  return JSON.stringify(deliveredMessage(topic, id, benchData(id), new Date().toISOString()));
}

function benchContext() {
  return lambdaContext({ functionName: 'bench-publish', timeoutMs: 900_000, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
}
