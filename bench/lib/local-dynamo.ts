/** An in-process dynalite with the connections table, for benchmarks that need only DynamoDB. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_HOST, LOCAL_REGION } from '../../local/constants';
import { createTableInput } from '../../protocol/table';

// dynalite ships no types; declaring the module here could clash with local/'s declaration.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite: (options: Record<string, unknown>) => Server = require('dynalite');


export interface LocalDynamo {
  endpoint: string;
  tableName: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startLocalDynamo(tableName = 'bench-connections'): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOCAL_HOST, () => resolve());
  });
  const endpoint = `http://${LOCAL_HOST}:${(server.address() as AddressInfo).port}`;
  const client = dynamoClient(endpoint);
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (err) {
    server.close();
    throw err;
  }
  return {
    endpoint,
    tableName,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}
