/**
 * AWS SDK clients, built from the parsed config (explicit region/endpoint/credentials when the
 * env map has them). Each makeHandler builds its own once, so one Lambda container reuses them.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsSettings, Config } from './config';
import { required } from './config';
import { ENV } from '../../protocol/env';

function common(aws: AwsSettings) {
  return {
    ...(aws.region ? { region: aws.region } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
  };
}

/**
 * DynamoDB answers in milliseconds; these bounds only stop a hung connection from eating the
 * Lambda's time. The SDK's own retries (3 attempts) then try again on a fresh connection.
 */
export const DYNAMODB_TIMEOUTS = { connectionTimeoutMs: 1000, requestTimeoutMs: 5000 } as const;

export function makeDocumentClient(config: Config, timeouts: { connectionTimeoutMs: number; requestTimeoutMs: number } = DYNAMODB_TIMEOUTS): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...common(config.aws),
    ...(config.aws.dynamodbEndpoint ? { endpoint: config.aws.dynamodbEndpoint } : {}),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      socketTimeout: timeouts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * The @connections client. `maxAttempts: 1` because the fan-out retries itself (so it can count
 * and bound retries). The timeouts are explicit and `throwOnRequestTimeout` is set: without it
 * the handler only logs a warning when `requestTimeout` passes and a hung post can run the
 * Lambda into its own timeout. Sockets are kept alive and sized to the fan-out concurrency.
 */
export function makeManagementClient(config: Config): ApiGatewayManagementApiClient {
  const endpoint = required(config.managementEndpoint, ENV.managementEndpoint);
  const agentOptions = { keepAlive: true, maxSockets: config.publishConcurrency };
  return new ApiGatewayManagementApiClient({
    ...common(config.aws),
    endpoint,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.postConnectTimeoutMs,
      requestTimeout: config.postRequestTimeoutMs,
      socketTimeout: config.postRequestTimeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });
}
