/**
 * DynamoDB's Time to Live for dynalite, which has none: every `intervalMs` a sweep scans the table
 * for items whose TTL attribute (a Number, epoch seconds) is in the past and deletes them, so rows
 * of connections whose $disconnect never ran go away as they do in AWS.
 *
 * AWS deletes expired items lazily, in the background, typically within a few days; until then
 * they still show in reads. The sweep interval is therefore a local setting, not a promise AWS
 * makes: code must never rely on a row being gone at `expiresAt`.
 *
 * As in DynamoDB, an item whose TTL attribute is missing or not a Number never expires, and an
 * item whose TTL was moved into the future before the delete reached it stays (conditional delete).
 * Deletes go one at a time and the scan reads small pages: dynalite serves one request at a time,
 * and the sweep must not hold it (and the process's one event loop) away from the handlers.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './constants';

/** Items one Scan request examines, by default. */
const SCAN_PAGE_ITEMS = 500;

export interface TtlSweeperOptions {
  endpoint: string;
  tableName: string;
  /** The TTL attribute (epoch seconds). */
  attribute: string;
  /** The table's key attributes: all a delete needs. */
  keys: readonly string[];
  intervalMs: number;
  /** Items one Scan request examines (default 500). */
  scanPageItems?: number;
  /** A sweep failed (dynalite closing, ...); the next one tries again. */
  onError?: (error: unknown) => void;
  /** Clock, epoch milliseconds (tests). */
  now?: () => number;
}

export interface TtlSweeper {
  /** One sweep now; resolves with the number of items it deleted. Sweeps never overlap. */
  sweep(): Promise<number>;
  /** Items deleted so far. */
  deleted(): number;
  /** Stops the timer and waits for a running sweep. */
  stop(): Promise<void>;
}

export function startTtlSweeper(options: TtlSweeperOptions): TtlSweeper {
  if (!Number.isFinite(options.intervalMs) || options.intervalMs <= 0) throw new RangeError(`the TTL sweep interval must be > 0 ms, got ${options.intervalMs}`);
  const client = new DynamoDBClient({ endpoint: options.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const now = options.now ?? Date.now;
  const names: Record<string, string> = { '#ttl': options.attribute };
  const projection = options.keys.map((key, i) => {
    names[`#k${i}`] = key;
    return `#k${i}`;
  });
  let total = 0;
  let stopped = false;
  let running: Promise<number> | undefined;

  const runSweep = async (): Promise<number> => {
    const values = { ':now': { N: String(Math.floor(now() / 1000)) } };
    let deleted = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: options.tableName,
          // A comparison with a Number is false for any other type: those items never expire.
          FilterExpression: '#ttl < :now',
          ProjectionExpression: projection.join(', '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: start,
          Limit: options.scanPageItems ?? SCAN_PAGE_ITEMS,
        }),
      );
      for (const key of page.Items ?? []) {
        if (stopped) return deleted;
        try {
          await client.send(
            new DeleteItemCommand({
              TableName: options.tableName,
              Key: key,
              ConditionExpression: '#ttl < :now',
              ExpressionAttributeNames: { '#ttl': options.attribute },
              ExpressionAttributeValues: values,
            }),
          );
          deleted++;
          total++;
        } catch (error) {
          // Gone meanwhile, or its TTL moved into the future: not expired any more.
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
      start = page.LastEvaluatedKey;
    } while (start && !stopped);
    return deleted;
  };

  const sweep = (): Promise<number> => {
    running ??= runSweep().finally(() => (running = undefined));
    return running;
  };

  const timer = setInterval(() => {
    sweep().catch((error: unknown) => {
      if (!stopped) options.onError?.(error);
    });
  }, options.intervalMs);
  timer.unref();

  return {
    sweep,
    deleted: () => total,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
      client.destroy();
    },
  };
}
