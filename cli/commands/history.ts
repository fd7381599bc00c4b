/**
 * `realtime history <topic>`: the messages a topic's stream still keeps (the history table, read
 * directly with DynamoDB Query), oldest first, one JSON line each — what a resuming subscriber
 * would be replayed. The stream's position (epoch and head) goes to stderr.
 */
import { GetItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { HISTORY, type StreamPosition } from '../../protocol/history';
import { dynamoDbClient, endpointName } from '../aws';
import { CliError, describeError } from '../errors';
import { resolveTarget, type TargetFlags } from '../target';
import { checkTopic } from '../topics';

export interface HistoryOptions extends TargetFlags {
  /** Only messages after this seq. */
  since?: number;
  /** At most this many messages (the oldest first). */
  limit?: number;
}

export interface HistoryResult {
  /** Where the stream stands; undefined when nothing was ever published to the topic. */
  position?: StreamPosition;
  /** The delivered frames, parsed, in seq order. */
  messages: Record<string, unknown>[];
}

export async function history(topic: string, options: HistoryOptions): Promise<HistoryResult> {
  checkTopic(topic);
  const target = await resolveTarget(options, ['historyTableName']);
  const table = target.outputs.historyTableName!;
  const dynamodb = dynamoDbClient(target);
  const failed = (what: string, err: unknown) => new CliError(`${what} on ${endpointName(target, 'DynamoDB')} (table ${table}) failed: ${describeError(err)}`);
  try {
    let stream: Record<string, AttributeValue> | undefined;
    try {
      ({ Item: stream } = await dynamodb.send(new GetItemCommand({ TableName: table, Key: { [HISTORY.partitionKey]: { S: topic }, [HISTORY.sortKey]: { N: String(HISTORY.streamSeq) } }, ConsistentRead: true })));
    } catch (err) {
      throw failed('GetItem', err);
    }
    const position = stream ? { epoch: stream[HISTORY.epochAttribute]?.S ?? '', seq: Number(stream[HISTORY.headAttribute]?.N ?? 0) } : undefined;
    const messages: Record<string, unknown>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      let page;
      try {
        page = await dynamodb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: '#t = :t AND #s > :after',
            ExpressionAttributeNames: { '#t': HISTORY.partitionKey, '#s': HISTORY.sortKey },
            ExpressionAttributeValues: { ':t': { S: topic }, ':after': { N: String(Math.max(options.since ?? 0, 0)) } },
            ConsistentRead: true,
            ...(options.limit ? { Limit: options.limit - messages.length } : {}),
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (err) {
        throw failed('Query', err);
      }
      const now = Date.now() / 1000;
      for (const item of page.Items ?? []) {
        // Past its retention (DynamoDB's TTL deletes lazily): no longer replayed, so not listed.
        if (Number(item[HISTORY.ttlAttribute]?.N ?? Infinity) <= now) continue;
        messages.push(JSON.parse(item[HISTORY.frameAttribute]?.S ?? 'null') as Record<string, unknown>);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && (options.limit === undefined || messages.length < options.limit));
    return position ? { position, messages } : { messages };
  } finally {
    dynamodb.destroy();
  }
}
