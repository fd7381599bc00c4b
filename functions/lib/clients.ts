/**
 * AWS clients, built from the parsed config (explicit region/endpoint/credentials when the env
 * map has them): the SDK's DynamoDB client, and our own lean client of the management API
 * (delivery/management-api.ts). Each makeHandler builds its own once, so one Lambda container
 * reuses them.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsSettings, Config, EnvMap } from './config';
import { readCredentials, required } from './config';
import { ManagementApi } from './delivery/management-api';
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

/** SQS (delivery jobs): the same explicit bounds as DynamoDB, for the same reason. */
export function makeSqsClient(config: Config, timeouts: { connectionTimeoutMs: number; requestTimeoutMs: number } = DYNAMODB_TIMEOUTS): SQSClient {
  return new SQSClient({
    ...common(config.aws),
    ...(config.aws.sqsEndpoint ? { endpoint: config.aws.sqsEndpoint } : {}),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      socketTimeout: timeouts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  });
}

/**
 * The @connections client. It never retries (the fan-out retries itself, so it can count and
 * bound retries); its connect and request timeouts cut a hung post before it eats the Lambda's
 * time; its sockets are kept alive and sized to the fan-out concurrency. Credentials are read
 * from the env map at every request (in Lambda, process.env), so replaced ones are used.
 */
export function makeManagementApi(config: Config, env: EnvMap): ManagementApi {
  const endpoint = required(config.managementEndpoint, ENV.managementEndpoint);
  const region = required(config.aws.region, 'AWS_REGION');
  return new ManagementApi({
    endpoint,
    region,
    credentials: () => {
      const credentials = readCredentials(env);
      if (!credentials) throw new Error('no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set');
      return credentials;
    },
    connectTimeoutMs: config.postConnectTimeoutMs,
    requestTimeoutMs: config.postRequestTimeoutMs,
    maxSockets: config.publishConcurrency,
  });
}
