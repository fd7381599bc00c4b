/** CloudWatch alarms on an SQS queue's own metrics (AWS/SQS), shared by the publish and delivery pipelines. */
import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

export interface QueueAlarm {
  description: string;
  metricName: 'ApproximateNumberOfMessagesVisible' | 'ApproximateAgeOfOldestMessage';
  queue: aws.sqs.Queue;
  threshold: number;
  comparisonOperator: string;
  evaluationPeriods: number;
}

/** One alarm, notifying `actions` (SNS topic ARNs) when it fires and when it clears. */
export function queueAlarm(name: string, alarm: QueueAlarm, actions: pulumi.Input<string>[], opts: pulumi.CustomResourceOptions): aws.cloudwatch.MetricAlarm {
  return new aws.cloudwatch.MetricAlarm(
    name,
    {
      alarmDescription: alarm.description,
      namespace: 'AWS/SQS',
      metricName: alarm.metricName,
      dimensions: { QueueName: alarm.queue.name },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: alarm.evaluationPeriods,
      threshold: alarm.threshold,
      comparisonOperator: alarm.comparisonOperator,
      treatMissingData: 'notBreaching',
      alarmActions: actions,
      okActions: actions,
    },
    opts,
  );
}
