/**
 * Reading a topic's stream for a subscriber: where it stands now, and what a resuming subscriber
 * missed (DESIGN.md, "Message continuity").
 *
 * A resume from `since` is recovered when the stream is the same (epoch) and nothing after
 * `since.seq` — the last message the subscriber had — has been dropped: retention drops messages
 * in seq order (the count limit drops the oldest; TTL follows write time, which follows seq), so
 * it is enough that the oldest message still retained from `since.seq` on is `since.seq` itself
 * or the one right after it. A seq between it and the head that has
 * no message is then a hole (a seq given out but never used, see sequencer.ts) or a message
 * being written right now, which reaches the subscriber live or on its next resume; never a
 * loss. That is why the oldest retained message, not a count of items, decides `recovered`.
 *
 * Frames are handed over page by page, in seq order, so a replay of any size is never held in
 * memory whole nor truncated; the caller may stop early (its deadline), and the position it
 * gets back is then the last seq it was given, so the subscriber resumes from there.
 */
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { HISTORY, STREAM_TTL_SECONDS, type StreamPosition } from '../../../protocol/history';
import { newEpoch } from './sequencer';
import { expiresAfter, type HistorySettings } from './settings';

/** A resume request: `epoch` may be left out to mean "the current stream". */
export interface Since {
  epoch?: string;
  seq: number;
}

export interface Resumed {
  /** Where the subscriber stands once the frames handed over are delivered. */
  position: StreamPosition;
  /** Every retained message after `since` was handed over (or is on its way live). */
  recovered: boolean;
  /** Frames handed over. */
  replayed: number;
}

/** Messages per Query page: a page's frames are posted before the next page is read. */
export const REPLAY_PAGE_ITEMS = 100;

export class StreamReader {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly settings: HistorySettings,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** The topic's position now; creates its stream (and epoch) when nothing was ever published to it, so subscribers and publishers agree on the epoch. */
  async position(topic: string): Promise<StreamPosition> {
    const key = { [HISTORY.partitionKey]: topic, [HISTORY.sortKey]: HISTORY.streamSeq };
    const { Item } = await this.ddb.send(new GetCommand({ TableName: this.settings.tableName, Key: key, ConsistentRead: true }));
    if (Item && typeof Item[HISTORY.epochAttribute] === 'string') return toPosition(Item);
    const { Attributes } = await this.ddb.send(
      new UpdateCommand({
        TableName: this.settings.tableName,
        Key: key,
        UpdateExpression: 'SET #epoch = if_not_exists(#epoch, :epoch), #head = if_not_exists(#head, :zero), #ttl = if_not_exists(#ttl, :ttl)',
        ExpressionAttributeNames: { '#head': HISTORY.headAttribute, '#epoch': HISTORY.epochAttribute, '#ttl': HISTORY.ttlAttribute },
        ExpressionAttributeValues: { ':epoch': newEpoch(), ':zero': 0, ':ttl': expiresAfter(this.nowMs(), STREAM_TTL_SECONDS) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toPosition(Attributes ?? {});
  }

  /**
   * Hand over, page by page, every retained frame after `since` up to the head; `onFrames`
   * resolves false to stop early (the position returned is then the last seq handed over).
   */
  async resume(topic: string, since: Since, onFrames: (frames: string[]) => Promise<boolean>): Promise<Resumed> {
    const head = await this.position(topic);
    const sameStream = since.epoch === undefined || since.epoch === head.epoch;
    if (!sameStream || since.seq > head.seq) return { position: head, recovered: false, replayed: 0 };
    if (since.seq === head.seq) return { position: head, recovered: true, replayed: 0 };

    const now = this.nowMs();
    const retained = (item: Record<string, unknown>) => Number(item[HISTORY.ttlAttribute] ?? Infinity) * 1000 > now;
    let recovered: boolean | undefined;
    let replayed = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.ddb.send(
        new QueryCommand({
          TableName: this.settings.tableName,
          KeyConditionExpression: '#pk = :topic AND #seq BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': HISTORY.partitionKey, '#seq': HISTORY.sortKey },
          ExpressionAttributeValues: { ':topic': topic, ':from': Math.max(since.seq, 1), ':to': head.seq },
          ConsistentRead: true,
          Limit: REPLAY_PAGE_ITEMS,
          ExclusiveStartKey: startKey,
        }),
      );
      const items = (page.Items ?? []).filter(retained);
      // Without the anchor the app must reload its state; older frames would only be applied twice.
      recovered ??= items.length > 0 && Number(items[0][HISTORY.sortKey]) <= since.seq + 1;
      if (!recovered) return { position: head, recovered: false, replayed: 0 };
      const after = items.filter((item) => Number(item[HISTORY.sortKey]) > since.seq);
      if (after.length > 0) {
        const keepGoing = await onFrames(after.map((item) => String(item[HISTORY.frameAttribute])));
        replayed += after.length;
        if (!keepGoing) return { position: { epoch: head.epoch, seq: Number(after[after.length - 1][HISTORY.sortKey]) }, recovered, replayed };
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { position: head, recovered: true, replayed };
  }
}

function toPosition(item: Record<string, unknown>): StreamPosition {
  return { epoch: String(item[HISTORY.epochAttribute]), seq: Number(item[HISTORY.headAttribute] ?? 0) };
}
