/**
 * An in-process dynalite for tests that need DynamoDB's own semantics (conditions, ADD, key
 * conditions, paging): started once per describe block on 127.0.0.1, with a document client,
 * closed (its sockets too) when the block ends. Tables are created per test.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';

export interface TestDynamo {
  endpoint: string;
  ddb: DynamoDBDocumentClient;
  createTable(input: CreateTableCommandInput): Promise<void>;
}

/** Registers before/after hooks in the calling describe block; the fields are set once `before` ran. */
export function withDynalite(): TestDynamo {
  const dynamo = {} as TestDynamo;
  let server: ReturnType<typeof dynalite>;
  before(async () => {
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    dynamo.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dynamo.ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    // Resolves once the table is ACTIVE: dynalite answers while it is still CREATING (see tableActive).
    dynamo.createTable = async (input) => {
      await dynamo.ddb.send(new CreateTableCommand(input));
      await tableActive(dynamo.ddb, input.TableName!);
    };
  });
  after(async () => {
    dynamo.ddb.destroy();
    // Handlers' clients may keep sockets open; they end with the server.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return dynamo;
}

/**
 * Waits until a table is ACTIVE: dynalite answers CreateTable while the table is still CREATING
 * (for createTableMs, even 0: a timer), and a write that comes first is ResourceNotFound.
 */
export async function tableActive(ddb: DynamoDBDocumentClient, tableName: string): Promise<void> {
  for (;;) {
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
