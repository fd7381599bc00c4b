/**
 * An in-memory stand-in for the connections table behind aws-sdk-client-mock: enough of Get,
 * Put, Delete and Update (with ReturnValues ALL_OLD and condition expressions, as DynamoDB
 * evaluates them), Query (table partition and the byTopic index, paginated with
 * ExclusiveStartKey) and BatchWrite (with injectable UnprocessedItems) to test the handlers'
 * behaviour, not just the calls they make. Each call resolves on its own tick, so concurrent
 * handler invocations interleave between their calls, as they do against DynamoDB.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { TABLE } from '../../protocol/table';
import { SUBSCRIPTION_COUNT } from '../../functions/lib/connection-rows';

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
    mock.on(GetCommand).callsFake((input) =>
      this.hooked('GetCommand', input, () => {
        this.checkTable(input.TableName);
        const row = this.rows.get(key(input.Key[TABLE.partitionKey], input.Key[TABLE.sortKey]));
        return { Item: row ? structuredClone(row) : undefined };
      }),
    );
    mock.on(PutCommand).callsFake((input) =>
      this.hooked('PutCommand', input, () => {
        this.checkTable(input.TableName);
        const old = this.rows.get(key(input.Item[TABLE.partitionKey], input.Item[TABLE.sortKey]));
        this.checkCondition(input, old);
        this.put(input.Item);
        return input.ReturnValues === 'ALL_OLD' && old ? { Attributes: structuredClone(old) } : {};
      }),
    );
    mock.on(DeleteCommand).callsFake((input) =>
      this.hooked('DeleteCommand', input, () => {
        this.checkTable(input.TableName);
        const k = key(input.Key[TABLE.partitionKey], input.Key[TABLE.sortKey]);
        const old = this.rows.get(k);
        this.checkCondition(input, old);
        this.rows.delete(k);
        return input.ReturnValues === 'ALL_OLD' && old ? { Attributes: structuredClone(old) } : {};
      }),
    );
    mock.on(UpdateCommand).callsFake((input) => this.hooked('UpdateCommand', input, () => this.update(input)));
    mock.on(QueryCommand).callsFake((input) => this.hooked('QueryCommand', input, () => this.query(input)));
    mock.on(BatchWriteCommand).callsFake((input) => this.hooked('BatchWriteCommand', input, () => this.batchWrite(input)));
    return this;
  }

  /**
   * Runs after each call has taken effect, before its caller sees the result (the command's
   * name, e.g. 'UpdateCommand', and its input): a test runs another handler exactly there.
   */
  afterCall?: (command: string, input: Row) => void | Promise<void>;

  private async hooked<T>(command: string, input: object, run: () => T): Promise<T> {
    const output = run();
    await this.afterCall?.(command, input as Row);
    return output;
  }

  put(row: Row) {
    this.rows.set(key(row[TABLE.partitionKey], row[TABLE.sortKey]), structuredClone(row));
    const id = String(row[TABLE.partitionKey]);
    if (row[TABLE.sortKey] !== TABLE.connectionSortKey && this.connectionItem(id)) {
      const held = this.rowsOf(id).filter((r) => r[TABLE.sortKey] !== TABLE.connectionSortKey).length;
      this.peakSubscriptions.set(id, Math.max(held, this.peakSubscriptions.get(id) ?? 0));
    }
  }

  /** The most subscription rows each registered connection ever held at once. */
  readonly peakSubscriptions = new Map<string, number>();

  /** The connection's `$connection` item, if any. */
  connectionItem(connectionId: string): Row | undefined {
    return this.rows.get(key(connectionId, TABLE.connectionSortKey));
  }

  /** Subscription rows written as subscribe writes them, counted on the connection item as subscribe counts them. */
  hold(connectionId: string, ...topics: string[]) {
    const item = this.connectionItem(connectionId);
    for (const topic of topics) {
      if (!this.rows.has(key(connectionId, topic)) && item) item[SUBSCRIPTION_COUNT] = Number(item[SUBSCRIPTION_COUNT] ?? 0) + 1;
      this.put({ connectionId, sk: topic, topic, expiresAt: 1 });
    }
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

  /** Throws ConditionalCheckFailedException when the request's ConditionExpression is false for `item`. */
  private checkCondition(input: Expressions & { ConditionExpression?: string }, item: Row | undefined) {
    if (input.ConditionExpression === undefined) return;
    if (!evaluateCondition(input.ConditionExpression, input, item)) {
      throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
    }
  }

  /** UpdateItem with `ADD #a :v` and `SET #a = :v` actions; like DynamoDB, it creates a missing item. */
  private update(input: UpdateCommand['input']) {
    this.checkTable(input.TableName);
    const k = key(input.Key?.[TABLE.partitionKey], input.Key?.[TABLE.sortKey]);
    const old = this.rows.get(k);
    this.checkCondition(input, old);
    const item: Row = old ? structuredClone(old) : { ...input.Key };
    const match = /^\s*(ADD|SET)\s+(.+)$/.exec(input.UpdateExpression ?? '');
    if (!match) throw new Error(`FakeTable: unsupported UpdateExpression ${String(input.UpdateExpression)}`);
    for (const action of match[2].split(',')) {
      const parts = match[1] === 'ADD' ? /^\s*(#\w+)\s+(:\w+)\s*$/.exec(action) : /^\s*(#\w+)\s*=\s*(:\w+)\s*$/.exec(action);
      if (!parts) throw new Error(`FakeTable: unsupported ${match[1]} action ${action}`);
      const name = attributeName(parts[1], input);
      const value = attributeValue(parts[2], input);
      if (match[1] === 'SET') item[name] = value;
      else {
        if (typeof value !== 'number' || (item[name] !== undefined && typeof item[name] !== 'number')) throw new Error('FakeTable: ADD of non-numbers');
        item[name] = Number(item[name] ?? 0) + value;
      }
    }
    this.rows.set(k, item);
    return {};
  }

  query(input: QueryCommand['input']) {
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

interface Expressions {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

function attributeName(token: string, input: Expressions): string {
  const name = input.ExpressionAttributeNames?.[token];
  if (name === undefined) throw new Error(`ValidationException: ${token} is not defined in ExpressionAttributeNames`);
  return name;
}

function attributeValue(token: string, input: Expressions): unknown {
  if (!input.ExpressionAttributeValues || !(token in input.ExpressionAttributeValues)) {
    throw new Error(`ValidationException: ${token} is not defined in ExpressionAttributeValues`);
  }
  return input.ExpressionAttributeValues[token];
}

/**
 * The condition expressions the handlers use: terms joined by AND, each `attribute_exists(#a)`,
 * `attribute_not_exists(#a)` or `#a <op> :v` (a comparison with a missing attribute is false, as
 * in DynamoDB). Anything else throws, so a test can never pass on a condition the fake ignored.
 */
function evaluateCondition(expression: string, input: Expressions, item: Row | undefined): boolean {
  return expression.split(/\s+AND\s+/).every((term) => {
    const fn = /^\s*(attribute_exists|attribute_not_exists)\((#\w+)\)\s*$/.exec(term);
    if (fn) {
      const present = item !== undefined && item[attributeName(fn[2], input)] !== undefined;
      return fn[1] === 'attribute_exists' ? present : !present;
    }
    const cmp = /^\s*(#\w+)\s*(<=|>=|<>|<|>|=)\s*(:\w+)\s*$/.exec(term);
    if (!cmp) throw new Error(`FakeTable: unsupported condition term ${term}`);
    const have = item?.[attributeName(cmp[1], input)];
    const want = attributeValue(cmp[3], input);
    if (have === undefined) return false;
    if (typeof have !== typeof want) throw new Error(`FakeTable: comparing ${typeof have} with ${typeof want}`);
    const [a, b] = [have as number | string, want as number | string];
    switch (cmp[2]) {
      case '<=':
        return a <= b;
      case '>=':
        return a >= b;
      case '<':
        return a < b;
      case '>':
        return a > b;
      case '=':
        return a === b;
      default:
        return a !== b;
    }
  });
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
