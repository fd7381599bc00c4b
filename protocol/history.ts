/**
 * The history table: every topic's stream of messages, so a subscriber that lost its socket can
 * resume from its last position (DESIGN.md, "Message continuity"). One table holds three kinds
 * of item, all keyed (topic, seq):
 *   stream    (topic, seq = 0)         head (the last seq given out), epoch, expiresAt
 *   message   (topic, seq ≥ 1)         id, frame (the delivered frame, as sent), writtenAt, expiresAt
 *   claim     (topic#id, seq = 0)      claimedSeq, epoch, expiresAt — which seq a message id got,
 *                                      so a redelivered envelope keeps its first seq
 * `#` is not a topic character, so a claim's key never equals a topic.
 */

export const HISTORY = {
  partitionKey: 'topic',
  sortKey: 'seq',
  /** The stream item's sort key; messages start at 1. */
  streamSeq: 0,
  headAttribute: 'head',
  epochAttribute: 'epoch',
  idAttribute: 'id',
  frameAttribute: 'frame',
  writtenAtAttribute: 'writtenAt',
  claimedSeqAttribute: 'claimedSeq',
  ttlAttribute: 'expiresAt',
} as const;

/** Where a subscriber stands in a topic's stream. `epoch` names the stream; seq 0 = before the first message. */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

export const HISTORY_DEFAULTS = {
  /**
   * How long messages stay replayable. An hour covers what drops sockets in practice (network
   * changes, sleeping tabs, deploys, the 2-hour cap's reconnect) with room to spare; longer
   * outages are a reload, which the client is told about (`recovered: false`).
   */
  retentionSeconds: 3600,
  /** Most messages kept per topic: bounds a topic's storage and a resume's replay. */
  maxMessages: 1000,
} as const;

/** A stream item outlives its messages by this much: its epoch must not change while positions in it may still be resumed. */
export const STREAM_TTL_SECONDS = 30 * 24 * 3600;

/** The partition key of the claim of message `id` on `topic`. */
export function claimKey(topic: string, id: string): string {
  return `${topic}#${id}`;
}

/** The history table as a DynamoDB CreateTable request (plain data): the local mode creates it as is, the component maps it. */
export function createHistoryTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: HISTORY.partitionKey, AttributeType: 'S' as const },
      { AttributeName: HISTORY.sortKey, AttributeType: 'N' as const },
    ],
    KeySchema: [
      { AttributeName: HISTORY.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: HISTORY.sortKey, KeyType: 'RANGE' as const },
    ],
  };
}
