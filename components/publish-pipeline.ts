/**
 * The publish path: an SQS queue (SSE, TLS-only policy, redrive to a DLQ), EventBridge rules that
 * put domain events on that queue as rule messages (protocol/rule-message.ts), the publish function fed by an event
 * source mapping with partial batch responses, and alarms on the DLQ and on message age.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { createHash } from 'node:crypto';
import { PUBLISH_HANDLER } from '../protocol/routes';
import { inputTransformerFor } from '../protocol/rule-message';
import type { EventRule } from '../protocol/rules';
import { LambdaFunction, type FunctionSettings, type LogLevel } from './lambda-function';
import { policyDocument } from './policies/document';
import { queueAlarm } from './queue-alarms';
import { consumeQueueStatement, denyInsecureTransportStatement, queuePolicyStatements } from './policies/queue';

export interface PublishPipelineArgs {
  /** The publish function's permissions (besides consuming the queue), environment and size. */
  function: FunctionSettings & { timeout: number };
  /** Records per invocation; default 10. */
  batchSize?: number;
  /** Seconds to gather a batch; default 0. */
  maxBatchingWindowSeconds?: number;
  /** Concurrent invocations the queue may drive (2-1000); default 10. */
  maximumConcurrency?: number;
  /** Receives before a message moves to the DLQ; default 5. */
  maxReceiveCount?: number;
  /** The bus the rules listen on; default "default". */
  eventBusName?: string;
  eventRules?: readonly EventRule[];
  /** Alarm when the oldest message is older than this; default 300 s. */
  oldestMessageAlarmSeconds?: number;
  /** SNS topic notified when an alarm fires or clears. */
  alarmTopicArn?: pulumi.Input<string>;
  logRetentionDays: number;
  logLevel?: LogLevel;
}

/** Lambda's rule: visibility ≥ 6 × function timeout (+ the batching window it may wait). */
export function visibilityTimeoutFor(functionTimeoutSeconds: number, batchingWindowSeconds: number): number {
  return 6 * functionTimeoutSeconds + batchingWindowSeconds;
}

/**
 * The queue takes SQS's largest messages (1 MiB; its default is 256 KiB): a rule message carries
 * the whole event, which may itself be 256 KB, plus the rule's constant parts. The local queue has
 * the same limit.
 */
export const QUEUE_MAX_MESSAGE_BYTES = 1024 * 1024;

/** EventBridge rule names are at most 64 characters; rule names in config may be 40 on their own. */
export const MAX_RULE_NAME = 64;

/**
 * A rule's physical name: readable, unique per stack and never over 64 characters (Pulumi's
 * auto-naming would add 8 characters to an already long logical name).
 */
export function ruleName(component: string, rule: string): string {
  const hash = createHash('sha256').update(`${pulumi.getProject()}/${pulumi.getStack()}/${component}/${rule}`).digest('hex').slice(0, 8);
  return `${`${component}-${rule}`.slice(0, MAX_RULE_NAME - hash.length - 1)}-${hash}`;
}

export class PublishPipeline extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly publishFunction: LambdaFunction;
  readonly eventSourceMapping: aws.lambda.EventSourceMapping;
  /** The DLQ and message-age alarms. */
  readonly alarms: aws.cloudwatch.MetricAlarm[];
  readonly rules: aws.cloudwatch.EventRule[];
  readonly queueUrl: pulumi.Output<string>;
  readonly queueArn: pulumi.Output<string>;
  readonly dlqUrl: pulumi.Output<string>;
  readonly eventBusName: pulumi.Output<string>;

  constructor(name: string, args: PublishPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:PublishPipeline', name, {}, opts);
    const parent = { parent: this };
    const batchingWindow = args.maxBatchingWindowSeconds ?? 0;
    const eventBusName = args.eventBusName ?? 'default';

    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-dlq`,
      // The longest SQS allows: time to look at what failed and redrive it.
      { sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600 },
      parent,
    );
    this.queue = new aws.sqs.Queue(
      `${name}-queue`,
      {
        sqsManagedSseEnabled: true,
        maxMessageSize: QUEUE_MAX_MESSAGE_BYTES,
        visibilityTimeoutSeconds: visibilityTimeoutFor(args.function.timeout, batchingWindow),
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: args.maxReceiveCount ?? 5 }),
      },
      parent,
    );

    // ---- EventBridge rules → queue: the rule message, with the whole event serialised by EventBridge ----
    this.rules = (args.eventRules ?? []).map((rule) => {
      const transformer = inputTransformerFor(rule);
      const r = new aws.cloudwatch.EventRule(
        `${name}-rule-${rule.name}`,
        {
          name: ruleName(name, rule.name),
          eventBusName,
          eventPattern: JSON.stringify(rule.eventPattern),
          description: `realtime: publish to ${rule.topic}`,
        },
        parent,
      );
      new aws.cloudwatch.EventTarget(
        `${name}-rule-${rule.name}-target`,
        { rule: r.name, eventBusName, arn: this.queue.arn, inputTransformer: transformer },
        parent,
      );
      return r;
    });

    new aws.sqs.QueuePolicy(
      `${name}-queue-policy`,
      { queueUrl: this.queue.url, policy: policyDocument(queuePolicyStatements(this.queue.arn, this.rules.map((r) => r.arn))) },
      parent,
    );
    new aws.sqs.QueuePolicy(
      `${name}-dlq-policy`,
      { queueUrl: this.deadLetterQueue.url, policy: policyDocument([denyInsecureTransportStatement(this.deadLetterQueue.arn)]) },
      parent,
    );

    // ---- the publish function and its event source ----
    this.publishFunction = new LambdaFunction(
      `${name}-${PUBLISH_HANDLER}`,
      {
        handler: PUBLISH_HANDLER,
        ...args.function,
        statements: [consumeQueueStatement(this.queue.arn), ...args.function.statements],
        logRetentionDays: args.logRetentionDays,
        logLevel: args.logLevel,
      },
      parent,
    );
    this.eventSourceMapping = new aws.lambda.EventSourceMapping(
      `${name}-source`,
      {
        eventSourceArn: this.queue.arn,
        functionName: this.publishFunction.arn,
        batchSize: args.batchSize ?? 10,
        maximumBatchingWindowInSeconds: batchingWindow,
        functionResponseTypes: ['ReportBatchItemFailures'],
        scalingConfig: { maximumConcurrency: args.maximumConcurrency ?? 10 },
      },
      // Lambda checks the role can poll the queue when the mapping is created.
      { parent: this, dependsOn: [this.publishFunction.rolePolicy] },
    );

    // ---- alarms ----
    const actions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const dlqAlarm = queueAlarm(`${name}-dlq-alarm`, {
      description: 'Publish messages failed every retry and are waiting in the dead-letter queue',
      metricName: 'ApproximateNumberOfMessagesVisible',
      queue: this.deadLetterQueue,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      evaluationPeriods: 1,
    }, actions, parent);
    const ageAlarm = queueAlarm(`${name}-age-alarm`, {
      description: 'Publish messages wait too long: the publish function is failing, throttled or capped',
      metricName: 'ApproximateAgeOfOldestMessage',
      queue: this.queue,
      threshold: args.oldestMessageAlarmSeconds ?? 300,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
    }, actions, parent);
    this.alarms = [dlqAlarm, ageAlarm];

    this.queueUrl = this.queue.url;
    this.queueArn = this.queue.arn;
    this.dlqUrl = this.deadLetterQueue.url;
    this.eventBusName = pulumi.output(eventBusName);
    this.registerOutputs({ queueUrl: this.queueUrl, queueArn: this.queueArn, dlqUrl: this.dlqUrl, eventBusName: this.eventBusName });
  }
}
