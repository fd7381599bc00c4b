/**
 * The stack's CloudWatch dashboard: what an operator looks at first. Fan-out (deliveries, 410s,
 * 429s, failures, fan-out duration, delivery jobs) from the handlers' EMF metrics; the publish and
 * delivery queues (depth, age) and their DLQs; the WebSocket API (connects, messages, errors,
 * latency); every function's errors, throttles, concurrency and duration; the alarms' state.
 * The body is built by a pure function of resolved names (dashboardBody), so tests can read it;
 * every metric comes from the catalogue of components/cloudwatch-metrics.ts.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { AWS_METRICS, EMF_METRICS, type LambdaMetric, type SqsMetric, type WebSocketApiMetric } from './cloudwatch-metrics';
import type { DeliveryPipeline } from './delivery-pipeline';
import type { LambdaFunction } from './lambda-function';
import type { PublishPipeline } from './publish-pipeline';
import type { WebSocketApi } from './websocket-api';

/** A queue on the dashboard: its label and its name (the QueueName dimension). */
export interface DashboardQueue<N = pulumi.Input<string>> {
  label: string;
  name: N;
}

/** A function on the dashboard: its label (the handler) and its name (the FunctionName dimension). */
export interface DashboardFunction<N = pulumi.Input<string>> {
  label: string;
  name: N;
}

/** A function that emits the fan-out metrics, by its Powertools service name (the `service` dimension). */
export interface FanOutService {
  label: string;
  service: string;
}

export interface DashboardArgs {
  /** Default `<project>-<stack>-<component name>` (dashboard names are unique per account). */
  dashboardName?: string;
  apiId: pulumi.Input<string>;
  stageName: pulumi.Input<string>;
  /** Queues a function consumes: depth and age of the oldest message. */
  queues: DashboardQueue[];
  deadLetterQueues: DashboardQueue[];
  functions: DashboardFunction[];
  /** Functions that fan out (publish, deliver): their deliveries, 410s, 429s and failures. */
  fanOut: FanOutService[];
  /** The function that takes envelopes (publish): it reports `fanOutDuration` per message and `rejected` envelopes. */
  publisher: FanOutService;
  /** Alarms whose state the dashboard shows. */
  alarmArns?: pulumi.Input<string>[];
  /** Default: the provider's region and partition. */
  region?: pulumi.Input<string>;
  partition?: pulumi.Input<string>;
}

/** Everything the body needs, resolved. */
export interface DashboardSpec {
  title: string;
  region: string;
  apiId: string;
  stageName: string;
  queues: DashboardQueue<string>[];
  deadLetterQueues: DashboardQueue<string>[];
  functions: DashboardFunction<string>[];
  fanOut: FanOutService[];
  publisher: FanOutService;
  alarmArns: string[];
}

/** One line of a metric widget: namespace, name, dimension pairs, then rendering options. */
export type MetricLine = [string, string, ...(string | Record<string, unknown>)[]];

/** The handlers' fan-out metrics the dashboard shows; test/infra/dashboard.test.ts checks each against the bundles. */
export const FAN_OUT_METRICS = {
  delivered: 'delivered',
  gone: 'gone',
  throttled: 'throttled',
  failed: 'failed',
  fanOutDuration: 'fanOutDuration',
  jobsQueued: 'jobsQueued',
  jobsDeadLettered: 'jobsDeadLettered',
  rejected: 'rejected',
} as const;

const PERIOD = 60;
const ROW_HEIGHT = 6;

const emf = (metric: string, s: FanOutService, options: Record<string, unknown> = {}): MetricLine => [
  EMF_METRICS.namespace,
  metric,
  EMF_METRICS.dimensions[0],
  s.service,
  { label: `${metric} (${s.label})`, ...options },
];
const sqs = (metric: SqsMetric, q: DashboardQueue<string>, label = q.label): MetricLine => [AWS_METRICS.sqs.namespace, metric, 'QueueName', q.name, { label }];
const lambda = (metric: LambdaMetric, f: DashboardFunction<string>, options: Record<string, unknown> = {}): MetricLine => [
  AWS_METRICS.lambda.namespace,
  metric,
  'FunctionName',
  f.name,
  { label: f.label, ...options },
];
const api = (metric: WebSocketApiMetric, spec: DashboardSpec, options: Record<string, unknown> = {}): MetricLine => [
  AWS_METRICS.webSocketApi.namespace,
  metric,
  'ApiId',
  spec.apiId,
  'Stage',
  spec.stageName,
  { label: metric, ...options },
];

interface Graph {
  title: string;
  stat: string;
  metrics: MetricLine[];
  /** Left axis label. */
  unit?: string;
}

/** The dashboard body (CloudWatch's JSON structure) for these resources. */
export function dashboardBody(spec: DashboardSpec): Record<string, unknown> {
  const m = FAN_OUT_METRICS;
  const rows: Graph[][] = [
    [
      { title: 'Deliveries (PostToConnection 2xx)', stat: 'Sum', metrics: spec.fanOut.map((s) => emf(m.delivered, s)) },
      {
        title: 'Gone (410), throttled (429), failed',
        stat: 'Sum',
        metrics: spec.fanOut.flatMap((s) => [emf(m.gone, s), emf(m.throttled, s), emf(m.failed, s)]),
      },
      {
        title: 'Fan-out duration per message',
        stat: 'p50',
        unit: 'ms',
        metrics: [
          emf(m.fanOutDuration, spec.publisher, { stat: 'p50', label: 'p50' }),
          emf(m.fanOutDuration, spec.publisher, { stat: 'p99', label: 'p99' }),
          emf(m.fanOutDuration, spec.publisher, { stat: 'Maximum', label: 'max' }),
        ],
      },
      {
        title: 'Delivery jobs queued, dead-lettered; envelopes rejected',
        stat: 'Sum',
        metrics: [
          ...spec.fanOut.flatMap((s) => [emf(m.jobsQueued, s), emf(m.jobsDeadLettered, s)]),
          emf(m.rejected, spec.publisher),
        ],
      },
    ],
    [
      {
        title: 'Queue depth (visible, in flight)',
        stat: 'Maximum',
        metrics: spec.queues.flatMap((q) => [
          sqs('ApproximateNumberOfMessagesVisible', q, `${q.label} visible`),
          sqs('ApproximateNumberOfMessagesNotVisible', q, `${q.label} in flight`),
        ]),
      },
      { title: 'Age of the oldest message', stat: 'Maximum', unit: 's', metrics: spec.queues.map((q) => sqs('ApproximateAgeOfOldestMessage', q)) },
      { title: 'Dead-letter queues (messages waiting)', stat: 'Maximum', metrics: spec.deadLetterQueues.map((q) => sqs('ApproximateNumberOfMessagesVisible', q)) },
      { title: 'Messages sent to the queues', stat: 'Sum', metrics: spec.queues.map((q) => sqs('NumberOfMessagesSent', q)) },
    ],
    [
      { title: 'WebSocket connects and messages', stat: 'Sum', metrics: [api('ConnectCount', spec), api('MessageCount', spec)] },
      { title: 'WebSocket errors', stat: 'Sum', metrics: [api('ClientError', spec), api('IntegrationError', spec), api('ExecutionError', spec)] },
      {
        title: 'Integration latency',
        stat: 'p50',
        unit: 'ms',
        metrics: [api('IntegrationLatency', spec, { stat: 'p50', label: 'p50' }), api('IntegrationLatency', spec, { stat: 'p99', label: 'p99' })],
      },
      { title: 'Lambda invocations', stat: 'Sum', metrics: spec.functions.map((f) => lambda('Invocations', f)) },
    ],
    [
      { title: 'Lambda errors', stat: 'Sum', metrics: spec.functions.map((f) => lambda('Errors', f)) },
      { title: 'Lambda throttles', stat: 'Sum', metrics: spec.functions.map((f) => lambda('Throttles', f)) },
      { title: 'Lambda concurrency (max)', stat: 'Maximum', metrics: spec.functions.map((f) => lambda('ConcurrentExecutions', f)) },
      { title: 'Lambda duration (p99)', stat: 'p99', unit: 'ms', metrics: spec.functions.map((f) => lambda('Duration', f)) },
    ],
  ];

  const widgets: Record<string, unknown>[] = [
    {
      type: 'text',
      x: 0,
      y: 0,
      width: 24,
      height: 2,
      properties: {
        markdown:
          `## ${spec.title}\n` +
          'Fan-out counts come from the publish and deliver functions (per invocation); queue, API and Lambda graphs are AWS metrics. ' +
          'Failed deliveries are retried as delivery jobs; what fails every retry waits in a dead-letter queue.',
      },
    },
  ];
  let y = 2;
  for (const row of rows) {
    const width = 24 / row.length;
    row.forEach((graph, i) => {
      widgets.push({
        type: 'metric',
        x: i * width,
        y,
        width,
        height: ROW_HEIGHT,
        properties: {
          title: graph.title,
          view: 'timeSeries',
          stacked: false,
          region: spec.region,
          period: PERIOD,
          stat: graph.stat,
          metrics: graph.metrics,
          ...(graph.unit ? { yAxis: { left: { label: graph.unit, showUnits: false } } } : {}),
        },
      });
    });
    y += ROW_HEIGHT;
  }
  if (spec.alarmArns.length > 0) {
    widgets.push({ type: 'alarm', x: 0, y, width: 24, height: 3, properties: { title: 'Alarms', alarms: spec.alarmArns } });
  }
  return { start: '-PT3H', periodOverride: 'auto', widgets };
}

/** CloudWatch's console host in a partition. */
export function consoleHost(partition: string, region: string): string {
  switch (partition) {
    case 'aws-cn':
      return 'console.amazonaws.cn';
    case 'aws-us-gov':
      return 'console.amazonaws-us-gov.com';
    default:
      return `${region}.console.aws.amazon.com`;
  }
}

/** The console address of a dashboard. */
export function dashboardUrl(partition: string, region: string, name: string): string {
  return `https://${consoleHost(partition, region)}/cloudwatch/home?region=${region}#dashboards/dashboard/${encodeURIComponent(name)}`;
}

/** Dashboard names: letters, digits, - and _, at most 255 characters, unique per account. */
export function defaultDashboardName(component: string): string {
  return `${pulumi.getProject()}-${pulumi.getStack()}-${component}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 255);
}

/** The system's parts the dashboard shows, as RealtimePubSub composes them. */
export interface SystemParts {
  api: WebSocketApi;
  pipeline: PublishPipeline;
  delivery: DeliveryPipeline;
  region?: pulumi.Input<string>;
  partition?: pulumi.Input<string>;
}

/** The dashboard of a whole system: every function, both queues and DLQs, every alarm. */
export function systemDashboardArgs({ api, pipeline, delivery, region, partition }: SystemParts): DashboardArgs {
  const fns: LambdaFunction[] = [
    ...Object.values<LambdaFunction>(api.functions),
    ...(api.authorizerFunction ? [api.authorizerFunction] : []),
    pipeline.publishFunction,
    delivery.deliverFunction,
  ];
  const service = (fn: LambdaFunction): FanOutService => ({ label: fn.handler, service: fn.serviceName });
  return {
    apiId: api.apiId,
    stageName: api.stageName,
    queues: [
      { label: 'publish queue', name: pipeline.queue.name },
      { label: 'delivery queue', name: delivery.queue.name },
    ],
    deadLetterQueues: [
      { label: 'publish DLQ', name: pipeline.deadLetterQueue.name },
      { label: 'delivery DLQ', name: delivery.deadLetterQueue.name },
    ],
    functions: fns.map((fn) => ({ label: fn.handler, name: fn.name })),
    fanOut: [service(pipeline.publishFunction), service(delivery.deliverFunction)],
    publisher: service(pipeline.publishFunction),
    alarmArns: [...pipeline.alarms, ...delivery.alarms].map((a) => a.arn),
    region,
    partition,
  };
}

export class Dashboard extends pulumi.ComponentResource {
  readonly dashboard: aws.cloudwatch.Dashboard;
  readonly dashboardName: pulumi.Output<string>;
  /** The dashboard in the CloudWatch console. */
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: DashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:Dashboard', name, {}, opts);
    const invoke = { parent: this };
    const region = args.region ?? aws.getRegionOutput({}, invoke).region;
    const partition = args.partition ?? aws.getPartitionOutput({}, invoke).partition;
    const dashboardName = args.dashboardName ?? defaultDashboardName(name);
    const named = <T extends { name: pulumi.Input<string> }>(items: T[]) =>
      pulumi.all(items.map((item) => pulumi.output(item.name).apply((resolved) => ({ ...item, name: resolved }))));

    const body = pulumi
      .all([region, args.apiId, args.stageName, named(args.queues), named(args.deadLetterQueues), named(args.functions), pulumi.all(args.alarmArns ?? [])])
      .apply(([r, apiId, stageName, queues, deadLetterQueues, functions, alarmArns]) =>
        JSON.stringify(
          dashboardBody({
            title: `realtime pub/sub: ${dashboardName}`,
            region: r,
            apiId,
            stageName,
            queues,
            deadLetterQueues,
            functions,
            fanOut: args.fanOut,
            publisher: args.publisher,
            alarmArns,
          }),
        ),
      );

    this.dashboard = new aws.cloudwatch.Dashboard(`${name}-dashboard`, { dashboardName, dashboardBody: body }, { parent: this });
    this.dashboardName = this.dashboard.dashboardName;
    this.url = pulumi.all([partition, region, this.dashboard.dashboardName]).apply(([p, r, n]) => dashboardUrl(p, r, n));
    this.registerOutputs({ dashboardName: this.dashboardName, url: this.url });
  }
}
