/**
 * Baseline (b): the same GSI query as ours, then one PostToConnection after another. Shows what
 * the bounded concurrency buys. `maxPosts` stops early so a large fan-out can be extrapolated
 * from a sample instead of waiting N x latency.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { TABLE } from '../../protocol/table';
import { topicQuery } from '../lib/topic-query';
import type { BaselineTarget } from './article';

export interface SequentialResult {
  posted: number;
  failed: number;
  /** Time spent querying, and posting, for extrapolation. */
  queryMs: number;
  postingMs: number;
}

export interface SequentialPublisher {
  publish(topic: string, frame: string, maxPosts?: number): Promise<SequentialResult>;
  destroy(): void;
}

export function makeSequentialPublisher(target: BaselineTarget): SequentialPublisher {
  const { region, credentials } = target;
  const ddb = new DynamoDBClient({ region, credentials, endpoint: target.dynamodbEndpoint });
  const api = new ApiGatewayManagementApiClient({ region, credentials, endpoint: target.managementEndpoint, maxAttempts: 1 });

  async function publish(topic: string, frame: string, maxPosts = Infinity): Promise<SequentialResult> {
    const queryStarted = performance.now();
    const ids: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await ddb.send(topicQuery(target.tableName, topic, start));
      for (const item of page.Items ?? []) ids.push(item[TABLE.partitionKey].S as string);
      start = page.LastEvaluatedKey;
    } while (start && ids.length < maxPosts);
    const result: SequentialResult = { posted: 0, failed: 0, queryMs: performance.now() - queryStarted, postingMs: 0 };
    const started = performance.now();
    for (const connectionId of ids.slice(0, maxPosts)) {
      try {
        await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
        result.posted++;
      } catch {
        result.failed++;
      }
    }
    result.postingMs = performance.now() - started;
    return result;
  }

  return {
    publish,
    destroy: () => {
      api.destroy();
      ddb.destroy();
    },
  };
}
