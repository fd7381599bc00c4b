/**
 * The stack's settings: every key of `realtime:*`, its default and its rules. Pulumi.yaml
 * declares the same keys and defaults (a test keeps the two equal). The Pulumi program reads them
 * with `pulumi.Config` (components/config.ts) and the local mode from the stack file
 * (local/stack-config.ts); both apply the defaults and report every bad value in one error here,
 * so a setting tried locally is the setting deployed.
 */
import { z } from 'zod';
import { topicPatternProblem } from './auth';
import { HISTORY_DEFAULTS } from './history';
import { DEFAULTS, MAX_MESSAGE_BYTES } from './limits';
import { eventRuleSchema, type EventRule } from './rules';

export const PROJECT = 'realtime';

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export const EXECUTION_LOG_LEVELS = ['OFF', 'ERROR', 'INFO'] as const;

export const CONFIG_DEFAULTS = {
  stageName: 'prod',
  logRetentionDays: 30,
  logLevel: 'INFO',
  throttlingBurstLimit: 500,
  throttlingRateLimit: 1000,
  executionLogLevel: 'ERROR',
  manageApiGatewayAccount: true,
  routeMemoryMb: 256,
  routeTimeoutSeconds: 10,
  publishConcurrency: DEFAULTS.publishConcurrency,
  maxSubscriptionsPerConnection: DEFAULTS.maxSubscriptionsPerConnection,
  maxTopicLength: DEFAULTS.maxTopicLength,
  maxPublishBytes: DEFAULTS.maxPublishBytes,
  postConnectTimeoutMs: DEFAULTS.postConnectTimeoutMs,
  postRequestTimeoutMs: DEFAULTS.postRequestTimeoutMs,
  postMaxAttempts: DEFAULTS.postMaxAttempts,
  publishMemoryMb: 1024,
  publishTimeoutSeconds: 60,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maximumConcurrency: 10,
  maxReceiveCount: 5,
  rateBudget: DEFAULTS.rateBudget,
  sliceBudgetPercent: DEFAULTS.sliceBudgetPercent,
  sliceThreshold: DEFAULTS.sliceThreshold,
  sliceSize: DEFAULTS.sliceSize,
  deliveryMaxAttempts: DEFAULTS.deliveryMaxAttempts,
  deliveryBatchSize: 5,
  deliveryMaximumConcurrency: 20,
  historyRetentionSeconds: HISTORY_DEFAULTS.retentionSeconds,
  historyMaxMessages: HISTORY_DEFAULTS.maxMessages,
  oldestMessageAlarmSeconds: 300,
  alarmTopicArn: '',
  eventBusName: 'default',
  eventRules: [] as EventRule[],
  presenceTopics: [] as string[],
  presenceMaxListed: DEFAULTS.presenceMaxListed,
  clientPublishPerSecond: DEFAULTS.clientPublishPerSecond,
  authEnabled: false,
  authSecretParameter: '',
  authSecretArn: '',
  authJwksUrl: '',
  authIssuer: '',
  authAudience: '',
  authKmsKeyArn: '',
  customDomainName: '',
  customDomainCertificateArn: '',
  customDomainZoneId: '',
};

export type ConfigKey = keyof typeof CONFIG_DEFAULTS;

const int = (min: number, max: number) => z.number().int().min(min).max(max);
/** '' means "not set" for optional strings (Pulumi.yaml needs a default for every key). */
const optional = (schema: z.ZodString) => z.union([z.literal(''), schema]);
const arn = (service: string) => z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:`), `must be an ARN of ${service}`);

const configSchema = z
  .object({
    stageName: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'stage names are 1-128 letters, digits, - or _'),
    logRetentionDays: z.number().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    }),
    logLevel: z.enum(LOG_LEVELS),
    throttlingBurstLimit: int(1, 5000),
    throttlingRateLimit: z.number().positive().max(10000),
    executionLogLevel: z.enum(EXECUTION_LOG_LEVELS),
    manageApiGatewayAccount: z.boolean(),
    routeMemoryMb: int(128, 10240),
    // API Gateway gives up on an integration after 29 s.
    routeTimeoutSeconds: int(1, 29),
    publishConcurrency: int(1, 10000),
    maxSubscriptionsPerConnection: int(1, 100000),
    maxTopicLength: int(1, 1024),
    maxPublishBytes: int(1, MAX_MESSAGE_BYTES),
    postConnectTimeoutMs: int(1, 60000),
    postRequestTimeoutMs: int(1, 60000),
    postMaxAttempts: int(1, 20),
    publishMemoryMb: int(128, 10240),
    publishTimeoutSeconds: int(1, 900),
    batchSize: int(1, 10000),
    maxBatchingWindowSeconds: int(0, 300),
    // Lambda's documented range for SQS maximum concurrency.
    maximumConcurrency: int(2, 1000),
    maxReceiveCount: int(1, 1000),
    // 0: no shared budget (only back-off on 429s). Above 10,000 needs a raised account limit.
    rateBudget: int(0, 1_000_000),
    sliceBudgetPercent: int(10, 100),
    sliceThreshold: int(0, 1_000_000),
    // A job's ids and its frame (≤ 128 KB) fit one SQS message.
    sliceSize: int(1, 20_000),
    deliveryMaxAttempts: int(1, 50),
    deliveryBatchSize: int(1, 10),
    deliveryMaximumConcurrency: int(2, 1000),
    // DynamoDB TTL: at most 5 years.
    historyRetentionSeconds: int(60, 5 * 365 * 24 * 3600),
    historyMaxMessages: int(1, 1_000_000),
    oldestMessageAlarmSeconds: int(60, 1209600),
    alarmTopicArn: optional(arn('sns')),
    eventBusName: z.string().min(1).max(256),
    eventRules: z.array(eventRuleSchema),
    // Topic patterns, the syntax of the `topics` claim (docs/presence.md).
    presenceTopics: z.array(
      z.string().superRefine((p, ctx) => {
        const problem = topicPatternProblem(p);
        if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)}: ${problem}` });
      }),
    ).max(50),
    presenceMaxListed: int(1, 1000),
    clientPublishPerSecond: int(1, 1000),
    authEnabled: z.boolean(),
    authSecretParameter: optional(z.string().regex(/^\/?[A-Za-z0-9_.\-/]{1,2048}$/, 'must be an SSM parameter name')),
    authSecretArn: optional(arn('secretsmanager')),
    authJwksUrl: optional(z.string().regex(/^https:\/\/\S+$/, 'must be an https URL')),
    authIssuer: z.string(),
    authAudience: z.string(),
    authKmsKeyArn: optional(arn('kms')),
    customDomainName: optional(z.string().regex(/^(?=.{1,253}$)([a-z0-9-]+\.)+[a-z]{2,}$/i, 'must be a DNS name')),
    customDomainCertificateArn: optional(arn('acm')),
    customDomainZoneId: optional(z.string().regex(/^Z[A-Z0-9]+$/, 'must be a Route 53 hosted zone id')),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: ConfigKey, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.batchSize > 10 && c.maxBatchingWindowSeconds < 1) {
      issue('maxBatchingWindowSeconds', 'must be at least 1 when batchSize is above 10 (an SQS event source rule)');
    }
    const names = c.eventRules.map((r) => r.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) issue('eventRules', `rule names must be unique; "${dup}" appears twice`);
    const sources = [c.authSecretParameter, c.authSecretArn, c.authJwksUrl].filter((s) => s !== '');
    if (c.authEnabled && sources.length !== 1) {
      issue('authEnabled', 'set exactly one of authSecretParameter, authSecretArn or authJwksUrl when auth is enabled');
    }
    if (c.authKmsKeyArn && c.authJwksUrl) issue('authKmsKeyArn', 'only applies to authSecretParameter or authSecretArn');
    if ((c.customDomainName === '') !== (c.customDomainCertificateArn === '')) {
      issue('customDomainCertificateArn', 'customDomainName and customDomainCertificateArn go together');
    }
    if (c.customDomainZoneId && !c.customDomainName) issue('customDomainZoneId', 'needs customDomainName');
  });

export type StackConfig = z.output<typeof configSchema>;

/** Parse raw values (already typed) with the defaults applied; throws one error listing every problem. */
export function parseStackConfig(raw: Partial<Record<ConfigKey, unknown>>): StackConfig {
  const unknownKeys = Object.keys(raw).filter((k) => !(k in CONFIG_DEFAULTS));
  const withDefaults = { ...CONFIG_DEFAULTS, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) };
  const parsed = configSchema.safeParse(withDefaults);
  const problems = unknownKeys.map((k) => `${PROJECT}:${k} is not a setting of this project`);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`${PROJECT}:${i.path.map(String).join('.')} ${i.message}`);
  }
  if (problems.length > 0) throw new Error(`Invalid stack configuration:\n  ${problems.join('\n  ')}`);
  return (parsed as { data: StackConfig }).data;
}
