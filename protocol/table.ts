/**
 * The connections table: key schema, index and TTL. One table holds two kinds of item:
 *   connection   (connectionId, sk = "$connection")  connectedAt, principal, allowedTopics, sourceIp,
 *                                                    subscriptionCount, expiresAt
 *   subscription (connectionId, sk = <topic>)        topic, subscribedAt, expiresAt
 * Only subscriptions carry `topic`, so the byTopic index is sparse.
 */
export const TABLE = {
  partitionKey: 'connectionId',
  sortKey: 'sk',
  connectionSortKey: '$connection',
  topicIndex: 'byTopic',
  topicAttribute: 'topic',
  ttlAttribute: 'expiresAt',
  /** On the connection item: subscriptions held, reserved atomically so the cap holds under concurrency. */
  subscriptionCountAttribute: 'subscriptionCount',
  /**
   * The stack's shared rate budget (functions/lib/delivery/rate-budget.ts): one item per second
   * in this partition, sort key = the epoch second. API Gateway connection ids never contain `$`.
   */
  rateLedgerPartition: '$rate',
  rateUsedAttribute: 'used',
  /**
   * Presence (functions/lib/presence/): one partition per presence topic, `$presence:<topic>`,
   * holding a member item per principal (sort key `member:<principal>`: its live connection ids
   * as a string set, its data, expiresAt) and the member count (sort key `$count`). They carry no
   * `topic` attribute, so they never show in byTopic.
   */
  presencePartitionPrefix: '$presence:',
  presenceMemberPrefix: 'member:',
  presenceCountSortKey: '$count',
  /** On the `$connection` item: the client-publish rate window (epoch second) and the publishes in it (relay). */
  publishWindowAttribute: 'publishWindow',
  publishCountAttribute: 'publishCount',
} as const;

/** API Gateway closes every connection after 2 hours; rows live 15 minutes longer, then TTL may take them. */
export const MAX_CONNECTION_SECONDS = 2 * 60 * 60;
export const TTL_MARGIN_SECONDS = 15 * 60;

/** Epoch seconds after which a row written at `nowMs` may be removed by TTL. */
export function expiresAtFor(nowMs: number): number {
  return Math.floor(nowMs / 1000) + MAX_CONNECTION_SECONDS + TTL_MARGIN_SECONDS;
}

/**
 * The table as a DynamoDB CreateTable request (plain data, no SDK import): the local mode creates
 * it as is, the Pulumi component maps it onto aws.dynamodb.Table.
 */
export function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE.sortKey, AttributeType: 'S' as const },
      { AttributeName: TABLE.topicAttribute, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: TABLE.topicIndex,
        KeySchema: [
          { AttributeName: TABLE.topicAttribute, KeyType: 'HASH' as const },
          { AttributeName: TABLE.partitionKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' as const },
      },
    ],
  };
}
