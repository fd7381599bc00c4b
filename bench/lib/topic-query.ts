/** The query our publish handler makes to find a topic's subscribers: the byTopic GSI, one page. */
import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { TABLE } from '../../protocol/table';

export function topicQuery(tableName: string, topic: string, exclusiveStartKey?: Record<string, AttributeValue>): QueryCommand {
  return new QueryCommand({
    TableName: tableName,
    IndexName: TABLE.topicIndex,
    KeyConditionExpression: '#topic = :topic',
    ExpressionAttributeNames: { '#topic': TABLE.topicAttribute },
    ExpressionAttributeValues: { ':topic': { S: topic } },
    ReturnConsumedCapacity: 'TOTAL',
    ExclusiveStartKey: exclusiveStartKey,
  });
}
