/**
 * startLocal: the whole system on one machine, with the handlers of functions/handlers/ unchanged —
 * dynalite for DynamoDB, an SQS endpoint with the publish queue and its DLQ, the poller standing in
 * for the event source mapping, an EventBridge PutEvents endpoint with the stack's rules, the
 * WebSocket gateway with its management API, and the demo page.
 * Every function runs as Lambda runs it (lambda/function-pool.ts): each concurrent invocation in
 * its own environment, built by the handler module's makeHandler, reused while warm.
 */
import { join, resolve } from 'node:path';
import * as authorizer from '../functions/handlers/authorizer';
import * as connect from '../functions/handlers/connect';
import * as defaultRoute from '../functions/handlers/default';
import * as deliver from '../functions/handlers/deliver';
import * as disconnect from '../functions/handlers/disconnect';
import * as publish from '../functions/handlers/publish';
import * as relay from '../functions/handlers/relay';
import * as subscribe from '../functions/handlers/subscribe';
import * as unsubscribe from '../functions/handlers/unsubscribe';
import { ENV } from '../protocol/env';
import { HISTORY } from '../protocol/history';
import type { StackConfig } from '../protocol/stack-settings';
import { TABLE } from '../protocol/table';
import type { StackOutputs } from '../protocol/outputs';
import { AUTHORIZER_HANDLER, DELIVER_HANDLER, LAMBDA_ROUTES, MOCK_ROUTES, PUBLISH_HANDLER, type HandlerName } from '../protocol/routes';
import type { EventRule } from '../protocol/rules';
import { fromDeliver, fromGateway, fromPublish, type ActivityEvent } from './activity';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from './constants';
import { startDemoServer, type DemoServer } from './demo-server';
import { startDynamo } from './dynamo';
import { startTtlSweeper, type TtlSweeper } from './dynamo-ttl';
import { startEvents, type EventsEndpoint } from './events';
import { startGateway, type FaultOptions, type Gateway, type LambdaLike } from './gateway';
import { healthCheck, healthStatus, type HealthReport } from './health';
import { FunctionPool } from './lambda/function-pool';
import { loopbackOrigins, OriginPolicy } from './origin-policy';
import { startPoller, type Poller } from './poller';
import { startSqs, type SqsEndpoint } from './sqs';
import { handlerEnvFromStack } from './stack-config';

/** Every handler module exports makeHandler(env) (contract 1). */
const HANDLER_MODULES: Record<HandlerName, { makeHandler(env: Record<string, string | undefined>): LambdaLike }> = {
  connect,
  disconnect,
  subscribe,
  unsubscribe,
  default: defaultRoute,
  relay,
  publish,
  deliver,
  authorizer,
};

/** The queues' journal, inside the data directory. */
export const QUEUE_JOURNAL_FILE = 'sqs-queues.jsonl';

export const LOCAL_NAMES = {
  tableName: 'realtime-connections',
  historyTableName: 'realtime-history',
  queueName: 'realtime-publish',
  dlqName: 'realtime-publish-dlq',
  deliveryQueueName: 'realtime-delivery',
  deliveryDlqName: 'realtime-delivery-dlq',
  stage: 'local',
} as const;

/** The queues by what they are for, as /health names them. */
const QUEUE_ROLES = {
  publish: LOCAL_NAMES.queueName,
  publishDlq: LOCAL_NAMES.dlqName,
  delivery: LOCAL_NAMES.deliveryQueueName,
  deliveryDlq: LOCAL_NAMES.deliveryDlqName,
} as const;

export interface LocalOptions {
  /**
   * The stack's settings (local/stack-config.ts reads them from a stack file): the handlers'
   * limits, the queues, the pollers, the rules — as deployed. Explicit options below win.
   */
  stack?: StackConfig;
  /** Gateway port (0 = any free one). */
  port?: number;
  /** Fixed ports for the other endpoints (0 or absent = any free one). */
  ports?: { sqs?: number; eventBridge?: number; dynamodb?: number; demo?: number };
  /** Keep DynamoDB's data and the queues' messages here across restarts; in memory when absent. */
  dataDir?: string;
  /** How often rows past their `expiresAt` are deleted (DynamoDB's TTL, which dynalite lacks). */
  ttlSweepIntervalMs?: number;
  /**
   * Pages (origins, e.g. a dev server's http://localhost:5173) trusted besides the demo page: a
   * browser page of any other origin can neither connect to the gateway nor use the demo server.
   */
  allowedOrigins?: readonly string[];
  /** Faults injected into management API calls. */
  faults?: FaultOptions;
  /** Turns the $connect authorizer on (HS256 tokens signed with this secret). */
  authSecret?: string;
  /** EventBridge rules (protocol/rules.ts); none by default. */
  eventRules?: readonly EventRule[];
  eventBusName?: string;
  /** Extra or overriding variables for every handler's env map. */
  env?: Record<string, string | undefined>;
  /** No local-mode notices, and handler logs off (unless logLevel says otherwise). */
  quiet?: boolean;
  /**
   * Environments per route function and for the authorizer (default LOCAL_DEFAULTS.routeConcurrency);
   * invocations beyond them wait for one to free.
   */
  routeConcurrency?: number;
  /** Handlers' Powertools log level; default WARN (SILENT when quiet). */
  logLevel?: string;
  /** Emit the handlers' CloudWatch EMF metrics (to stdout); off by default. */
  metrics?: boolean;
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  queue?: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number };
  poller?: {
    batchSize?: number;
    maxBatchingWindowMs?: number;
    maximumConcurrency?: number;
    /** The publish function's timeout as its context reports it; default visibility timeout / 6. */
    functionTimeoutMs?: number;
  };
  /** The delivery queue's mapping (the delivery function's timeout is the publish function's). */
  delivery?: { batchSize?: number; maximumConcurrency?: number };
  /** What the route functions' context reports, and when their invocation fails (default 29 s, API Gateway's integration timeout). */
  routeTimeoutMs?: number;
  /** Where notices go (dead letters, handler failures); default stderr. */
  log?: (line: string) => void;
  /**
   * Told of each connect, refused handshake, disconnect, subscribe, unsubscribe, refused request,
   * published message and delivery job (local/activity/): `npm start` prints them. What it
   * throws is ignored.
   */
  onActivity?: (event: ActivityEvent) => void;
}

export interface LocalSystem {
  outputs: StackOutputs;
  gateway: Gateway;
  sqs: SqsEndpoint;
  events: EventsEndpoint;
  poller: Poller;
  /** The delivery queue's poller: slices of big topics and retries, run by the delivery function. */
  deliveryPoller: Poller;
  /** DynamoDB's TTL, locally, one sweeper per table. */
  ttl: TtlSweeper[];
  /** The env map the handlers were built with. */
  handlerEnv: Readonly<Record<string, string | undefined>>;
  /** The route functions and the authorizer, by handler name (the publish function is the poller's). */
  functions: Readonly<Partial<Record<HandlerName, FunctionPool>>>;
  /** What `GET /health` on the demo port answers (local/health.ts): every endpoint asked, the queues' depths. */
  health(): Promise<HealthReport>;
  /** Closes every connection (running $disconnect), stops the poller and every server. Idempotent. */
  stop(): Promise<void>;
}

export const LOCAL_DEFAULTS = {
  /** 30 s: the publish function then gets 5 s (see VISIBILITY_PER_TIMEOUT), 3 s of them for retrying 429s. */
  visibilityTimeoutSeconds: 30,
  maxReceiveCount: 5,
  batchSize: 10,
  maxBatchingWindowMs: 0,
  maximumConcurrency: 10,
  deliveryBatchSize: 5,
  deliveryMaximumConcurrency: 10,
  /** A minute: AWS takes up to days, so nothing may count on the exact moment. */
  ttlSweepIntervalMs: 60_000,
  /**
   * Environments per route function (and the authorizer). AWS scales a function to hundreds of
   * environments; here they all share one process and one event loop with dynalite, which
   * serves one request at a time, and each keeps about one DynamoDB call in flight. More
   * environments then add no throughput, only queueing inside every call: measured on 2 busy
   * cores, 200 simultaneous subscribes with 64 environments ran past the timeout (11-96 of 200
   * failed), with 16 none did and the burst finished sooner. Invocations beyond the cap wait in
   * the pool, where their time does not count against the SDK's or the function's timeouts.
   */
  routeConcurrency: 16,
  /** What the route functions' context reports, and when an invocation fails: API Gateway's 29 s integration timeout. */
  routeTimeoutMs: 29_000,
} as const;

/**
 * The stack keeps the queue's visibility timeout at least 6× the publish function's timeout (AWS's
 * advice), so an invocation that retries throttled posts until its deadline never overlaps a
 * redelivery of the same message. The local function timeout follows the same rule.
 */
export const VISIBILITY_PER_TIMEOUT = 6;

/** The options a stack's settings make; explicit options are laid over them. */
export function optionsFromStack(c: StackConfig): LocalOptions {
  return {
    eventRules: c.eventRules,
    eventBusName: c.eventBusName,
    env: handlerEnvFromStack(c),
    // As deployed: visibility 6 × the function timeout + the batching window (components/publish-pipeline.ts).
    queue: { visibilityTimeoutSeconds: VISIBILITY_PER_TIMEOUT * c.publishTimeoutSeconds + c.maxBatchingWindowSeconds, maxReceiveCount: c.maxReceiveCount },
    poller: { batchSize: c.batchSize, maxBatchingWindowMs: c.maxBatchingWindowSeconds * 1000, maximumConcurrency: c.maximumConcurrency, functionTimeoutMs: c.publishTimeoutSeconds * 1000 },
    delivery: { batchSize: c.deliveryBatchSize, maximumConcurrency: c.deliveryMaximumConcurrency },
    routeTimeoutMs: c.routeTimeoutSeconds * 1000,
  };
}

/** `over`'s defined fields laid over `base`, one level deep for the nested option groups. */
function layered(base: LocalOptions, over: LocalOptions): LocalOptions {
  const defined = <T extends object>(o: T | undefined): Partial<T> => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    ...base,
    ...defined(over),
    env: { ...base.env, ...defined(over.env) },
    queue: { ...base.queue, ...defined(over.queue) },
    poller: { ...base.poller, ...defined(over.poller) },
    delivery: { ...base.delivery, ...defined(over.delivery) },
  };
}

export async function startLocal(given: LocalOptions = {}): Promise<LocalSystem> {
  const options = given.stack ? layered(optionsFromStack(given.stack), given) : given;
  // A visibility timeout given explicitly sets both queues' function timeouts (a sixth of it), as it did before stacks.
  if (given.queue?.visibilityTimeoutSeconds !== undefined && given.poller?.functionTimeoutMs === undefined && options.poller) delete options.poller.functionTimeoutMs;
  const log = options.quiet ? () => undefined : (options.log ?? ((line: string) => process.stderr.write(`[local] ${line}\n`)));
  const activity = options.onActivity ? safely(options.onActivity) : undefined;
  /** What /health reports before the endpoints' own answers. */
  let state: 'starting' | 'ready' | 'stopping' = 'starting';
  const closers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        log(`error while stopping: ${(err as Error).message}`);
      }
    }
  };

  try {
    const dynamo = await startDynamo({ tableName: LOCAL_NAMES.tableName, historyTableName: LOCAL_NAMES.historyTableName, dataDir: options.dataDir, port: options.ports?.dynamodb });
    closers.push(() => dynamo.close());
    const ttl = [
      { tableName: dynamo.tableName, keys: [TABLE.partitionKey, TABLE.sortKey] },
      { tableName: LOCAL_NAMES.historyTableName, keys: [HISTORY.partitionKey, HISTORY.sortKey] },
    ].map(({ tableName, keys }) =>
      startTtlSweeper({
        endpoint: dynamo.endpoint,
        tableName,
        attribute: TABLE.ttlAttribute,
        keys,
        intervalMs: options.ttlSweepIntervalMs ?? LOCAL_DEFAULTS.ttlSweepIntervalMs,
        onError: (err) => log(`TTL sweep of ${tableName} failed (the next one retries): ${(err as Error).message}`),
      }),
    );
    closers.push(async () => {
      for (const sweeper of ttl) await sweeper.stop();
    });

    const visibilityTimeoutSeconds = options.queue?.visibilityTimeoutSeconds ?? LOCAL_DEFAULTS.visibilityTimeoutSeconds;
    const maxReceiveCount = options.queue?.maxReceiveCount ?? LOCAL_DEFAULTS.maxReceiveCount;
    const sqs = await startSqs({
      port: options.ports?.sqs,
      queues: [
        { name: LOCAL_NAMES.dlqName },
        { name: LOCAL_NAMES.queueName, settings: { visibilityTimeoutSeconds }, deadLetter: { queueName: LOCAL_NAMES.dlqName, maxReceiveCount } },
        { name: LOCAL_NAMES.deliveryDlqName },
        { name: LOCAL_NAMES.deliveryQueueName, settings: { visibilityTimeoutSeconds }, deadLetter: { queueName: LOCAL_NAMES.deliveryDlqName, maxReceiveCount } },
      ],
      onDeadLetter: (queue, id, count) => log(`message ${id} moved from ${queue} to the DLQ after ${count} receives`),
      onInternalError: (err) => log(`SQS endpoint error: ${(err as Error).stack ?? err}`),
      ...(options.dataDir ? { journalFile: join(resolve(options.dataDir), QUEUE_JOURNAL_FILE) } : {}),
    });
    closers.push(() => sqs.close());
    const restored = Object.entries(sqs.restored.messages).filter(([, n]) => n > 0);
    if (restored.length > 0 || sqs.restored.deadLettered > 0) {
      log(`queues restored from ${options.dataDir}: ${restored.map(([q, n]) => `${n} in ${q}`).join(', ') || 'none'}${sqs.restored.deadLettered ? `, ${sqs.restored.deadLettered} moved to the DLQ (receives used up)` : ''}`);
    }
    if (sqs.restored.skipped > 0) log(`the queue journal had ${sqs.restored.skipped} unreadable line(s) (a write cut short by a crash?); they were skipped`);
    const queue = sqs.queue(LOCAL_NAMES.queueName);

    const events = await startEvents({
      port: options.ports?.eventBridge,
      rules: options.eventRules ?? [],
      eventBusName: options.eventBusName,
      deliver: (body) => {
        if (Buffer.byteLength(body) > queue.settings.maximumMessageSize) throw new Error(`the transformed event is over the queue's ${queue.settings.maximumMessageSize}-byte limit`);
        queue.send({ body, senderId: 'events.amazonaws.com' });
      },
      onDeliveryError: (err, rule) => log(`rule ${rule.name}: could not send the event to the queue: ${(err as Error).message}`),
    });
    closers.push(() => events.close());

    // Filled as the servers listen: the gateway's origin now, the demo page's once it runs.
    const origins = new OriginPolicy(options.allowedOrigins ?? []);

    // Routes call through `functions`, filled once the gateway's management endpoint is known;
    // the pool gives each invocation its own Lambda context (the gateway's is not used).
    const functions: Partial<Record<HandlerName, FunctionPool>> = {};
    const lazy =
      (name: HandlerName): LambdaLike =>
      (event) =>
        functions[name]!.invoke(event);
    const gateway = await startGateway({
      port: options.port ?? 0,
      stage: LOCAL_NAMES.stage,
      routes: Object.fromEntries(LAMBDA_ROUTES.map((r) => [r.routeKey, lazy(r.handler)])),
      twoWayRoutes: new Set(LAMBDA_ROUTES.filter((r) => r.twoWay).map((r) => r.routeKey)),
      mockRoutes: MOCK_ROUTES,
      ...(options.authSecret ? { authorizer: lazy(AUTHORIZER_HANDLER) } : {}),
      idleTimeoutMs: options.idleTimeoutMs,
      maxConnectionMs: options.maxConnectionMs,
      faults: options.faults,
      allowOrigin: (origin) => origins.allows(origin),
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      onHandlerError: (err, routeKey, connectionId) => log(`${routeKey} handler failed for ${connectionId}: ${(err as Error)?.stack ?? String(err)}`),
      ...(activity
        ? {
            onActivity: (a) => {
              const event = fromGateway(a);
              if (event) activity(event);
            },
          }
        : {}),
    });
    closers.push(() => gateway.close());
    origins.trust(...loopbackOrigins(gateway.url));

    const handlerEnv: Record<string, string | undefined> = {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      [ENV.tableName]: dynamo.tableName,
      [ENV.historyTableName]: LOCAL_NAMES.historyTableName,
      [ENV.deliveryQueueUrl]: sqs.queueUrl(LOCAL_NAMES.deliveryQueueName),
      [ENV.deliveryDlqUrl]: sqs.queueUrl(LOCAL_NAMES.deliveryDlqName),
      [ENV.publishQueueUrl]: sqs.queueUrl(LOCAL_NAMES.queueName),
      [ENV.managementEndpoint]: gateway.managementEndpoint,
      [ENV.logLevel]: options.logLevel ?? (options.quiet ? 'SILENT' : 'WARN'),
      POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
      ...(options.authSecret ? { [ENV.authSecret]: options.authSecret } : {}),
      ...options.env,
    };
    const routeConcurrency = options.routeConcurrency ?? LOCAL_DEFAULTS.routeConcurrency;
    for (const name of [...new Set(LAMBDA_ROUTES.map((r) => r.handler)), AUTHORIZER_HANDLER]) {
      functions[name] = new FunctionPool({
        name: `${LOCAL_NAMES.stage}-${name}`,
        build: () => HANDLER_MODULES[name].makeHandler(handlerEnv),
        maxConcurrency: routeConcurrency,
        timeoutMs: options.routeTimeoutMs ?? LOCAL_DEFAULTS.routeTimeoutMs,
        region: LOCAL_REGION,
        accountId: LOCAL_ACCOUNT,
      });
      // One environment each now: a handler whose init fails stops the start with its reason.
      functions[name].warm();
    }

    const functionTimeoutMs = options.poller?.functionTimeoutMs ?? Math.floor((visibilityTimeoutSeconds * 1000) / VISIBILITY_PER_TIMEOUT);
    const poller = startPoller({
      queue,
      build: () => publish.makeHandler(handlerEnv, activity ? { onOutcome: (outcome, topics) => activity(fromPublish(outcome, topics)) } : {}),
      batchSize: options.poller?.batchSize ?? LOCAL_DEFAULTS.batchSize,
      maxBatchingWindowMs: options.poller?.maxBatchingWindowMs ?? LOCAL_DEFAULTS.maxBatchingWindowMs,
      maximumConcurrency: options.poller?.maximumConcurrency ?? LOCAL_DEFAULTS.maximumConcurrency,
      functionName: `${LOCAL_NAMES.stage}-${PUBLISH_HANDLER}`,
      timeoutMs: functionTimeoutMs,
      onBatchError: (err, event) => log(`publish failed a batch of ${event.Records.length} (it will be retried): ${(err as Error)?.message ?? String(err)}`),
      onSlowInvocation: (ms, seconds) =>
        log(`a publish invocation took ${ms} ms, longer than the queue's ${seconds} s visibility timeout: its messages were redelivered meanwhile (raise --visibility-timeout)`),
    });
    const deliveryPoller = startPoller({
      queue: sqs.queue(LOCAL_NAMES.deliveryQueueName),
      build: () => deliver.makeHandler(handlerEnv, activity ? { onOutcome: (outcome) => activity(fromDeliver(outcome)) } : {}),
      batchSize: options.delivery?.batchSize ?? LOCAL_DEFAULTS.deliveryBatchSize,
      maximumConcurrency: options.delivery?.maximumConcurrency ?? LOCAL_DEFAULTS.deliveryMaximumConcurrency,
      functionName: `${LOCAL_NAMES.stage}-${DELIVER_HANDLER}`,
      timeoutMs: functionTimeoutMs,
      onBatchError: (err, event) => log(`deliver failed a batch of ${event.Records.length} jobs (they will be retried): ${(err as Error)?.message ?? String(err)}`),
      onSlowInvocation: (ms, seconds) => log(`a delivery invocation took ${ms} ms, longer than the delivery queue's ${seconds} s visibility timeout`),
    });
    // The pollers stop before the gateway closes, so running fan-outs can finish.
    closers.push(async () => {
      await poller.stop();
      await deliveryPoller.stop();
    });
    poller.pool.warm();
    deliveryPoller.pool.warm();

    let outputs: StackOutputs | undefined;
    const health = healthCheck({
      state: () => state,
      endpoints: () => ({ gateway: gateway.managementEndpoint, sqs: sqs.endpoint, eventBridge: events.endpoint, dynamodb: dynamo.endpoint }),
      queues: () => Object.fromEntries(Object.entries(QUEUE_ROLES).map(([role, name]) => [role, sqs.queue(name)])),
      connections: () => gateway.stats().connections,
    });
    const demo: DemoServer = await startDemoServer({
      port: options.ports?.demo,
      staticDir: join(__dirname, 'demo'),
      outputs: () => outputs,
      publish: (body) => {
        if (state === 'stopping') throw Object.assign(new Error('the local system is stopping'), { status: 503 });
        return queue.send({ body, senderId: 'demo' }).messageId;
      },
      health: async () => {
        const report = await health();
        return { status: healthStatus(report), body: report };
      },
      originPolicy: origins,
    });
    closers.splice(closers.length - 1, 0, () => demo.close());

    outputs = {
      websocketUrl: gateway.url,
      managementEndpoint: gateway.managementEndpoint,
      queueUrl: sqs.queueUrl(LOCAL_NAMES.queueName),
      queueArn: queue.arn,
      dlqUrl: sqs.queueUrl(LOCAL_NAMES.dlqName),
      eventBusName: events.eventBusName,
      tableName: dynamo.tableName,
      historyTableName: LOCAL_NAMES.historyTableName,
      deliveryQueueUrl: sqs.queueUrl(LOCAL_NAMES.deliveryQueueName),
      deliveryDlqUrl: sqs.queueUrl(LOCAL_NAMES.deliveryDlqName),
      region: LOCAL_REGION,
      sqsEndpoint: sqs.endpoint,
      eventBridgeEndpoint: events.endpoint,
      dynamodbEndpoint: dynamo.endpoint,
      demoUrl: demo.url,
      authRequired: Boolean(options.authSecret),
    };

    state = 'ready';
    let stopping: Promise<void> | undefined;
    const stop = () => {
      state = 'stopping';
      return (stopping ??= stopAll());
    };
    return { outputs, gateway, sqs, events, poller, deliveryPoller, ttl, handlerEnv, functions, health, stop };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** An observer whose errors never reach the component that told it. */
function safely(observer: (event: ActivityEvent) => void): (event: ActivityEvent) => void {
  return (event) => {
    try {
      observer(event);
    } catch {
      // a printer that fails (e.g. a closed stdout) changes nothing in the system
    }
  };
}

/** The variable that turns off the AWS SDK's notice, on Node 20, that its releases after January 2027 need Node 22. */
export const SDK_NODE_WARNING_OFF = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * The environment a backend sets to publish to this local system with the AWS SDK. On Node 20
 * (the same Node that runs this, most likely) it turns the SDK's Node version notice off too: a
 * script publishing to the local mode should print what it does, not a notice about 2027.
 */
export function backendEnvironment(outputs: StackOutputs, nodeVersion: string = process.version): Record<string, string> {
  const major = Number(/^v(\d+)/.exec(nodeVersion)?.[1]);
  return {
    AWS_ENDPOINT_URL_SQS: outputs.sqsEndpoint ?? '',
    AWS_ENDPOINT_URL_EVENTBRIDGE: outputs.eventBridgeEndpoint ?? '',
    AWS_REGION: outputs.region ?? LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    QUEUE_URL: outputs.queueUrl,
    ...(major < 22 ? { [SDK_NODE_WARNING_OFF]: 'true' } : {}),
  };
}
