/**
 * Rows of the connections table exactly as the handlers write them (protocol/table.ts), for
 * seeding benchmark tables quickly with BatchWriteItem instead of thousands of route calls.
 */
import { randomBytes } from 'node:crypto';
import { BatchWriteItemCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { TABLE, expiresAtFor } from '../../protocol/table';

export type Item = Record<string, AttributeValue>;

/** An id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`: 11 random bytes, base64). */
export function fakeConnectionId(): string {
  return randomBytes(11).toString('base64');
}

export function connectionItem(connectionId: string, nowMs: number, sourceIp = '127.0.0.1'): Item {
  return {
    [TABLE.partitionKey]: { S: connectionId },
    [TABLE.sortKey]: { S: TABLE.connectionSortKey },
    connectedAt: { S: new Date(nowMs).toISOString() },
    sourceIp: { S: sourceIp },
    [TABLE.ttlAttribute]: { N: String(expiresAtFor(nowMs)) },
  };
}

export function subscriptionItem(connectionId: string, topic: string, nowMs: number): Item {
  return {
    [TABLE.partitionKey]: { S: connectionId },
    [TABLE.sortKey]: { S: topic },
    [TABLE.topicAttribute]: { S: topic },
    subscribedAt: { S: new Date(nowMs).toISOString() },
    [TABLE.ttlAttribute]: { N: String(expiresAtFor(nowMs)) },
  };
}

const BATCH_SIZE = 25; // BatchWriteItem's limit

/** Puts every item, 25 per request, `concurrency` requests at once, retrying UnprocessedItems. */
export async function putItems(client: DynamoDBClient, tableName: string, items: readonly Item[], concurrency = 8): Promise<void> {
  const limit = pLimit(concurrency);
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += BATCH_SIZE) {
    batches.push(items.slice(i, i + BATCH_SIZE).map((Item) => ({ PutRequest: { Item } })));
  }
  await Promise.all(batches.map((batch) => limit(() => writeBatch(client, tableName, batch))));
}

async function writeBatch(client: DynamoDBClient, tableName: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > 8) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after 8 attempts`);
    if (attempt > 1) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
    pending = out.UnprocessedItems?.[tableName] ?? [];
  }
}
