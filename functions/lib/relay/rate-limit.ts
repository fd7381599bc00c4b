/**
 * The client-publish rate limit: at most `perSecond` publishes per connection per second (a fixed
 * window of one second), counted on the connection's `$connection` item so that every Lambda
 * environment serving the connection shares it (API Gateway runs a connection's messages side
 * by side, in as many environments as it likes).
 *
 * One conditional UpdateItem per publish, which also returns the connection item (principal,
 * `publish` patterns): either the count goes up within the current second, or a new second
 * starts at 1 (tried first unless this environment already counted in this second). When both
 * conditions fail the second is full: RATE_LIMITED.
 *
 * A flood is turned away before it costs DynamoDB anything: each environment remembers the
 * seconds it saw full, per connection (a second this environment alone counted as full is full
 * everywhere), so a flooding client costs the others little more than its own CPU.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../../protocol/table';
import { isConditionalCheckFailed, type ConnectionItem } from '../connection-rows';

export type Slot = { kind: 'granted'; connection: ConnectionItem } | { kind: 'limited' } | { kind: 'unknown' };

/** Connections one environment remembers (a map cleared when it grows past this). */
const REMEMBERED = 10_000;

const NAMES = { '#pk': TABLE.partitionKey, '#w': TABLE.publishWindowAttribute, '#n': TABLE.publishCountAttribute };

export class PublishRateLimit {
  /** Per connection: the second this environment saw full. */
  private readonly full = new Map<string, number>();
  /** Per connection: the last second this environment counted a publish in. */
  private readonly counting = new Map<string, number>();

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one publish of this second for the connection. */
  async take(connectionId: string): Promise<Slot> {
    const second = Math.floor(this.now() / 1000);
    if (this.full.get(connectionId) === second) return { kind: 'limited' };
    const key = { [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: TABLE.connectionSortKey };
    const update = async (expression: string, condition: string, values: Record<string, unknown>) => {
      try {
        const out = await this.ddb.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return out.Attributes as ConnectionItem;
      } catch (error) {
        if (isConditionalCheckFailed(error)) return undefined;
        throw error;
      }
    };
    const increment = () => update('SET #n = #n + :one', 'attribute_exists(#pk) AND #w = :s AND #n < :limit', { ':one': 1, ':s': second, ':limit': this.perSecond });
    const startSecond = () => update('SET #w = :s, #n = :one', 'attribute_exists(#pk) AND (attribute_not_exists(#w) OR #w < :s)', { ':one': 1, ':s': second });
    // The likelier write first, so a client publishing about once a second costs one write, not a refused one and a second.
    const counted = this.counting.get(connectionId) === second ? ((await increment()) ?? (await startSecond())) : ((await startSecond()) ?? (await increment()));
    if (counted) {
      if (this.counting.size >= REMEMBERED) this.counting.clear();
      this.counting.set(connectionId, second);
      return { kind: 'granted', connection: counted };
    }
    // Both refused: the second is full, or there is no such connection.
    const item = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    if (!item.Item) return { kind: 'unknown' };
    if (this.full.size >= REMEMBERED) this.full.clear();
    this.full.set(connectionId, second);
    return { kind: 'limited' };
  }
}
