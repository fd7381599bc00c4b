/**
 * The shared rate budget against dynalite (conditional ADD as DynamoDB evaluates it), on a
 * hand-moved clock: several invocations together never exceed a second's cap, a share caps a
 * caller below it, the next second starts afresh, and a ledger outage fails open.
 */
import { expect } from 'chai';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { RateBudget } from '../../functions/lib/delivery/rate-budget';
import { createTableInput, TABLE } from '../../protocol/table';
import { withDynalite } from './dynalite';

describe('RateBudget (one posts/s budget shared by every invocation)', () => {
  const dynamo = withDynalite();
  let tableName: string;
  let n = 0;
  const clock = { ms: 0 };
  /** Sleeping moves the hand-moved clock, so a wait for the next second takes no real time. */
  const sleep = async (ms: number) => {
    clock.ms += ms;
  };

  beforeEach(async () => {
    tableName = `connections-${++n}`;
    await dynamo.createTable(createTableInput(tableName));
    clock.ms = 1_000_000_000_500; // half way through a second
  });

  const budget = (perSecond: number, share = 1) => new RateBudget({ ddb: dynamo.ddb, tableName, perSecond, share, now: () => clock.ms, sleep });
  const ledger = async (second: number) =>
    (await dynamo.ddb.send(new GetCommand({ TableName: tableName, Key: { [TABLE.partitionKey]: TABLE.rateLedgerPartition, [TABLE.sortKey]: String(second) } }))).Item?.[TABLE.rateUsedAttribute];

  /** Takes `count` posts from `b` with `concurrency` callers at once; returns the second each one was granted in. */
  async function takeMany(b: RateBudget, count: number, concurrency = 16): Promise<number[]> {
    const seconds: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++;
          await b.take();
          seconds.push(Math.floor(clock.ms / 1000));
        }
      }),
    );
    return seconds;
  }
  const perSecondCounts = (seconds: number[]) => {
    const counts = new Map<number, number>();
    for (const s of seconds) counts.set(s, (counts.get(s) ?? 0) + 1);
    return [...counts.values()];
  };

  it('three invocations sharing 100/s are granted at most 100 posts in any second, together', async () => {
    const start = Math.floor(clock.ms / 1000);
    const all = (await Promise.all([takeMany(budget(100), 150), takeMany(budget(100), 150), takeMany(budget(100), 150)])).flat();
    expect(all).to.have.length(450);
    for (const count of perSecondCounts(all)) expect(count).to.be.at.most(100);
    expect(await ledger(start)).to.be.at.most(100);
    expect(Math.max(...all) - start).to.be.at.least(4); // 450 posts at 100/s need 5 seconds
  });

  it('a share caps a caller below the budget, leaving the rest to others in the same second', async () => {
    const start = Math.floor(clock.ms / 1000);
    const sliced = budget(100, 0.75);
    await takeMany(sliced, 75);
    expect(Math.floor(clock.ms / 1000)).to.equal(start); // 75 fit in this second
    const inline = budget(100);
    await takeMany(inline, 25);
    expect(Math.floor(clock.ms / 1000)).to.equal(start); // and 25 more for the whole-budget caller
    await takeMany(sliced, 1);
    expect(Math.floor(clock.ms / 1000)).to.equal(start + 1); // the sliced caller had to wait for the next second
  });

  it('leases a few times a second, not once per post', async () => {
    const b = budget(1000);
    await takeMany(b, 600);
    expect(b.stats.leases).to.be.below(60);
    expect(b.stats.granted).to.be.at.least(600);
  });

  it('fails open when the ledger cannot be reached, and says so', async () => {
    const warnings: string[] = [];
    const b = new RateBudget({ ddb: dynamo.ddb, tableName: 'no-such-table', perSecond: 10, now: () => clock.ms, sleep, logger: { warn: (m: string) => warnings.push(m) } as never });
    await takeMany(b, 30);
    expect(b.stats.failures).to.be.greaterThan(0);
    expect(warnings[0]).to.match(/rate budget ledger unavailable/);
  });
});
