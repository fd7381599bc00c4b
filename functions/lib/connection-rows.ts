/**
 * Rows of one connection: its `$connection` item and one item per subscription, all in the
 * connection's partition. Shared by $disconnect, 410 cleanup during fan-out, and subscribe /
 * unsubscribe with the connection's subscription count.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { TABLE } from '../../protocol/table';
import { batchWriteAll, type BatchWriteRetry, DEFAULT_BATCH_WRITE_RETRY } from './batch-write';

/**
 * Attribute of the `$connection` item: subscriptions the connection holds plus those reserved by
 * subscribe requests in flight. API Gateway runs a connection's messages concurrently, so the cap
 * is enforced by a conditional update of this one number, never by counting rows.
 */
export const SUBSCRIPTION_COUNT = TABLE.subscriptionCountAttribute;

export interface ConnectionItem {
  connectionId: string;
  sk: string;
  connectedAt?: string;
  sourceIp?: string;
  principal?: string;
  allowedTopics?: string[];
  /** Patterns of the token's `publish` claim (client publish); absent: may not publish. */
  publishTopics?: string[];
  /** The token's `presence` claim as JSON text: the member data shown in presence topics. */
  presence?: string;
  expiresAt?: number;
  /** Written 0 by $connect; absent on items written before it existed (see initSubscriptionCount). */
  [SUBSCRIPTION_COUNT]?: number;
}

/** Row puts/deletes of one request in flight at once (the SDK's default pool has 50 sockets). */
const ROW_WRITE_CONCURRENCY = 16;

/** Every sort key in the connection's partition, page by page, keys only. */
export async function connectionSortKeys(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  consistentRead = false,
): Promise<string[]> {
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
        ...(consistentRead ? { ConsistentRead: true } : {}),
      }),
    );
    for (const item of page.Items ?? []) keys.push(String(item[TABLE.sortKey]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return keys;
}

/** The topics a connection is subscribed to (every sort key but `$connection`). */
export async function subscribedTopics(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  consistentRead = false,
): Promise<string[]> {
  return (await connectionSortKeys(ddb, tableName, connectionId, consistentRead)).filter((sk) => sk !== TABLE.connectionSortKey);
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

/**
 * Delete every row of the connection; returns how many subscription rows were deleted.
 * The `$connection` item goes FIRST, then a consistent query finds the rest: a subscribe that
 * writes rows and then re-reads the item (see subscribe) either sees it gone and takes its rows
 * back, or wrote them before this query, which then finds them. Either way no row is orphaned.
 * (A BatchWrite, not a DeleteItem, so the callers' roles need no new action.)
 */
export async function deleteConnectionRows(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  retry: BatchWriteRetry = DEFAULT_BATCH_WRITE_RETRY,
): Promise<number> {
  return (await deleteConnectionRowsOf(ddb, tableName, connectionId, retry)).length;
}

/** deleteConnectionRows, returning the topics whose rows it deleted (presence leaves them). */
export async function deleteConnectionRowsOf(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  retry: BatchWriteRetry = DEFAULT_BATCH_WRITE_RETRY,
): Promise<string[]> {
  await batchWriteAll(ddb, tableName, deleteRequests(connectionId, [TABLE.connectionSortKey]), retry);
  const topics = await subscribedTopics(ddb, tableName, connectionId, true);
  await batchWriteAll(ddb, tableName, deleteRequests(connectionId, topics), retry);
  return topics;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

const connectionKey = (connectionId: string) => ({ [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: TABLE.connectionSortKey });
const COUNT_NAMES = { '#pk': TABLE.partitionKey, '#count': SUBSCRIPTION_COUNT };

/**
 * Reserve `n` subscriptions under `cap`, atomically: `ADD n` only if the count stays within the
 * cap. Concurrent requests of one connection serialise on this item, so the cap always holds.
 * false: no room (or the connection item is gone, or its count was never set).
 * `attribute_exists` matters: an update of a missing item would create a bare one.
 */
export async function reserveSubscriptions(ddb: DynamoDBDocumentClient, tableName: string, connectionId: string, n: number, cap: number): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: 'ADD #count :n',
        ConditionExpression: 'attribute_exists(#pk) AND #count <= :room',
        ExpressionAttributeNames: COUNT_NAMES,
        ExpressionAttributeValues: { ':n': n, ':room': cap - n },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/**
 * Give back `n` (reserved but not used, or rows deleted). Never below 0 and never on a missing
 * item or count: false when the condition stopped it (the connection is gone, or predates the count).
 */
export async function releaseSubscriptions(ddb: DynamoDBDocumentClient, tableName: string, connectionId: string, n: number): Promise<boolean> {
  if (n <= 0) return true;
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: 'ADD #count :minus',
        ConditionExpression: 'attribute_exists(#pk) AND #count >= :n',
        ExpressionAttributeNames: COUNT_NAMES,
        ExpressionAttributeValues: { ':minus': -n, ':n': n },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/**
 * Start the count of a connection item written before `subscriptionCount` existed, at the rows
 * it holds. Only the first caller sets it. No subscribe can add rows meanwhile: reserving needs
 * the count.
 */
export async function initSubscriptionCount(ddb: DynamoDBDocumentClient, tableName: string, connectionId: string, held: number): Promise<void> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: 'SET #count = :held',
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#count)',
        ExpressionAttributeNames: COUNT_NAMES,
        ExpressionAttributeValues: { ':held': held },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** What a set of row writes did: the rows it changed, and the first failure if any write failed. */
export interface RowWrites {
  changed: string[];
  failure?: unknown;
}

async function eachRow(topics: readonly string[], write: (topic: string) => Promise<boolean>): Promise<RowWrites> {
  const limit = pLimit(ROW_WRITE_CONCURRENCY);
  const outcomes = await Promise.allSettled(topics.map((topic) => limit(() => write(topic))));
  const changed = topics.filter((_, i) => outcomes[i].status === 'fulfilled' && (outcomes[i] as PromiseFulfilledResult<boolean>).value);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  return failed ? { changed, failure: failed.reason } : { changed };
}

/**
 * Attribute of a subscription row: the token of the subscribe request that last wrote it (a
 * UUID per request, see `newWriteToken`). It tells a request its own earlier write apart from
 * another's: the SDK retries a put whose response was lost, and the retry gets the first
 * attempt's row back as ALL_OLD. It also limits a rollback to rows no other request has written
 * since (and so reported as subscribed).
 */
export const WRITTEN_BY = 'writtenBy';

export const newWriteToken = (): string => randomUUID();

/**
 * Put one subscription row per topic, tagged with the request's `token`. `changed` are the rows
 * this request created: no old item came back, or the old item carries `token` (our own first
 * attempt, committed before the SDK retried it). Concurrent subscribes of one topic count it once.
 */
export function putSubscriptionRows(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  topics: readonly string[],
  attributes: Record<string, unknown>,
  token: string,
): Promise<RowWrites> {
  return eachRow(topics, async (topic) => {
    const result = await ddb.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...attributes, [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: topic, [TABLE.topicAttribute]: topic, [WRITTEN_BY]: token },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return result.Attributes === undefined || result.Attributes[WRITTEN_BY] === token;
  });
}

/**
 * Delete the subscription rows of these topics. `changed` are the rows that existed.
 * With `ownToken`, only rows still tagged with it are deleted (a rollback): a row another
 * request wrote since, or that is already gone, is left alone and is not in `changed`.
 */
export function deleteSubscriptionRows(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  connectionId: string,
  topics: readonly string[],
  ownToken?: string,
): Promise<RowWrites> {
  const onlyOwn = ownToken === undefined ? {} : { ConditionExpression: '#by = :token', ExpressionAttributeNames: { '#by': WRITTEN_BY }, ExpressionAttributeValues: { ':token': ownToken } };
  return eachRow(topics, async (topic) => {
    try {
      const result = await ddb.send(
        new DeleteCommand({
          TableName: tableName,
          Key: { [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: topic },
          ReturnValues: 'ALL_OLD',
          ...onlyOwn,
        }),
      );
      return result.Attributes !== undefined;
    } catch (error) {
      if (ownToken !== undefined && isConditionalCheckFailed(error)) return false;
      throw error;
    }
  });
}
