/**
 * Rows of one connection: its `$connection` item and one item per subscription, all in the
 * connection's partition. Shared by $disconnect, 410 cleanup during fan-out, and subscribe's
 * cap check.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../protocol/table';
import { batchWriteAll, type BatchWriteRetry, DEFAULT_BATCH_WRITE_RETRY } from './batch-write';

export interface ConnectionItem {
  connectionId: string;
  sk: string;
  connectedAt?: string;
  sourceIp?: string;
  principal?: string;
  allowedTopics?: string[];
  expiresAt?: number;
}

/** Every sort key in the connection's partition, page by page, keys only. */
export async function connectionSortKeys(ddb: DynamoDBDocumentClient, tableName: string, connectionId: string): Promise<string[]> {
  const keys: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :id',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
        ExpressionAttributeValues: { ':id': connectionId },
        ProjectionExpression: '#sk',
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) keys.push(String(item[TABLE.sortKey]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return keys;
}

/** The topics a connection is subscribed to (every sort key but `$connection`). */
export async function subscribedTopics(ddb: DynamoDBDocumentClient, tableName: string, connectionId: string): Promise<string[]> {
  return (await connectionSortKeys(ddb, tableName, connectionId)).filter((sk) => sk !== TABLE.connectionSortKey);
}

export async function getConnectionItem(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
): Promise<ConnectionItem | undefined> {
  const result = await ddb.send(
    new GetCommand({
      TableName: tableName,
      Key: { [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: TABLE.connectionSortKey },
      ConsistentRead: true,
    }),
  );
  return result.Item as ConnectionItem | undefined;
}

export function deleteRequests(connectionId: string, sortKeys: readonly string[]) {
  return sortKeys.map((sk) => ({ DeleteRequest: { Key: { [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: sk } } }));
}

/** Delete every row of the connection; returns how many were deleted. */
export async function deleteConnectionRows(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  retry: BatchWriteRetry = DEFAULT_BATCH_WRITE_RETRY,
): Promise<number> {
  const keys = await connectionSortKeys(ddb, tableName, connectionId);
  await batchWriteAll(ddb, tableName, deleteRequests(connectionId, keys), retry);
  return keys.length;
}
