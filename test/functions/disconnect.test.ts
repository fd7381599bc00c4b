import { expect } from 'chai';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../protocol/table';
import { makeHandler } from '../../functions/handlers/disconnect';
import { withFakeTable } from './fake-table';
import { testEnv } from './helpers';

const disconnectEvent = (connectionId: string) => ({
  requestContext: { connectionId, eventType: 'DISCONNECT', disconnectStatusCode: 1001, disconnectReason: 'Going away' },
});

describe('$disconnect handler', () => {
  const db = withFakeTable();
  beforeEach(() => {
    db.table.put({ connectionId: 'gone=', sk: TABLE.connectionSortKey, expiresAt: 1 });
    for (let i = 0; i < 60; i++) db.table.subscribe('gone=', `t/${String(i).padStart(2, '0')}`);
    db.table.put({ connectionId: 'stays=', sk: TABLE.connectionSortKey, expiresAt: 1 });
    db.table.subscribe('stays=', 't/00', 't/01');
  });

  it('deletes all 61 rows of the connection, 25 at a time, across query pages, retrying unprocessed items', async () => {
    db.table.pageSize = 40; // two query pages
    db.table.unprocessedPlan = [0, 10, 3, 0, 7]; // DynamoDB hands some deletes back
    await makeHandler(testEnv())(disconnectEvent('gone='));

    expect(db.table.rowsOf('gone=')).to.have.length(0);
    expect(db.table.rowsOf('stays=')).to.have.length(3);
    const queries = db.ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries).to.have.length(2);
    expect(queries[0].ExclusiveStartKey).to.equal(undefined);
    expect(queries[1].ExclusiveStartKey).to.deep.include({ connectionId: 'gone=' });
    expect(queries.every((q) => q.IndexName === undefined && q.ConsistentRead === true && q.ExpressionAttributeValues?.[':id'] === 'gone=')).to.equal(true);
    const batches = db.ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.connections ?? []);
    expect(batches.every((b) => b.length <= 25 && b.every((r) => r.DeleteRequest?.Key?.connectionId === 'gone='))).to.equal(true);
    // The $connection item alone first; then chunk 1 (25): 10 come back, then 3 of those;
    // chunk 2 (25): 7 come back; chunk 3 (10).
    expect(batches.map((b) => b.length)).to.deep.equal([1, 25, 10, 3, 25, 7, 10]);
    expect(batches[0][0].DeleteRequest?.Key).to.deep.equal({ connectionId: 'gone=', sk: TABLE.connectionSortKey });
  });

  it('deletes the $connection item before it queries the subscription rows (so a racing subscribe sees it gone)', async () => {
    await makeHandler(testEnv())(disconnectEvent('gone='));
    const order = db.ddb.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
    expect(order.slice(0, 2)).to.deep.equal(['BatchWriteCommand', 'QueryCommand']);
    expect(db.table.rowsOf('gone=')).to.have.length(0);
  });

  it('throws a clear error when DynamoDB keeps refusing deletes after the bounded attempts', async () => {
    db.table.unprocessedPlan = [0, ...Array<number>(50).fill(5)];
    let error: Error | undefined;
    try {
      await makeHandler(testEnv())(disconnectEvent('gone='));
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).to.match(/still left 5 unprocessed item\(s\) after 8 attempts/);
    expect(db.ddb.commandCalls(BatchWriteCommand)).to.have.length(1 + 8);
  });

  it('only deletes the (absent) connection item for a connection without rows', async () => {
    expect(await makeHandler(testEnv())(disconnectEvent('never-seen='))).to.deep.equal({ statusCode: 200 });
    const batches = db.ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.connections ?? []);
    expect(batches).to.have.length(1);
    expect(batches[0].map((r) => r.DeleteRequest?.Key?.sk)).to.deep.equal([TABLE.connectionSortKey]);
  });
});
