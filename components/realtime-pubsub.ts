/**
 * The whole system: the connections table, the WebSocket API with its route functions, and the
 * publish pipeline, wired with least-privilege roles. `outputs` holds exactly the stack outputs
 * of protocol/outputs.ts.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { STACK_OUTPUT_KEYS } from '../protocol/outputs';
import { AUTHORIZER_HANDLER, LAMBDA_ROUTES, PUBLISH_HANDLER, type HandlerName } from '../protocol/routes';
import { parseStackConfig, type StackConfig } from './config';
import { ConnectionsTable } from './connections-table';
import { environmentFor, type EnvironmentSettings } from './function-env';
import type { FunctionSettings } from './lambda-function';
import { authSecretStatements, type AuthKeySource } from './policies/auth-secret';
import type { ArnContext } from './policies/document';
import { manageConnectionsStatement } from './policies/management-api';
import { tableStatements } from './policies/table';
import { PublishPipeline } from './publish-pipeline';
import { WebSocketApi, type RouteHandlerName } from './websocket-api';

/** Every setting is optional; defaults are CONFIG_DEFAULTS (components/config.ts). */
export type RealtimePubSubArgs = Partial<StackConfig>;

export type StackOutputKey = (typeof STACK_OUTPUT_KEYS)[number];

/** The key source the authorizer uses, or undefined when auth is off. */
export function authKeySource(c: StackConfig): AuthKeySource | undefined {
  if (!c.authEnabled) return undefined;
  const kmsKeyArn = c.authKmsKeyArn || undefined;
  if (c.authSecretParameter) return { kind: 'ssm-parameter', name: c.authSecretParameter, kmsKeyArn };
  if (c.authSecretArn) return { kind: 'secrets-manager', secretArn: c.authSecretArn, kmsKeyArn };
  return { kind: 'jwks', url: c.authJwksUrl };
}

export class RealtimePubSub extends pulumi.ComponentResource {
  readonly config: StackConfig;
  readonly table: ConnectionsTable;
  readonly api: WebSocketApi;
  readonly pipeline: PublishPipeline;
  readonly outputs: Record<StackOutputKey, pulumi.Output<string>>;

  constructor(name: string, args: RealtimePubSubArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:RealtimePubSub', name, {}, opts);
    const c = (this.config = parseStackConfig(args));
    const invoke = { parent: this };
    const partition = aws.getPartitionOutput({}, invoke);
    const arn: ArnContext = {
      partition: partition.partition,
      dnsSuffix: partition.dnsSuffix,
      region: aws.getRegionOutput({}, invoke).region,
      accountId: aws.getCallerIdentityOutput({}, invoke).accountId,
    };

    this.table = new ConnectionsTable(`${name}-connections`, {}, { parent: this });

    const keySource = authKeySource(c);
    const envSettings = (managementEndpoint: pulumi.Input<string>): EnvironmentSettings => ({
      tableName: this.table.name,
      managementEndpoint,
      publishConcurrency: c.publishConcurrency,
      maxSubscriptionsPerConnection: c.maxSubscriptionsPerConnection,
      maxTopicLength: c.maxTopicLength,
      maxPublishBytes: c.maxPublishBytes,
      postConnectTimeoutMs: c.postConnectTimeoutMs,
      postRequestTimeoutMs: c.postRequestTimeoutMs,
      postMaxAttempts: c.postMaxAttempts,
      auth: keySource ? { keySource, issuer: c.authIssuer || undefined, audience: c.authAudience || undefined } : undefined,
    });
    // Route functions never see the management endpoint: they reply through route responses.
    const routeEnv = envSettings('');
    const routeFunction = (handler: HandlerName, statements: FunctionSettings['statements']): FunctionSettings => ({
      statements,
      environment: environmentFor(handler, routeEnv),
      memorySize: c.routeMemoryMb,
      timeout: c.routeTimeoutSeconds,
    });

    const routes = {} as Record<RouteHandlerName, FunctionSettings>;
    for (const route of LAMBDA_ROUTES) routes[route.handler] = routeFunction(route.handler, tableStatements(route.handler, this.table.arn));

    this.api = new WebSocketApi(
      `${name}-ws`,
      {
        stageName: c.stageName,
        routes,
        authorizer: keySource ? routeFunction(AUTHORIZER_HANDLER, authSecretStatements(arn, keySource)) : undefined,
        throttlingBurstLimit: c.throttlingBurstLimit,
        throttlingRateLimit: c.throttlingRateLimit,
        logRetentionDays: c.logRetentionDays,
        logLevel: c.logLevel,
        executionLogLevel: c.executionLogLevel,
        manageApiGatewayAccount: c.manageApiGatewayAccount,
        arn,
        customDomain: c.customDomainName
          ? { domainName: c.customDomainName, certificateArn: c.customDomainCertificateArn, hostedZoneId: c.customDomainZoneId || undefined }
          : undefined,
      },
      { parent: this },
    );

    this.pipeline = new PublishPipeline(
      `${name}-pipeline`,
      {
        function: {
          statements: [...tableStatements(PUBLISH_HANDLER, this.table.arn), manageConnectionsStatement(arn, this.api.apiId, this.api.stageName)],
          environment: environmentFor(PUBLISH_HANDLER, envSettings(this.api.managementEndpoint)),
          memorySize: c.publishMemoryMb,
          timeout: c.publishTimeoutSeconds,
        },
        batchSize: c.batchSize,
        maxBatchingWindowSeconds: c.maxBatchingWindowSeconds,
        maximumConcurrency: c.maximumConcurrency,
        maxReceiveCount: c.maxReceiveCount,
        eventBusName: c.eventBusName,
        eventRules: c.eventRules,
        oldestMessageAlarmSeconds: c.oldestMessageAlarmSeconds,
        alarmTopicArn: c.alarmTopicArn || undefined,
        logRetentionDays: c.logRetentionDays,
        logLevel: c.logLevel,
      },
      { parent: this },
    );

    this.outputs = {
      websocketUrl: this.api.websocketUrl,
      managementEndpoint: this.api.managementEndpoint,
      queueUrl: this.pipeline.queueUrl,
      queueArn: this.pipeline.queueArn,
      dlqUrl: this.pipeline.dlqUrl,
      eventBusName: this.pipeline.eventBusName,
      tableName: this.table.name,
    };
    this.registerOutputs(this.outputs);
  }
}
