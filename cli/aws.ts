/** AWS SDK clients for a target: the local endpoints and dummy credentials, or the default chain. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Target } from './target';

/** The SDK's warnings (e.g. about a queue URL's host) would break the CLI's one-line output. */
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** An operator tool should fail in seconds, not hang, when an endpoint is down. */
function common(target: Target, endpoint: string | undefined) {
  return {
    logger: quiet,
    region: target.region,
    ...(target.credentials ? { credentials: target.credentials } : {}),
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 10_000 }),
  };
}

export function sqsClient(target: Target): SQSClient {
  return new SQSClient(common(target, target.outputs.sqsEndpoint));
}

export function eventBridgeClient(target: Target): EventBridgeClient {
  return new EventBridgeClient(common(target, target.outputs.eventBridgeEndpoint));
}

export function dynamoDbClient(target: Target): DynamoDBClient {
  return new DynamoDBClient(common(target, target.outputs.dynamodbEndpoint));
}

/** Where a client sends its requests, for error messages. */
export function endpointName(target: Target, service: 'SQS' | 'EventBridge' | 'DynamoDB'): string {
  const endpoint = { SQS: target.outputs.sqsEndpoint, EventBridge: target.outputs.eventBridgeEndpoint, DynamoDB: target.outputs.dynamodbEndpoint }[service];
  return endpoint ? `${service} at ${endpoint}` : `${service} in ${target.region ?? 'the default region'}`;
}
