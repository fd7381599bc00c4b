/**
 * One rate budget for the whole stack: every invocation that posts to API Gateway (publish's
 * inline fan-out, the delivery function's slices and retries) takes its posts from a per-second
 * allowance shared through DynamoDB, so all concurrent invocations together stay under the
 * budget — API Gateway's 10,000 requests/s is per account and region, shared with every other
 * API there, and exceeding it throttles them too.
 *
 * Each second has one ledger item in the connections table (partition `$rate`, sort key = the
 * epoch second). An invocation leases a handful of posts at a time with a conditional ADD that
 * never takes the second's total past its cap, spends them locally, and leases again. A lease
 * is sized to the demand (posts waiting now, double the last lease of this second, or a quarter
 * of what it spent last second), so one busy invocation makes a few writes a second and an idle
 * one none. When the second is spent,
 * callers wait for the next. Posts left from a lease at the end of its second are lost (at most
 * one lease per invocation).
 *
 * Fairness: a caller may be given only a `share` of the budget. The delivery function takes
 * its slices with a share below 1, so one message's huge topic leaves the rest of each second
 * to other messages' small topics, which publish delivers inline with the whole budget.
 *
 * If the ledger cannot be reached the budget fails open (posts go on, logged): API Gateway's own
 * throttling, answered by the fan-out's AIMD back-off, still protects the account.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { TABLE } from '../../../protocol/table';
import { sleep as realSleep } from '../backoff';
import { isConditionalCheckFailed } from '../connection-rows';
import { describeError } from '../telemetry';

/** Ledger items outlive their second by this much, then TTL may remove them. */
export const LEDGER_TTL_SECONDS = 120;
/** A lease is at most this share of the caller's cap, so no one invocation hoards a second. */
export const MAX_LEASE_SHARE = 1 / 20;

export interface RateBudgetOptions {
  ddb: DynamoDBDocumentClient;
  /** The connections table, which holds the ledger. */
  tableName: string;
  /** Posts per second for the whole stack. */
  perSecond: number;
  /** The share of `perSecond` this caller may use (0 < share ≤ 1). */
  share?: number;
  logger?: Logger;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class RateBudget {
  /** What the invocation did with the ledger, for logs and metrics. */
  readonly stats = { leases: 0, granted: 0, waits: 0, failures: 0 };
  private readonly cap: number;
  private readonly maxLease: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private window = -1;
  private left = 0;
  private spentThisWindow = 0;
  private spentLastWindow = 0;
  private lastLease = 0;
  private waiting = 0;
  private leasing?: Promise<void>;

  constructor(private readonly options: RateBudgetOptions) {
    const share = options.share ?? 1;
    if (!(share > 0 && share <= 1)) throw new RangeError(`share must be in (0, 1], got ${share}`);
    this.cap = Math.max(1, Math.floor(options.perSecond * share));
    this.maxLease = Math.max(1, Math.ceil(this.cap * MAX_LEASE_SHARE));
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  /** Resolves once one post may be sent. */
  async take(): Promise<void> {
    this.waiting++;
    try {
      for (;;) {
        const second = Math.floor(this.now() / 1000);
        if (second !== this.window) this.turn(second);
        if (this.left > 0) {
          this.left--;
          this.spentThisWindow++;
          return;
        }
        // One lease at a time per invocation; everyone waiting shares it.
        await (this.leasing ??= this.lease(second).finally(() => (this.leasing = undefined)));
      }
    } finally {
      this.waiting--;
    }
  }

  private turn(second: number): void {
    this.spentLastWindow = second === this.window + 1 ? this.spentThisWindow : 0;
    this.spentThisWindow = 0;
    this.lastLease = 0;
    this.window = second;
    this.left = 0;
  }

  /** Lease posts for `second`, halving the request while the ledger has less room; wait for the next second when it has none. */
  private async lease(second: number): Promise<void> {
    let n = Math.min(this.maxLease, Math.max(1, this.waiting, this.lastLease * 2, Math.ceil(this.spentLastWindow / 4)));
    for (; n >= 1; n = Math.floor(n / 2)) {
      try {
        await this.options.ddb.send(
          new UpdateCommand({
            TableName: this.options.tableName,
            Key: { [TABLE.partitionKey]: TABLE.rateLedgerPartition, [TABLE.sortKey]: String(second) },
            UpdateExpression: 'ADD #used :n SET #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(#used) OR #used <= :room',
            ExpressionAttributeNames: { '#used': TABLE.rateUsedAttribute, '#ttl': TABLE.ttlAttribute },
            ExpressionAttributeValues: { ':n': n, ':room': this.cap - n, ':ttl': second + LEDGER_TTL_SECONDS },
          }),
        );
        this.grant(second, n);
        return;
      } catch (error) {
        if (isConditionalCheckFailed(error)) continue;
        this.stats.failures++;
        this.options.logger?.warn('rate budget ledger unavailable: posting without it', { error: describeError(error) });
        this.grant(second, n);
        return;
      }
    }
    this.stats.waits++;
    await this.sleep(Math.max(1, (second + 1) * 1000 - this.now()));
  }

  private grant(second: number, n: number): void {
    this.stats.leases++;
    this.stats.granted += n;
    if (second < this.window) return; // leased for a second that is over: useless now
    if (second !== this.window) this.turn(second);
    this.left += n;
    this.lastLease = n;
  }
}
