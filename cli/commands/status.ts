/**
 * `realtime status`: queue and DLQ depths (GetQueueAttributes) and the number of subscriptions.
 * The count is a Scan with Select COUNT over the sparse byTopic index: it reads every subscription
 * key, which is fine for an operator command run by hand, never for a hot path.
 */
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TABLE } from '../../protocol/table';
import { dynamoDbClient, endpointName, sqsClient } from '../aws';
import { CliError, describeError } from '../errors';
import { resolveTarget, type Target, type TargetFlags } from '../target';

export interface QueueDepth {
  waiting: number;
  inFlight: number;
  delayed: number;
}

export interface Status {
  target: string;
  local: boolean;
  queue: QueueDepth;
  deadLetters: QueueDepth;
  /** Null when the table cannot be reached from here (see `subscriptionsNote`). */
  subscriptions: number | null;
  subscriptionsNote?: string;
}

export async function status(flags: TargetFlags): Promise<Status> {
  const target = await resolveTarget(flags, ['queueUrl', 'dlqUrl']);
  const sqs = sqsClient(target);
  try {
    const [queue, deadLetters] = await Promise.all([depth(sqs, target, target.outputs.queueUrl!), depth(sqs, target, target.outputs.dlqUrl!)]);
    const result: Status = { target: target.source, local: target.local, queue, deadLetters, subscriptions: null };
    const note = subscriptionsUnavailable(target);
    if (note) result.subscriptionsNote = note;
    else result.subscriptions = await countSubscriptions(target);
    return result;
  } finally {
    sqs.destroy();
  }
}

async function depth(sqs: SQSClient, target: Target, queueUrl: string): Promise<QueueDepth> {
  try {
    const { Attributes: a = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return {
      waiting: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  } catch (err) {
    throw new CliError(`GetQueueAttributes on ${endpointName(target, 'SQS')} failed for ${queueUrl}: ${describeError(err)}`);
  }
}

/** Why the subscription count is unavailable, or undefined when it can be counted. */
function subscriptionsUnavailable(target: Target): string | undefined {
  if (!target.outputs.tableName) return 'no table name: pass --table';
  if (target.local && !target.outputs.dynamodbEndpoint) return 'the local outputs give no DynamoDB endpoint';
  return undefined;
}

async function countSubscriptions(target: Target): Promise<number> {
  const dynamodb: DynamoDBClient = dynamoDbClient(target);
  let count = 0;
  let startKey: Record<string, never> | undefined;
  try {
    do {
      const page = await dynamodb.send(
        new ScanCommand({ TableName: target.outputs.tableName, IndexName: TABLE.topicIndex, Select: 'COUNT', ExclusiveStartKey: startKey }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey as typeof startKey;
    } while (startKey);
    return count;
  } catch (err) {
    throw new CliError(`Scan of ${target.outputs.tableName} on ${endpointName(target, 'DynamoDB')} failed: ${describeError(err)}`);
  } finally {
    dynamodb.destroy();
  }
}

export function formatStatus(s: Status): string {
  const queue = (d: QueueDepth) => `${d.waiting} waiting, ${d.inFlight} in flight, ${d.delayed} delayed`;
  const subscriptions = s.subscriptions === null ? `unknown (${s.subscriptionsNote})` : `${s.subscriptions} (Scan of index ${TABLE.topicIndex})`;
  return [
    `target         ${s.target}${s.local ? ' (local mode)' : ''}`,
    `queue          ${queue(s.queue)}`,
    `dead letters   ${queue(s.deadLetters)}`,
    `subscriptions  ${subscriptions}`,
  ].join('\n');
}
