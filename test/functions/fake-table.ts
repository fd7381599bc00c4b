/**
 * An in-memory stand-in for the connections table behind aws-sdk-client-mock: enough of Get,
 * Put, Query (table partition and the byTopic index, paginated with ExclusiveStartKey) and
 * BatchWrite (with injectable UnprocessedItems) to test the handlers' behaviour, not just the
 * calls they make.
 */
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { TABLE } from '../../protocol/table';

export type Row = Record<string, unknown>;
type DdbMock = AwsClientStub<DynamoDBDocumentClient>;

const key = (pk: unknown, sk: unknown) => `${String(pk)}\u0000${String(sk)}`;

export class FakeTable {
  readonly rows = new Map<string, Row>();
  /** Items per Query page (DynamoDB pages by 1 MB; tests force small pages). */
  pageSize = 1000;
  /** For each coming BatchWrite call, how many of its requests to hand back as unprocessed. */
  unprocessedPlan: number[] = [];

  constructor(readonly tableName = 'connections') {}

  install(mock: DdbMock): this {
    mock.on(GetCommand).callsFake((input) => {
      this.checkTable(input.TableName);
      const row = this.rows.get(key(input.Key[TABLE.partitionKey], input.Key[TABLE.sortKey]));
      return { Item: row ? structuredClone(row) : undefined };
    });
    mock.on(PutCommand).callsFake((input) => {
      this.checkTable(input.TableName);
      this.put(input.Item);
      return {};
    });
    mock.on(QueryCommand).callsFake((input) => this.query(input));
    mock.on(BatchWriteCommand).callsFake((input) => this.batchWrite(input));
    return this;
  }

  put(row: Row) {
    this.rows.set(key(row[TABLE.partitionKey], row[TABLE.sortKey]), structuredClone(row));
  }

  rowsOf(connectionId: string): Row[] {
    return [...this.rows.values()].filter((r) => r[TABLE.partitionKey] === connectionId);
  }

  subscribe(connectionId: string, ...topics: string[]) {
    for (const topic of topics) this.put({ connectionId, sk: topic, topic, expiresAt: 1 });
  }

  private checkTable(name: unknown) {
    if (name !== this.tableName) throw new Error(`unexpected table ${String(name)}`);
  }

  private query(input: QueryCommand['input']) {
    this.checkTable(input.TableName);
    const value = Object.values(input.ExpressionAttributeValues ?? {})[0];
    const byTopic = input.IndexName === TABLE.topicIndex;
    if (input.IndexName !== undefined && !byTopic) throw new Error(`unknown index ${input.IndexName}`);
    const sortOf = (r: Row) => String(byTopic ? r[TABLE.partitionKey] : r[TABLE.sortKey]);
    const matching = [...this.rows.values()]
      .filter((r) => (byTopic ? r[TABLE.topicAttribute] === value : r[TABLE.partitionKey] === value))
      .sort((a, b) => (sortOf(a) < sortOf(b) ? -1 : sortOf(a) > sortOf(b) ? 1 : 0));
    let start = 0;
    if (input.ExclusiveStartKey) {
      const after = sortOf(input.ExclusiveStartKey as Row);
      start = matching.findIndex((r) => sortOf(r) > after);
      if (start < 0) start = matching.length;
    }
    const page = matching.slice(start, start + this.pageSize);
    const keysOf = (r: Row): Row =>
      byTopic
        ? { [TABLE.topicAttribute]: r[TABLE.topicAttribute], [TABLE.partitionKey]: r[TABLE.partitionKey], [TABLE.sortKey]: r[TABLE.sortKey] }
        : { [TABLE.partitionKey]: r[TABLE.partitionKey], [TABLE.sortKey]: r[TABLE.sortKey] };
    const more = start + page.length < matching.length;
    return {
      Items: page.map((r) => (byTopic || input.ProjectionExpression ? keysOf(r) : structuredClone(r))),
      Count: page.length,
      LastEvaluatedKey: more && page.length > 0 ? keysOf(page[page.length - 1]) : undefined,
    };
  }

  private batchWrite(input: BatchWriteCommand['input']) {
    const requests = input.RequestItems?.[this.tableName];
    if (!requests || Object.keys(input.RequestItems ?? {}).length !== 1) throw new Error('unexpected BatchWrite tables');
    if (requests.length > 25) throw new Error(`ValidationException: ${requests.length} requests, at most 25`);
    const refuse = this.unprocessedPlan.shift() ?? 0;
    const done = requests.slice(0, requests.length - refuse);
    const left = requests.slice(requests.length - refuse);
    for (const r of done) {
      if (r.PutRequest?.Item) this.put(r.PutRequest.Item);
      const k = r.DeleteRequest?.Key;
      if (k) this.rows.delete(key(k[TABLE.partitionKey], k[TABLE.sortKey]));
    }
    return { UnprocessedItems: left.length > 0 ? { [this.tableName]: left } : {} };
  }
}

/**
 * Mock DynamoDBDocumentClient for the enclosing `describe` (created in `before`, so mocks of
 * different files never overlap) with a fresh FakeTable before each test.
 */
export function withFakeTable(): { readonly ddb: DdbMock; readonly table: FakeTable } {
  const state = {} as { ddb: DdbMock; table: FakeTable };
  before(() => (state.ddb = mockClient(DynamoDBDocumentClient)));
  beforeEach(() => {
    state.ddb.reset();
    state.table = new FakeTable().install(state.ddb);
  });
  after(() => state.ddb.restore());
  return state;
}
