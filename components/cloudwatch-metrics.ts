/**
 * The CloudWatch metrics the dashboard reads, in one place: AWS's own (names and dimensions as
 * AWS documents them, with the page that says so) and the handlers' EMF metrics (namespace and
 * dimension as Powertools emits them). test/infra/dashboard.test.ts checks every widget against
 * this catalogue, and the EMF names against what the handlers' bundles really emit.
 */
import { METRICS_NAMESPACE } from '../protocol/env';

export interface AwsMetricFamily {
  namespace: string;
  /** The dimension keys the dashboard filters by (exactly these, no more). */
  dimensions: readonly string[];
  metrics: readonly string[];
  /** AWS documentation listing these metrics and dimensions. */
  docs: readonly string[];
}

/** Metrics AWS itself publishes for the services of the stack. */
export const AWS_METRICS = {
  sqs: {
    namespace: 'AWS/SQS',
    // "The only dimension that Amazon SQS sends to CloudWatch is QueueName."
    dimensions: ['QueueName'],
    metrics: ['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateAgeOfOldestMessage', 'NumberOfMessagesSent'],
    docs: ['https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html'],
  },
  lambda: {
    namespace: 'AWS/Lambda',
    dimensions: ['FunctionName'],
    metrics: ['Invocations', 'Errors', 'Throttles', 'Duration', 'ConcurrentExecutions'],
    docs: [
      'https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html',
      // ConcurrentExecutions: "Lambda emits this metric for all functions, versions, and aliases."
      'https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html',
    ],
  },
  /** WebSocket APIs: the ApiId, Stage dimension pair (per-route metrics need detailed metrics, which cost extra). */
  webSocketApi: {
    namespace: 'AWS/ApiGateway',
    dimensions: ['ApiId', 'Stage'],
    metrics: ['ConnectCount', 'MessageCount', 'IntegrationError', 'ClientError', 'ExecutionError', 'IntegrationLatency'],
    docs: ['https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-logging.html'],
  },
} as const satisfies Record<string, AwsMetricFamily>;

export type SqsMetric = (typeof AWS_METRICS.sqs.metrics)[number];
export type LambdaMetric = (typeof AWS_METRICS.lambda.metrics)[number];
export type WebSocketApiMetric = (typeof AWS_METRICS.webSocketApi.metrics)[number];

/**
 * The handlers' own metrics: Powertools Metrics writes EMF with the namespace
 * POWERTOOLS_METRICS_NAMESPACE and one dimension, `service` = POWERTOOLS_SERVICE_NAME
 * (components/lambda-function.ts sets both).
 */
export const EMF_METRICS = {
  namespace: METRICS_NAMESPACE,
  dimensions: ['service'],
  // EMF's structure; what Powertools writes is checked by running the handlers (test/infra/dashboard.test.ts).
  docs: ['https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html'],
} as const;
