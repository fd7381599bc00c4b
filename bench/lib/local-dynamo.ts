/** The local mode's embedded dynalite with the connections table, plus a client, for benchmarks that need only DynamoDB. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';
import { startDynamo } from '../../local/dynamo';

export interface BenchDynamo {
  endpoint: string;
  tableName: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startLocalDynamo(tableName = 'bench-connections'): Promise<BenchDynamo> {
  const dynamo = await startDynamo({ tableName });
  const client = dynamoClient(dynamo.endpoint);
  return {
    endpoint: dynamo.endpoint,
    tableName,
    client,
    close: async () => {
      client.destroy();
      await dynamo.close();
    },
  };
}

export function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}
