/**
 * Giving each message of a topic its place in the topic's stream, once, and keeping it there for
 * replay (DESIGN.md, "Message continuity").
 *
 * assign: a message id first looks for its claim (a redelivered envelope keeps the seq it got
 * the first time); else it takes the next seq from the stream item (an atomic ADD, which also
 * creates the stream and its epoch on first use) and claims it with a conditional put. Two
 * deliveries of one id racing each other both take a seq, one claim wins and both use its seq:
 * the loser's seq stays a hole, which the client skips (a hole is never a loss: see replay.ts).
 * A claim comes before the message is written, so a crash between the two is repaired by the
 * redelivery, which finds the claim and writes the message again (an idempotent put).
 *
 * retain: writes the message item (the frame exactly as delivered) and drops the one that fell
 * out of the count limit. Age is left to TTL, with `expiresAt` taken from the write time, which
 * follows seq order (a message's SQS send time does not: a backlog can hold an old one back).
 */
import { randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { claimKey, HISTORY, STREAM_TTL_SECONDS, type StreamPosition } from '../../../protocol/history';
import { isConditionalCheckFailed } from '../connection-rows';
import { expiresAfter, type HistorySettings } from './settings';

export interface Assigned extends StreamPosition {
  /** An earlier delivery of this id already got this seq. */
  repeated: boolean;
}

/** A new stream's name: random, so a stream recreated after its item was lost never matches old positions. */
export const newEpoch = (): string => randomBytes(6).toString('base64url');

export class Sequencer {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly settings: HistorySettings,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async assign(topic: string, id: string): Promise<Assigned> {
    const claimed = await this.readClaim(topic, id);
    if (claimed) return { ...claimed, repeated: true };
    const next = await this.takeNext(topic);
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.settings.tableName,
          Item: {
            [HISTORY.partitionKey]: claimKey(topic, id),
            [HISTORY.sortKey]: HISTORY.streamSeq,
            [HISTORY.claimedSeqAttribute]: next.seq,
            [HISTORY.epochAttribute]: next.epoch,
            [HISTORY.ttlAttribute]: expiresAfter(this.nowMs(), this.settings.retentionSeconds),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': HISTORY.partitionKey },
        }),
      );
      return { ...next, repeated: false };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      // Another delivery of this id claimed first: use its seq (ours stays a hole).
      const winner = await this.readClaim(topic, id);
      if (!winner) throw new Error(`claim of message ${id} on ${topic} vanished while it was being read`);
      return { ...winner, repeated: true };
    }
  }

  /** Keep the delivered frame for replay and drop the message the count limit pushes out (both at once: they touch different items). */
  async retain(topic: string, seq: number, id: string, frame: string): Promise<void> {
    const now = this.nowMs();
    const dropped = seq - this.settings.maxMessages;
    await Promise.all([
      this.ddb.send(
        new PutCommand({
          TableName: this.settings.tableName,
          Item: {
            [HISTORY.partitionKey]: topic,
            [HISTORY.sortKey]: seq,
            [HISTORY.idAttribute]: id,
            [HISTORY.frameAttribute]: frame,
            [HISTORY.writtenAtAttribute]: now,
            [HISTORY.ttlAttribute]: expiresAfter(now, this.settings.retentionSeconds),
          },
        }),
      ),
      dropped >= 1 ? this.ddb.send(new DeleteCommand({ TableName: this.settings.tableName, Key: { [HISTORY.partitionKey]: topic, [HISTORY.sortKey]: dropped } })) : undefined,
    ]);
  }

  private async readClaim(topic: string, id: string): Promise<StreamPosition | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.settings.tableName,
        Key: { [HISTORY.partitionKey]: claimKey(topic, id), [HISTORY.sortKey]: HISTORY.streamSeq },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    return { seq: Number(Item[HISTORY.claimedSeqAttribute]), epoch: String(Item[HISTORY.epochAttribute]) };
  }

  /** The next seq of the topic: ADD on the stream item, which creates it (with a new epoch) on first use. */
  private async takeNext(topic: string): Promise<StreamPosition> {
    const { Attributes } = await this.ddb.send(
      new UpdateCommand({
        TableName: this.settings.tableName,
        Key: { [HISTORY.partitionKey]: topic, [HISTORY.sortKey]: HISTORY.streamSeq },
        UpdateExpression: 'ADD #head :one SET #epoch = if_not_exists(#epoch, :epoch), #ttl = :ttl',
        ExpressionAttributeNames: { '#head': HISTORY.headAttribute, '#epoch': HISTORY.epochAttribute, '#ttl': HISTORY.ttlAttribute },
        ExpressionAttributeValues: { ':one': 1, ':epoch': newEpoch(), ':ttl': expiresAfter(this.nowMs(), STREAM_TTL_SECONDS) },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return { seq: Number(Attributes?.[HISTORY.headAttribute]), epoch: String(Attributes?.[HISTORY.epochAttribute]) };
  }
}
