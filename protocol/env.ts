/**
 * Names of the environment variables the handlers read. The components set them, the local mode
 * sets them, the handlers read them: all through these names.
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  /** https://{apiId}.execute-api.{region}.amazonaws.com/{stage} — never a custom domain. */
  managementEndpoint: 'MANAGEMENT_ENDPOINT',
  publishConcurrency: 'PUBLISH_CONCURRENCY',
  /** Subscriptions per connection; also the most distinct topics one publish envelope may name. */
  maxSubscriptionsPerConnection: 'MAX_SUBSCRIPTIONS_PER_CONNECTION',
  maxTopicLength: 'MAX_TOPIC_LENGTH',
  maxPublishBytes: 'MAX_PUBLISH_BYTES',
  postConnectTimeoutMs: 'POST_CONNECT_TIMEOUT_MS',
  postRequestTimeoutMs: 'POST_REQUEST_TIMEOUT_MS',
  postMaxAttempts: 'POST_MAX_ATTEMPTS',
  /** First backoff step of a retried post in ms; full jitter, doubling up to 2 s. */
  postBaseBackoffMs: 'POST_BASE_BACKOFF_MS',
  /**
   * How long throttled posts keep being retried when the invocation has no Lambda context to
   * take a deadline from (a direct call, tests). With a context, its remaining time decides.
   */
  publishRetryBudgetMs: 'PUBLISH_RETRY_BUDGET_MS',
  /** The history table (protocol/history.ts); without it messages carry no seq and cannot be resumed. */
  historyTableName: 'HISTORY_TABLE_NAME',
  historyRetentionSeconds: 'HISTORY_RETENTION_SECONDS',
  historyMaxMessages: 'HISTORY_MAX_MESSAGES',
  /** The delivery queue (slices, retries) and its DLQ, for publish and the delivery function. */
  deliveryQueueUrl: 'DELIVERY_QUEUE_URL',
  deliveryDlqUrl: 'DELIVERY_DLQ_URL',
  /** Subscribers publish posts to itself; a topic's further subscribers go to slice jobs. */
  sliceThreshold: 'SLICE_THRESHOLD',
  /** Connections per slice (and retry) job. */
  sliceSize: 'SLICE_SIZE',
  /** Failed rounds a connection gets (each a delivery job) before its job goes to the delivery DLQ. */
  deliveryMaxAttempts: 'DELIVERY_MAX_ATTEMPTS',
  /** PostToConnection calls per second for the whole stack, shared through the rate ledger; 0 = no budget. */
  rateBudget: 'RATE_BUDGET',
  sliceBudgetPercent: 'SLICE_BUDGET_PERCENT',
  /** The publish queue: client publishes (relay) and presence events go on it, as backends' messages do. */
  publishQueueUrl: 'PUBLISH_QUEUE_URL',
  /** JSON array of the topic patterns that are presence topics (`presenceTopics` setting); none when unset. */
  presenceTopics: 'PRESENCE_TOPICS',
  /** Members a subscribed reply lists per presence topic; above it, only the count (and no join/leave events). */
  presenceMaxListed: 'PRESENCE_MAX_LISTED',
  /** Client publishes one connection may send per second (relay). */
  clientPublishPerSecond: 'CLIENT_PUBLISH_PER_SECOND',
  /** Authorizer: where the HS256 secret lives (one of the two), or a JWKS URL for RS256/ES256. */
  authSecretParameter: 'AUTH_SECRET_PARAMETER',
  authSecretArn: 'AUTH_SECRET_ARN',
  authJwksUrl: 'AUTH_JWKS_URL',
  authIssuer: 'AUTH_ISSUER',
  authAudience: 'AUTH_AUDIENCE',
  /** Local mode and tests only: the HS256 secret itself, instead of a parameter or secret. */
  authSecret: 'AUTH_SECRET',
  /** Powertools' own variables. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

export const METRICS_NAMESPACE = 'RealtimePubSub';
