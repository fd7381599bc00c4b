/** What every table-backed handler builds once in makeHandler: config, telemetry, DynamoDB. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../protocol/env';
import { errorReply } from '../../protocol/messages';
import { makeDocumentClient } from './clients';
import { type Config, type EnvMap, loadConfig, required } from './config';
import { routeResponse, type RouteResponse } from './replies';
import { describeError, makeTelemetry, type Telemetry } from './telemetry';

export interface Runtime extends Telemetry {
  config: Config;
  tableName: string;
  ddb: DynamoDBDocumentClient;
}

export function makeRuntime(env: EnvMap, serviceName: string): Runtime {
  const config = loadConfig(env, serviceName);
  const tableName = required(config.tableName, ENV.tableName);
  return { config, tableName, ddb: makeDocumentClient(config), ...makeTelemetry(config) };
}

/**
 * Run a two-way route's work; an unexpected failure (DynamoDB down, retries exhausted) is logged
 * and answered with INTERNAL instead of API Gateway's generic "Internal server error" text.
 */
export async function answerOrInternal(
  runtime: Runtime,
  keys: Record<string, unknown>,
  work: () => Promise<RouteResponse>,
  topics?: string[],
  /** A client publish's own id, named in the INTERNAL reply. */
  id?: string,
): Promise<RouteResponse> {
  try {
    return await work();
  } catch (error) {
    runtime.logger.error('request failed', { ...keys, error: describeError(error) });
    return routeResponse(errorReply('INTERNAL', 'the server could not complete this request; it is safe to retry', topics, id));
  }
}
