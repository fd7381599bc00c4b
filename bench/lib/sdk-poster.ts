/**
 * The delivery path the publish function used before functions/lib/delivery/: the AWS SDK v3
 * client, configured as functions/lib/clients.ts configured it (one attempt, connect and request
 * timeouts that throw, keep-alive sockets sized to the concurrency). Kept for the benchmarks
 * only, so they can measure the SDK path beside the lean one; production code never imports it.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Poster } from '../../functions/lib/delivery/management-api';
import type { Credentials } from '../../functions/lib/delivery/sigv4';

export interface SdkPosterOptions {
  endpoint: string;
  region: string;
  credentials: Credentials;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxSockets: number;
}

export class SdkPoster implements Poster {
  readonly client: ApiGatewayManagementApiClient;

  constructor(options: SdkPosterOptions) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.client = new ApiGatewayManagementApiClient({
      region: options.region,
      credentials: options.credentials,
      endpoint: options.endpoint,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: options.connectTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        socketTimeout: options.requestTimeoutMs,
        throwOnRequestTimeout: true,
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
      }),
    });
  }

  async post(connectionId: string, data: Uint8Array): Promise<void> {
    await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
  }

  destroy(): void {
    this.client.destroy();
  }
}
