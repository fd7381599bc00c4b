/**
 * Handler configuration, parsed once per makeHandler from the env map (never from process.env
 * directly, so the local mode can run several systems side by side). Names come from
 * protocol/env.ts, defaults from protocol/limits.ts.
 */
import { topicPatternProblem } from '../../protocol/auth';
import { ENV, METRICS_NAMESPACE } from '../../protocol/env';
import { HISTORY_DEFAULTS } from '../../protocol/history';
import { DEFAULTS, MAX_MESSAGE_BYTES } from '../../protocol/limits';
import * as z from '../../protocol/zod';

export type EnvMap = Record<string, string | undefined>;

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** An unset or blank variable takes the default; anything else must parse. */
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** zod's preprocess: `fn` runs on the raw value before `schema` parses it. */
function preprocess<O extends z.ZodMiniType>(fn: (value: unknown) => unknown, schema: O) {
  return z.pipe(z.transform(fn), schema);
}

function positiveInt(fallback: number, max = Number.MAX_SAFE_INTEGER, min = 1) {
  const digits = z.pipe(z.string().check(z.regex(/^\s*\d+\s*$/, 'must be a whole number')), z.transform(Number));
  const bounded = z.int().check(z.minimum(min, `must be at least ${min}`), z.maximum(max, `must be at most ${max}`));
  return preprocess(
    blankIsUnset,
    z.pipe(
      z.optional(z.pipe(digits, bounded)),
      z.transform((v: number | undefined) => v ?? fallback),
    ),
  );
}

const optionalString = preprocess(blankIsUnset, z.optional(z.string()));

/** A JSON array of topic patterns (PRESENCE_TOPICS); unset or blank: none. */
const patternList = preprocess(
  (v) => {
    const raw = blankIsUnset(v);
    if (raw === undefined) return [];
    try {
      return JSON.parse(String(raw));
    } catch {
      return raw;
    }
  },
  z.array(z.string().check(z.refine((p) => topicPatternProblem(p) === undefined, 'must be topic patterns (see the topics claim)'))),
);
const optionalUrl = preprocess(blankIsUnset, z.optional(z.url('must be an absolute URL')));

const configSchema = z.object({
  [ENV.tableName]: optionalString,
  [ENV.managementEndpoint]: optionalUrl,
  [ENV.publishConcurrency]: positiveInt(DEFAULTS.publishConcurrency, 10_000),
  [ENV.maxSubscriptionsPerConnection]: positiveInt(DEFAULTS.maxSubscriptionsPerConnection),
  // Topic names are DynamoDB sort keys (≤ 1024 bytes) and never longer than a message.
  [ENV.maxTopicLength]: positiveInt(DEFAULTS.maxTopicLength, 1024),
  [ENV.maxPublishBytes]: positiveInt(DEFAULTS.maxPublishBytes),
  [ENV.postConnectTimeoutMs]: positiveInt(DEFAULTS.postConnectTimeoutMs, 60_000),
  [ENV.postRequestTimeoutMs]: positiveInt(DEFAULTS.postRequestTimeoutMs, 60_000),
  [ENV.postMaxAttempts]: positiveInt(DEFAULTS.postMaxAttempts, 20),
  [ENV.postBaseBackoffMs]: positiveInt(DEFAULTS.postBaseBackoffMs, 10_000),
  // Lambda's longest timeout is 15 minutes.
  [ENV.publishRetryBudgetMs]: positiveInt(DEFAULTS.publishRetryBudgetMs, 900_000),
  [ENV.historyTableName]: optionalString,
  // DynamoDB TTL takes at most 5 years; an hour is the default.
  [ENV.historyRetentionSeconds]: positiveInt(HISTORY_DEFAULTS.retentionSeconds, 5 * 365 * 24 * 3600),
  [ENV.historyMaxMessages]: positiveInt(HISTORY_DEFAULTS.maxMessages, 1_000_000),
  [ENV.deliveryQueueUrl]: optionalUrl,
  [ENV.deliveryDlqUrl]: optionalUrl,
  [ENV.sliceThreshold]: positiveInt(DEFAULTS.sliceThreshold, 1_000_000, 0),
  // A job's ids and its frame (≤ 128 KB) must fit an SQS message.
  [ENV.sliceSize]: positiveInt(DEFAULTS.sliceSize, 20_000),
  [ENV.deliveryMaxAttempts]: positiveInt(DEFAULTS.deliveryMaxAttempts, 50),
  [ENV.rateBudget]: positiveInt(DEFAULTS.rateBudget, 1_000_000, 0),
  [ENV.sliceBudgetPercent]: positiveInt(DEFAULTS.sliceBudgetPercent, 100, 10),
  [ENV.publishQueueUrl]: optionalUrl,
  [ENV.presenceTopics]: patternList,
  [ENV.presenceMaxListed]: positiveInt(DEFAULTS.presenceMaxListed, 1000),
  [ENV.clientPublishPerSecond]: positiveInt(DEFAULTS.clientPublishPerSecond, 1000),
  [ENV.serviceName]: optionalString,
  [ENV.metricsNamespace]: optionalString,
  [ENV.logLevel]: preprocess(
    (v) => (typeof blankIsUnset(v) === 'string' ? (v as string).trim().toUpperCase() : undefined),
    z.optional(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })),
  ),
  POWERTOOLS_METRICS_DISABLED: optionalString,
  POWERTOOLS_DEV: optionalString,
  AWS_REGION: optionalString,
  AWS_ENDPOINT_URL: optionalUrl,
  AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  AWS_ENDPOINT_URL_SQS: optionalUrl,
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
});

export interface AwsSettings {
  region?: string;
  dynamodbEndpoint?: string;
  sqsEndpoint?: string;
  /** Explicit credentials when the env map carries them (local mode); else the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface Config {
  tableName?: string;
  managementEndpoint?: string;
  publishConcurrency: number;
  maxSubscriptionsPerConnection: number;
  maxTopicLength: number;
  /** Largest delivered frame: the configured limit, never above API Gateway's 128 KB. */
  maxFrameBytes: number;
  postConnectTimeoutMs: number;
  postRequestTimeoutMs: number;
  /** Attempts per delivery on 5xx / timeouts; 429s are retried until the invocation's deadline. */
  postMaxAttempts: number;
  postBaseBackoffMs: number;
  /** Retry deadline for throttled posts when there is no Lambda context. */
  publishRetryBudgetMs: number;
  /** Message history; absent: messages carry no seq (no continuity). */
  history?: { tableName: string; retentionSeconds: number; maxMessages: number };
  deliveryQueueUrl?: string;
  deliveryDlqUrl?: string;
  /** Subscribers publish delivers itself (0: every subscriber goes to slices). */
  sliceThreshold: number;
  sliceSize: number;
  deliveryMaxAttempts: number;
  /** Posts/s for the whole stack (0: no shared budget, only AIMD on 429s). */
  rateBudget: number;
  /** Percent of rateBudget the delivery function may take in a second. */
  sliceBudgetPercent: number;
  /** Where client publishes and presence events go (the publish queue). */
  publishQueueUrl?: string;
  /** Presence topics (patterns) and how many members a reply lists; no patterns: no presence. */
  presence: { topics: string[]; maxListed: number };
  clientPublishPerSecond: number;
  serviceName: string;
  metricsNamespace: string;
  logLevel: LogLevelName;
  metricsDisabled: boolean;
  aws: AwsSettings;
}

const truthy = (v: string | undefined) => v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());

/** Parse the env map; throws one error naming every bad variable and what it must be. */
export function loadConfig(env: EnvMap, defaultServiceName = 'realtime'): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `${name} ${issue.message} (got ${JSON.stringify(env[name])})`;
    });
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  // Metrics are off when asked, or in dev mode (Powertools' own rule), unless explicitly on.
  const metricsDisabled =
    e.POWERTOOLS_METRICS_DISABLED !== undefined ? truthy(e.POWERTOOLS_METRICS_DISABLED) : truthy(e.POWERTOOLS_DEV);
  return {
    tableName: e[ENV.tableName],
    managementEndpoint: e[ENV.managementEndpoint],
    publishConcurrency: e[ENV.publishConcurrency],
    maxSubscriptionsPerConnection: e[ENV.maxSubscriptionsPerConnection],
    maxTopicLength: e[ENV.maxTopicLength],
    maxFrameBytes: Math.min(e[ENV.maxPublishBytes], MAX_MESSAGE_BYTES),
    postConnectTimeoutMs: e[ENV.postConnectTimeoutMs],
    postRequestTimeoutMs: e[ENV.postRequestTimeoutMs],
    postMaxAttempts: e[ENV.postMaxAttempts],
    postBaseBackoffMs: e[ENV.postBaseBackoffMs],
    publishRetryBudgetMs: e[ENV.publishRetryBudgetMs],
    history: e[ENV.historyTableName]
      ? { tableName: e[ENV.historyTableName] as string, retentionSeconds: e[ENV.historyRetentionSeconds], maxMessages: e[ENV.historyMaxMessages] }
      : undefined,
    deliveryQueueUrl: e[ENV.deliveryQueueUrl],
    deliveryDlqUrl: e[ENV.deliveryDlqUrl],
    sliceThreshold: e[ENV.sliceThreshold],
    sliceSize: e[ENV.sliceSize],
    deliveryMaxAttempts: e[ENV.deliveryMaxAttempts],
    rateBudget: e[ENV.rateBudget],
    sliceBudgetPercent: e[ENV.sliceBudgetPercent],
    publishQueueUrl: e[ENV.publishQueueUrl],
    presence: { topics: e[ENV.presenceTopics], maxListed: e[ENV.presenceMaxListed] },
    clientPublishPerSecond: e[ENV.clientPublishPerSecond],
    serviceName: e[ENV.serviceName] ?? defaultServiceName,
    metricsNamespace: e[ENV.metricsNamespace] ?? METRICS_NAMESPACE,
    logLevel: e[ENV.logLevel] ?? 'INFO',
    metricsDisabled,
    aws: {
      region: e.AWS_REGION,
      dynamodbEndpoint: e.AWS_ENDPOINT_URL_DYNAMODB ?? e.AWS_ENDPOINT_URL,
      sqsEndpoint: e.AWS_ENDPOINT_URL_SQS ?? e.AWS_ENDPOINT_URL,
      credentials: readCredentials(env),
    },
  };
}

/**
 * The credentials the env map carries (blank is unset; both keys or none; the session token is
 * optional). A function, not only a field of Config, so a client can read them again at each
 * request and follow credentials that are replaced while the process runs.
 */
export function readCredentials(env: EnvMap): AwsSettings['credentials'] {
  const value = (name: string) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const accessKeyId = value('AWS_ACCESS_KEY_ID');
  const secretAccessKey = value('AWS_SECRET_ACCESS_KEY');
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  const sessionToken = value('AWS_SESSION_TOKEN');
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

/** A value the handler cannot run without; fails at build time with the variable's name. */
export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`Invalid configuration: ${name} is required`);
  return value;
}
