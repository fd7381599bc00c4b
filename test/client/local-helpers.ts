/** Helpers for tests that run the client, the CLI or the demo page against startLocal. */
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import WebSocket from 'ws';
import type { ClientRequestArgs } from 'node:http';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';
import type { StackOutputs } from '../../protocol/outputs';
import type { WebSocketConstructor } from '../../client/index';
import { subscribersOf } from '../local/system-helpers';

const local = (endpoint: string | undefined) => ({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint });

/** SendMessage of one envelope to the local publish queue; returns the SQS message id. */
export async function sendEnvelope(outputs: StackOutputs, envelope: unknown, extra: { DelaySeconds?: number; QueueUrl?: string } = {}): Promise<string> {
  const sqs = new SQSClient(local(outputs.sqsEndpoint));
  try {
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: outputs.queueUrl, MessageBody: JSON.stringify(envelope), ...extra }));
    return sent.MessageId!;
  } finally {
    sqs.destroy();
  }
}

/** The connection ids subscribed to `topic`, read from the byTopic index. */
export async function connectionsOn(outputs: StackOutputs, topic: string): Promise<string[]> {
  const dynamodb = new DynamoDBClient(local(outputs.dynamodbEndpoint));
  try {
    return await subscribersOf(dynamodb, outputs.tableName, topic);
  } finally {
    dynamodb.destroy();
  }
}

/** DELETE @connections/{id}: the gateway closes the socket, as API Gateway does. */
export async function deleteConnection(outputs: StackOutputs, connectionId: string): Promise<void> {
  const api = new ApiGatewayManagementApiClient(local(outputs.managementEndpoint));
  try {
    await api.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  } finally {
    api.destroy();
  }
}

/** A `ws` WebSocket that records every socket it opens, the raw frames and the close codes. */
export function recordingWebSocket(): { WebSocket: WebSocketConstructor; sockets: WebSocket[]; frames: string[]; closeCodes: number[] } {
  const sockets: WebSocket[] = [];
  const frames: string[] = [];
  const closeCodes: number[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: ClientRequestArgs) {
      super(url, protocols, options);
      sockets.push(this);
      this.on('message', (data) => frames.push(data.toString()));
      this.on('close', (code) => closeCodes.push(code));
    }
  }
  return { WebSocket: Recording as unknown as WebSocketConstructor, sockets, frames, closeCodes };
}

/** Polls until a check holds (shared with the local-mode tests). */
export { eventually } from '../local/system-helpers';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
