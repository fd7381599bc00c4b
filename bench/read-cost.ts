/**
 * Read cost per publish: how much of the table one publish reads to find a topic's subscribers.
 * Ours queries the sparse byTopic GSI; the article's approach Scans the whole table with a
 * FilterExpression. Capacity is what dynalite reports (ReturnConsumedCapacity TOTAL): it applies
 * DynamoDB's rules, i.e. the size of every item read per request, rounded up to 4 KB units,
 * halved for eventually consistent reads.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE } from '../protocol/table';
import { startLocalDynamo } from './lib/local-dynamo';
import type { Progress } from './lib/progress';
import { topicQuery } from './lib/topic-query';
import { connectionItem, fakeConnectionId, putItems, subscriptionItem, type Item } from './lib/rows';

export interface ReadCostOptions {
  /** Subscription-row counts to measure, ascending; the table grows from one to the next. */
  tableRows: readonly number[];
  /** Subscribers of the published topic. */
  topicSubscribers: number;
  /** Subscriptions per connection (each connection also has its own `$connection` item). */
  subscriptionsPerConnection: number;
  progress: Progress;
}

export interface ReadMeasurement {
  method: 'query' | 'scan';
  /** Requests made (pages). */
  requests: number;
  /** Items DynamoDB read (ScannedCount summed over pages). */
  itemsRead: number;
  /** Subscribers found (Count summed over pages). */
  subscribersFound: number;
  /** Read capacity units consumed, summed over pages. */
  capacityUnits: number;
  ms: number;
}

export interface ReadCostRow {
  subscriptionRows: number;
  /** Subscription rows plus connection items. */
  tableItems: number;
  query: ReadMeasurement;
  scan: ReadMeasurement;
  /** Subscribers the article's sample reaches as written: it reads only the Scan's first page. */
  scanFirstPageSubscribers: number;
}

export const HOT_TOPIC = 'bench/hot';

export async function runReadCost(options: ReadCostOptions): Promise<ReadCostRow[]> {
  const { tableRows, topicSubscribers, subscriptionsPerConnection: perConnection, progress } = options;
  if (tableRows.some((rows, i) => i > 0 && rows <= tableRows[i - 1])) throw new Error('tableRows must be ascending');
  if (tableRows[0] < topicSubscribers * perConnection) {
    throw new Error(`the smallest table needs at least ${topicSubscribers * perConnection} rows for ${topicSubscribers} subscribers`);
  }
  const dynamo = await startLocalDynamo();
  try {
    const rows: ReadCostRow[] = [];
    let seeded = 0;
    let tableItems = 0;
    let otherTopic = 0;
    const now = Date.now();
    for (const target of tableRows) {
      progress(`read cost: seeding ${target.toLocaleString('en-US')} subscription rows`);
      const items: Item[] = [];
      while (seeded < target) {
        const connectionId = fakeConnectionId();
        items.push(connectionItem(connectionId, now));
        tableItems++;
        // The first `topicSubscribers` connections also subscribe to the published topic.
        const hot = seeded < topicSubscribers * perConnection;
        for (let k = 0; k < perConnection && seeded < target; k++, seeded++) {
          // About 50 subscribers per other topic; consecutive topics, so one connection's are distinct.
          const topic = hot && k === 0 ? HOT_TOPIC : `bench/topic-${otherTopic++ % Math.max(perConnection, Math.floor(target / 50))}`;
          items.push(subscriptionItem(connectionId, topic, now));
          tableItems++;
        }
      }
      await putItems(dynamo.client, dynamo.tableName, items);
      progress(`read cost: measuring Query vs Scan on ${tableItems.toLocaleString('en-US')} items`);
      const query = await queryTopic(dynamo.client, dynamo.tableName, HOT_TOPIC);
      const scan = await scanTopic(dynamo.client, dynamo.tableName, HOT_TOPIC);
      const firstPage = await scanTopic(dynamo.client, dynamo.tableName, HOT_TOPIC, 1);
      rows.push({ subscriptionRows: seeded, tableItems, query, scan, scanFirstPageSubscribers: firstPage.subscribersFound });
    }
    return rows;
  } finally {
    await dynamo.close();
  }
}

/** Our publish path: the byTopic GSI, page by page. */
export async function queryTopic(client: DynamoDBClient, tableName: string, topic: string): Promise<ReadMeasurement> {
  return paginate('query', (start) => client.send(topicQuery(tableName, topic, start)));
}

/** The article's path: Scan the whole table, filter on the topic, keep only the connection id. */
export async function scanTopic(client: DynamoDBClient, tableName: string, topic: string, maxPages = Infinity): Promise<ReadMeasurement> {
  return paginate(
    'scan',
    (ExclusiveStartKey) =>
      client.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: '#topic = :topic',
          ProjectionExpression: '#id',
          ExpressionAttributeNames: { '#topic': TABLE.topicAttribute, '#id': TABLE.partitionKey },
          ExpressionAttributeValues: { ':topic': { S: topic } },
          ReturnConsumedCapacity: 'TOTAL',
          ExclusiveStartKey,
        }),
      ),
    maxPages,
  );
}

interface Page {
  Count?: number;
  ScannedCount?: number;
  ConsumedCapacity?: { CapacityUnits?: number };
  LastEvaluatedKey?: Record<string, AttributeValue>;
}

async function paginate(
  method: ReadMeasurement['method'],
  fetchPage: (start: Record<string, AttributeValue> | undefined) => Promise<Page>,
  maxPages = Infinity,
): Promise<ReadMeasurement> {
  const result: ReadMeasurement = { method, requests: 0, itemsRead: 0, subscribersFound: 0, capacityUnits: 0, ms: 0 };
  const started = performance.now();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await fetchPage(start);
    const units = page.ConsumedCapacity?.CapacityUnits;
    if (units === undefined) throw new Error(`${method} returned no ConsumedCapacity: cannot report read cost`);
    result.requests++;
    result.itemsRead += page.ScannedCount ?? 0;
    result.subscribersFound += page.Count ?? 0;
    result.capacityUnits += units;
    start = page.LastEvaluatedKey;
  } while (start && result.requests < maxPages);
  result.ms = performance.now() - started;
  return result;
}
