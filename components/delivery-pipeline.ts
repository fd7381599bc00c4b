/**
 * The delivery path behind publish: the delivery queue (SSE, TLS only, redrive to its DLQ) that
 * carries delivery jobs — slices of big topics and retries of failed deliveries — and the
 * delivery function fed by an event source mapping with partial batch responses and a maximum
 * concurrency, plus alarms on the DLQ and on message age. Only the stack's functions send to
 * the queue (their roles name it); nothing else may.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { DELIVER_HANDLER } from '../protocol/routes';
import { LambdaFunction, type FunctionSettings, type LogLevel } from './lambda-function';
import { policyDocument } from './policies/document';
import { consumeQueueStatement, denyInsecureTransportStatement } from './policies/queue';
import { QUEUE_MAX_MESSAGE_BYTES, visibilityTimeoutFor } from './publish-pipeline';
import { queueAlarm } from './queue-alarms';

/** The queues, for the delivery function's settings (its environment names them, its role may send to them). */
export interface DeliveryQueues {
  queueUrl: pulumi.Output<string>;
  queueArn: pulumi.Output<string>;
  dlqUrl: pulumi.Output<string>;
  dlqArn: pulumi.Output<string>;
}

export interface DeliveryPipelineArgs {
  /** The delivery function's permissions (besides consuming the queue), environment and size; its timeout sets the queue's visibility timeout. */
  function: (queues: DeliveryQueues) => FunctionSettings;
  functionTimeoutSeconds: number;
  /** Jobs per invocation; default 5. */
  batchSize?: number;
  /** Concurrent delivery invocations (2-1000); default 20. */
  maximumConcurrency?: number;
  /** Receives of a job whose follow-up could not be queued, before it moves to the DLQ; default 5. */
  maxReceiveCount?: number;
  oldestMessageAlarmSeconds?: number;
  alarmTopicArn?: pulumi.Input<string>;
  logRetentionDays: number;
  logLevel?: LogLevel;
}

export class DeliveryPipeline extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly queueUrl: pulumi.Output<string>;
  readonly queueArn: pulumi.Output<string>;
  readonly dlqUrl: pulumi.Output<string>;
  readonly dlqArn: pulumi.Output<string>;
  readonly deliverFunction: LambdaFunction;
  readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  /** The DLQ and message-age alarms. */
  readonly alarms: aws.cloudwatch.MetricAlarm[];

  constructor(name: string, args: DeliveryPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:DeliveryPipeline', name, {}, opts);
    const parent = { parent: this };
    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-dlq`,
      { sqsManagedSseEnabled: true, maxMessageSize: QUEUE_MAX_MESSAGE_BYTES, messageRetentionSeconds: 14 * 24 * 3600 },
      parent,
    );
    this.queue = new aws.sqs.Queue(
      `${name}-queue`,
      {
        sqsManagedSseEnabled: true,
        // A job carries a frame (≤ 128 KB) and its connections' ids.
        maxMessageSize: QUEUE_MAX_MESSAGE_BYTES,
        visibilityTimeoutSeconds: visibilityTimeoutFor(args.functionTimeoutSeconds, 0),
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: args.maxReceiveCount ?? 5 }),
      },
      parent,
    );
    for (const [suffix, queue] of [
      ['queue', this.queue],
      ['dlq', this.deadLetterQueue],
    ] as const) {
      new aws.sqs.QueuePolicy(`${name}-${suffix}-policy`, { queueUrl: queue.url, policy: policyDocument([denyInsecureTransportStatement(queue.arn)]) }, parent);
    }

    const actions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const dlqAlarm = queueAlarm(
      `${name}-dlq-alarm`,
      {
        description: 'Deliveries failed every retry: their jobs (frame and connection ids) wait in the delivery dead-letter queue',
        metricName: 'ApproximateNumberOfMessagesVisible',
        queue: this.deadLetterQueue,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        evaluationPeriods: 1,
      },
      actions,
      parent,
    );
    const ageAlarm = queueAlarm(
      `${name}-age-alarm`,
      {
        description: 'Delivery jobs wait too long: the delivery function is failing, throttled, capped, or the rate budget is too small',
        metricName: 'ApproximateAgeOfOldestMessage',
        queue: this.queue,
        threshold: args.oldestMessageAlarmSeconds ?? 300,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        evaluationPeriods: 3,
      },
      actions,
      parent,
    );
    this.alarms = [dlqAlarm, ageAlarm];

    this.queueUrl = this.queue.url;
    this.queueArn = this.queue.arn;
    this.dlqUrl = this.deadLetterQueue.url;
    this.dlqArn = this.deadLetterQueue.arn;

    const settings = args.function({ queueUrl: this.queueUrl, queueArn: this.queueArn, dlqUrl: this.dlqUrl, dlqArn: this.dlqArn });
    this.deliverFunction = new LambdaFunction(
      `${name}-${DELIVER_HANDLER}`,
      {
        handler: DELIVER_HANDLER,
        ...settings,
        timeout: args.functionTimeoutSeconds,
        statements: [consumeQueueStatement(this.queue.arn, 'ConsumeDeliveryQueue'), ...settings.statements],
        logRetentionDays: args.logRetentionDays,
        logLevel: args.logLevel,
      },
      parent,
    );
    this.eventSourceMapping = new aws.lambda.EventSourceMapping(
      `${name}-source`,
      {
        eventSourceArn: this.queue.arn,
        functionName: this.deliverFunction.arn,
        batchSize: args.batchSize ?? 5,
        functionResponseTypes: ['ReportBatchItemFailures'],
        scalingConfig: { maximumConcurrency: args.maximumConcurrency ?? 20 },
      },
      // Lambda checks the role can poll the queue when the mapping is created.
      { parent: this, dependsOn: [this.deliverFunction.rolePolicy] },
    );
    this.registerOutputs({ queueUrl: this.queueUrl, dlqUrl: this.dlqUrl, functionName: this.deliverFunction.name });
  }
}
