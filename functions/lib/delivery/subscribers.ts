/**
 * A topic's subscribers, page by page, from the sparse `byTopic` index (never a Scan). The
 * queries of one invocation share a small bound (TOPIC_QUERY_CONCURRENCY), however many topics
 * and records it publishes: an envelope naming a hundred topics must not open a hundred queries
 * at once against the DynamoDB client's socket pool, where they would time out waiting.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { TABLE } from '../../../protocol/table';

/** byTopic queries in flight per invocation; well under the DynamoDB client's 50 sockets, which 410 cleanups share. */
export const TOPIC_QUERY_CONCURRENCY = 16;

export class SubscriberReader {
  private readonly queries = pLimit(TOPIC_QUERY_CONCURRENCY);

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * The connection ids subscribed to `topic`, a page at a time. `stop()` is asked once a query
   * has its slot (which it may have waited for): true ends the pages early (the caller's
   * deadline) and the generator returns `'stopped'`.
   */
  async *pages(topic: string, stop: () => boolean = () => false): AsyncGenerator<string[], 'done' | 'stopped'> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const query = new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE.topicIndex,
        KeyConditionExpression: '#topic = :topic',
        ExpressionAttributeNames: { '#topic': TABLE.topicAttribute },
        ExpressionAttributeValues: { ':topic': topic },
        ExclusiveStartKey: startKey,
      });
      const page = await this.queries(() => (stop() ? undefined : this.ddb.send(query)));
      if (!page) return 'stopped';
      yield (page.Items ?? []).map((item) => String(item[TABLE.partitionKey]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return 'done';
  }
}
