/** Limits and defaults that the handlers, the components, the local mode and the client share. */

/** API Gateway's WebSocket message payload limit (128 KB), also the largest PostToConnection body. */
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** API Gateway's WebSocket frame limit (32 KB). */
export const MAX_FRAME_BYTES = 32 * 1024;
/** API Gateway closes a connection idle this long. */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** API Gateway closes every connection after this long. */
export const MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;

/** Topic names: 1..maxTopicLength characters of [A-Za-z0-9_.:/-] with no empty `/` segment; `$` is not in the set. */
export const TOPIC_PATTERN = /^[A-Za-z0-9_.:/-]+$/;

export const DEFAULTS = {
  maxTopicLength: 256,
  maxSubscriptionsPerConnection: 100,
  /** Posts in flight per publish invocation (see docs/performance.md). */
  publishConcurrency: 64,
  /** Largest publish envelope `data`, serialised as delivered, in bytes. */
  maxPublishBytes: MAX_MESSAGE_BYTES,
  /** Management API timeouts: a hung PostToConnection must not eat the Lambda's time. */
  postConnectTimeoutMs: 1000,
  postRequestTimeoutMs: 3000,
  /** Attempts per delivery on 5xx / timeout before the record is reported failed (429s are retried until the invocation's deadline). */
  postMaxAttempts: 4,
  postBaseBackoffMs: 50,
  /** Retry budget for throttled posts when there is no Lambda context to take a deadline from. */
  publishRetryBudgetMs: 10_000,
  /** A topic's first subscribers that publish delivers itself; beyond, slices (see the performance docs). */
  sliceThreshold: 1000,
  /** Connections per slice or retry job. */
  sliceSize: 500,
  /** Delivery rounds per connection (the inline one, then retry jobs) before its job goes to the delivery DLQ. */
  deliveryMaxAttempts: 6,
  /**
   * PostToConnection calls per second, the whole stack together: half of API Gateway's default
   * account limit (10,000/s per region, shared with every other API of the account there).
   */
  rateBudget: 5000,
  /**
   * The most of rateBudget the delivery function (slices and retries) takes in any second, in
   * percent: the rest stays for publish's inline fan-out of other messages' small topics.
   */
  sliceBudgetPercent: 75,
  /** Members a subscribed reply lists per presence topic (then only a count). */
  presenceMaxListed: 100,
  /** Client publishes per connection per second. */
  clientPublishPerSecond: 10,
} as const;
