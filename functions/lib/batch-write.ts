/**
 * BatchWriteItem for any number of puts/deletes: 25 requests per call (DynamoDB's limit), with
 * UnprocessedItems retried after exponential backoff with jitter, a bounded number of times.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { fullJitterDelay, sleep } from './backoff';

export const BATCH_WRITE_LIMIT = 25;

export interface BatchWriteRetry {
  /** Calls per chunk, the first included. */
  maxAttempts: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BATCH_WRITE_RETRY: BatchWriteRetry = { maxAttempts: 8, baseMs: 25, capMs: 1000 };

type WriteRequest = NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string][number];

export class UnprocessedItemsError extends Error {
  constructor(
    readonly tableName: string,
    readonly unprocessed: number,
    attempts: number,
  ) {
    super(`BatchWriteItem on ${tableName} still left ${unprocessed} unprocessed item(s) after ${attempts} attempts`);
    this.name = 'UnprocessedItemsError';
  }
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Write every request; throws UnprocessedItemsError when DynamoDB keeps refusing some. */
export async function batchWriteAll(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
  retry: BatchWriteRetry = DEFAULT_BATCH_WRITE_RETRY,
): Promise<void> {
  for (const part of chunk(requests, BATCH_WRITE_LIMIT)) {
    let pending: WriteRequest[] = part;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > retry.maxAttempts) throw new UnprocessedItemsError(tableName, pending.length, retry.maxAttempts);
      if (attempt > 1) await sleep(fullJitterDelay(attempt - 1, retry.baseMs, retry.capMs));
      const result = await ddb.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = result.UnprocessedItems?.[tableName] ?? [];
    }
  }
}
