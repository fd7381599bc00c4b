import { expect } from 'chai';
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { parseCli } from '../../local/cli-options';
import { startTtlSweeper } from '../../local/dynamo-ttl';
import { startLocal, type LocalSystem } from '../../local/system';
import { TABLE } from '../../protocol/table';
import { eventually, rowsOf, scanTable, sdkClients, subscribersOf } from './system-helpers';

describe('local DynamoDB TTL (dynalite has none)', () => {
  let system: LocalSystem;
  let aws: ReturnType<typeof sdkClients>;

  before(async () => {
    system = await startLocal({ quiet: true, ttlSweepIntervalMs: 50 });
    aws = sdkClients(system.outputs);
  });
  after(async () => {
    aws?.destroy();
    await system?.stop();
  });

  const put = (connectionId: string, sk: string, expiresAt: AttributeValue | undefined) =>
    aws.dynamodb.send(
      new PutItemCommand({
        TableName: system.outputs.tableName,
        Item: {
          [TABLE.partitionKey]: { S: connectionId },
          [TABLE.sortKey]: { S: sk },
          ...(sk === TABLE.connectionSortKey ? {} : { [TABLE.topicAttribute]: { S: sk } }),
          ...(expiresAt ? { [TABLE.ttlAttribute]: expiresAt } : {}),
        },
      }),
    );

  it('deletes rows past expiresAt, from the table and the byTopic index; keeps the others', async () => {
    const past = { N: String(Math.floor(Date.now() / 1000) - 60) };
    const future = { N: String(Math.floor(Date.now() / 1000) + 3600) };
    // A connection whose $disconnect never ran, with two subscriptions.
    await put('deadConn', TABLE.connectionSortKey, past);
    await put('deadConn', 'ttl/a', past);
    await put('deadConn', 'ttl/b', past);
    // A live one, and rows DynamoDB's TTL ignores (no attribute, or not a Number).
    await put('liveConn', TABLE.connectionSortKey, future);
    await put('liveConn', 'ttl/a', future);
    await put('oddConn', 'ttl/a', { S: '1' });
    await put('oddConn', 'ttl/b', undefined);

    await eventually(async () => (await rowsOf(aws.dynamodb, system.outputs.tableName, 'deadConn')).length === 0, 'the expired rows to go', 15_000);
    // One whole sweep more, with every row in place: nothing else goes.
    await system.ttl[0].sweep();
    const left = (await scanTable(aws.dynamodb, system.outputs.tableName)).map((i) => `${i[TABLE.partitionKey].S} ${i[TABLE.sortKey].S}`);
    expect(left).to.have.members(['liveConn $connection', 'liveConn ttl/a', 'oddConn ttl/a', 'oddConn ttl/b']);
    expect(await subscribersOf(aws.dynamodb, system.outputs.tableName, 'ttl/b')).to.deep.equal(['oddConn']);
    expect(system.ttl[0].deleted()).to.equal(3);
  });

  it('deletes a row once its time has come, not before', async () => {
    let clock = Date.now();
    const sweeper = startTtlSweeper({
      endpoint: system.outputs.dynamodbEndpoint!,
      tableName: system.outputs.tableName,
      attribute: TABLE.ttlAttribute,
      keys: [TABLE.partitionKey, TABLE.sortKey],
      intervalMs: 60_000,
      scanPageItems: 3,
      now: () => clock,
    });
    try {
      await put('later', TABLE.connectionSortKey, { N: String(Math.floor(clock / 1000) + 3600) });
      expect(await sweeper.sweep()).to.equal(0);
      expect(await rowsOf(aws.dynamodb, system.outputs.tableName, 'later')).to.deep.equal([TABLE.connectionSortKey]);
      // Several Scan pages of them (the sweeper below reads 3 items a request).
      for (let i = 0; i < 7; i++) await put(`many-${i}`, TABLE.connectionSortKey, { N: String(Math.floor(clock / 1000) + 60) });
      clock += 3601_000;
      expect(await sweeper.sweep()).to.be.at.least(8);
      expect(await rowsOf(aws.dynamodb, system.outputs.tableName, 'later')).to.deep.equal([]);
      expect((await scanTable(aws.dynamodb, system.outputs.tableName)).filter((i) => i[TABLE.partitionKey].S!.startsWith('many-'))).to.deep.equal([]);
    } finally {
      await sweeper.stop();
    }
  });
});

describe('npm start --ttl-sweep-seconds and --route-concurrency', () => {
  const parse = (...argv: string[]) => parseCli(argv, { writeErr: () => undefined, writeOut: () => undefined });

  it('sets the sweep interval and the environments per route function; refuses nonsense', () => {
    expect(parse().local).to.not.have.any.keys('ttlSweepIntervalMs', 'routeConcurrency');
    expect(parse('--ttl-sweep-seconds', '5', '--route-concurrency', '4').local).to.include({ ttlSweepIntervalMs: 5000, routeConcurrency: 4 });
    expect(() => parse('--ttl-sweep-seconds', '0')).to.throw(/--ttl-sweep-seconds/);
    expect(() => parse('--route-concurrency', 'many')).to.throw(/--route-concurrency/);
  });
});
