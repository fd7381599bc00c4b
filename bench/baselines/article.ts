/**
 * Baseline (a): the fan-out most tutorials copy, after the `sendmessage` function of AWS's
 * `simple-websockets-chat-app` sample: Scan the connections table, then one unbounded
 * `Promise.all` of PostToConnection calls; a 410 deletes that row; any other error rejects the
 * Promise.all and the function answers 500. The application never retries.
 *
 * Ported faithfully to SDK v3, with only the changes our table needs:
 * - topics: the Scan filters on the topic (FilterExpression), projecting only `connectionId`,
 *   and a stale row is deleted by its full key (connectionId + the topic as sort key);
 * - the 410 check reads `$metadata.httpStatusCode` (v3's place for the v2 sample's `statusCode`);
 * - clients are built with SDK defaults (as the sample did), so the SDK's own retry strategy
 *   (3 attempts, standard mode) applies unless `maxAttempts` says otherwise;
 * - `paginate`: the sample reads one Scan page (1 MB) and silently misses every subscriber
 *   beyond it; the benchmark can follow LastEvaluatedKey instead, to compare speed fairly.
 * The posts are tracked only so the benchmark can wait for stragglers after a 500.
 *
 * Its real bound: the SDK client's default HTTP agent (@smithy/node-http-handler) keeps at most
 * 50 sockets per host, so "unbounded" means 50 posts in flight and at most 50 / latency posts/s;
 * the rest queue inside the agent. `socketLimit()` reads the number from the client's own agent.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '../../protocol/table';

export interface BaselineTarget {
  tableName: string;
  dynamodbEndpoint: string;
  managementEndpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface ArticleOptions extends BaselineTarget {
  /** Follow LastEvaluatedKey (the sample does not). */
  paginate: boolean;
  /** The SDK client's attempts per call; undefined keeps the SDK default (3). */
  maxAttempts?: number;
}

export interface PublishResult {
  statusCode: number;
  body: string;
}

export interface ArticlePublisher {
  /** Sends `frame` (the text a subscriber receives) to every subscriber of `topic`. */
  publish(topic: string, frame: string): Promise<PublishResult>;
  /** Resolves once every post started so far has finished, even after publish answered 500. */
  settled(): Promise<void>;
  /** maxSockets of the management client's HTTP agent, once it has made a call (undefined if unreadable). */
  socketLimit(): Promise<number | undefined>;
  destroy(): void;
}

/** @smithy/node-http-handler's default `maxSockets` for a client built without a request handler. */
export const SDK_DEFAULT_MAX_SOCKETS = 50;

/** The parts of NodeHttpHandler's resolved config that hold its agents (set on the first request). */
interface HandlerAgents {
  httpAgentProvider?: () => Promise<{ maxSockets?: number }>;
  httpsAgent?: { maxSockets?: number };
}

export function makeArticlePublisher(options: ArticleOptions): ArticlePublisher {
  const { region, credentials } = options;
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region, credentials, endpoint: options.dynamodbEndpoint }));
  const api = new ApiGatewayManagementApiClient({
    region,
    credentials,
    endpoint: options.managementEndpoint,
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
  const inFlight: Promise<unknown>[] = [];

  async function scanSubscribers(topic: string): Promise<{ connectionId: string }[]> {
    const items: { connectionId: string }[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await ddb.send(
        new ScanCommand({
          TableName: options.tableName,
          ProjectionExpression: '#id',
          FilterExpression: '#topic = :topic',
          ExpressionAttributeNames: { '#id': TABLE.partitionKey, '#topic': TABLE.topicAttribute },
          ExpressionAttributeValues: { ':topic': topic },
          ExclusiveStartKey,
        }),
      );
      items.push(...((page.Items ?? []) as { connectionId: string }[]));
      ExclusiveStartKey = options.paginate ? page.LastEvaluatedKey : undefined;
    } while (ExclusiveStartKey);
    return items;
  }

  async function publish(topic: string, frame: string): Promise<PublishResult> {
    let connectionData: { connectionId: string }[];
    try {
      connectionData = await scanSubscribers(topic);
    } catch (e) {
      return { statusCode: 500, body: (e as Error).stack ?? String(e) };
    }
    const postCalls = connectionData.map(async ({ connectionId }) => {
      try {
        await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 410) {
          await ddb.send(new DeleteCommand({ TableName: options.tableName, Key: { [TABLE.partitionKey]: connectionId, [TABLE.sortKey]: topic } }));
        } else {
          throw e;
        }
      }
    });
    inFlight.push(...postCalls.map((p) => p.catch(() => undefined)));
    try {
      await Promise.all(postCalls);
    } catch (e) {
      return { statusCode: 500, body: (e as Error).stack ?? String(e) };
    }
    return { statusCode: 200, body: 'Data sent.' };
  }

  return {
    publish,
    settled: async () => {
      await Promise.all(inFlight.splice(0));
    },
    socketLimit: async () => {
      const handler = api.config.requestHandler as { httpHandlerConfigs?: () => HandlerAgents };
      const configs = typeof handler.httpHandlerConfigs === 'function' ? handler.httpHandlerConfigs() : {};
      const agent = options.managementEndpoint.startsWith('https:') ? configs.httpsAgent : await configs.httpAgentProvider?.();
      const limit = agent?.maxSockets;
      return typeof limit === 'number' && Number.isFinite(limit) ? limit : undefined;
    },
    destroy: () => {
      api.destroy();
      ddb.destroy();
    },
  };
}
