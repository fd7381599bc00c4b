/**
 * The whole system: the connections table, the WebSocket API with its route functions, and the
 * publish pipeline, wired with least-privilege roles. `outputs` holds exactly the stack outputs
 * of protocol/outputs.ts.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { STACK_OUTPUT_KEYS } from '../protocol/outputs';
import { AUTHORIZER_HANDLER, DELIVER_HANDLER, LAMBDA_ROUTES, PUBLISH_HANDLER, type HandlerName } from '../protocol/routes';
import type { StackConfig } from './config';
import { ConnectionsTable } from './connections-table';
import { Dashboard, systemDashboardArgs } from './dashboard';
import { DeliveryPipeline } from './delivery-pipeline';
import { HistoryTable } from './history-table';
import { environmentFor, PRESENCE_HANDLERS, type EnvironmentSettings } from './function-env';
import type { FunctionSettings } from './lambda-function';
import { authSecretStatements, type AuthKeySource } from './policies/auth-secret';
import type { ArnContext } from './policies/document';
import { historyStatements } from './policies/history';
import { manageConnectionsStatement } from './policies/management-api';
import { sendDeliveryJobsStatement, sendToPublishQueueStatement } from './policies/queue';
import { tableStatements } from './policies/table';
import { PublishPipeline } from './publish-pipeline';
import { resolveArgs, type RealtimePubSubArgs } from './realtime-pubsub-args';
import { WebSocketApi, type ApiRef, type RouteHandlerName } from './websocket-api';

export type { RealtimePubSubArgs };
export type StackOutputKey = (typeof STACK_OUTPUT_KEYS)[number];
/** The stack outputs of protocol/outputs.ts, as outputs of the component. */
export type RealtimePubSubOutputs = Record<StackOutputKey, pulumi.Output<string>>;

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
  readonly history: HistoryTable;
  readonly api: WebSocketApi;
  readonly pipeline: PublishPipeline;
  readonly delivery: DeliveryPipeline;
  readonly dashboard: Dashboard;
  readonly outputs: RealtimePubSubOutputs;

  constructor(name: string, args: RealtimePubSubArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:RealtimePubSub', name, {}, opts);
    const { config: c, references } = resolveArgs(args);
    this.config = c;
    const invoke = { parent: this };
    const partition = aws.getPartitionOutput({}, invoke);
    const arn: ArnContext = {
      partition: partition.partition,
      dnsSuffix: partition.dnsSuffix,
      region: aws.getRegionOutput({}, invoke).region,
      accountId: aws.getCallerIdentityOutput({}, invoke).accountId,
    };

    this.table = new ConnectionsTable(`${name}-connections`, {}, { parent: this });
    this.history = new HistoryTable(`${name}-history`, {}, { parent: this });

    const keySource = authKeySource(c);
    // The relay (and, with presence topics, the functions that announce joins and leaves) send to
    // the publish queue, which the pipeline creates after the API: its URL and ARN are deferred.
    const [publishQueueUrl, resolvePublishQueueUrl] = pulumi.deferredOutput<string>();
    const [publishQueueArn, resolvePublishQueueArn] = pulumi.deferredOutput<string>();
    const presence = c.presenceTopics.length > 0;
    /** What a handler may do besides its own statements: send to the publish queue (relay; announcing presence). */
    const publishQueueStatements = (handler: HandlerName) =>
      handler === 'relay' || (presence && PRESENCE_HANDLERS.includes(handler)) ? [sendToPublishQueueStatement(publishQueueArn)] : [];
    const dataStatements = (handler: HandlerName) => [
      ...tableStatements(handler, this.table.arn, presence && PRESENCE_HANDLERS.includes(handler)),
      ...historyStatements(handler, this.history.arn),
      ...publishQueueStatements(handler),
    ];
    /** Settings for a function's environment; the delivery queues only for the functions that send jobs. */
    const envSettings = (managementEndpoint: pulumi.Input<string>, queues = { queueUrl: '' as pulumi.Input<string>, dlqUrl: '' as pulumi.Input<string> }): EnvironmentSettings => ({
      tableName: this.table.name,
      managementEndpoint,
      publishConcurrency: c.publishConcurrency,
      maxSubscriptionsPerConnection: c.maxSubscriptionsPerConnection,
      maxTopicLength: c.maxTopicLength,
      maxPublishBytes: c.maxPublishBytes,
      postConnectTimeoutMs: c.postConnectTimeoutMs,
      postRequestTimeoutMs: c.postRequestTimeoutMs,
      postMaxAttempts: c.postMaxAttempts,
      history: { tableName: this.history.name, retentionSeconds: c.historyRetentionSeconds, maxMessages: c.historyMaxMessages },
      delivery: {
        ...queues,
        sliceThreshold: c.sliceThreshold,
        sliceSize: c.sliceSize,
        maxAttempts: c.deliveryMaxAttempts,
        rateBudget: c.rateBudget,
        sliceBudgetPercent: c.sliceBudgetPercent,
      },
      auth: keySource ? { keySource, issuer: c.authIssuer || undefined, audience: c.authAudience || undefined } : undefined,
      publishQueueUrl,
      clientPublishPerSecond: c.clientPublishPerSecond,
      presence: presence ? { topics: c.presenceTopics, maxListed: c.presenceMaxListed } : undefined,
    });
    // Route functions reply through route responses; only subscribe posts (a resume's replay), so only it
    // sees the management endpoint and may post, to this API's stage.
    const routeFunction = (handler: HandlerName, statements: FunctionSettings['statements'], managementEndpoint: pulumi.Input<string> = ''): FunctionSettings => ({
      statements,
      environment: environmentFor(handler, envSettings(managementEndpoint)),
      memorySize: c.routeMemoryMb,
      timeout: c.routeTimeoutSeconds,
    });

    const routes = (api: ApiRef) => {
      const settings = {} as Record<RouteHandlerName, FunctionSettings>;
      for (const route of LAMBDA_ROUTES) {
        const statements = dataStatements(route.handler);
        settings[route.handler] =
          route.handler === 'subscribe'
            ? routeFunction(route.handler, [...statements, manageConnectionsStatement(arn, api.apiId, api.stageName)], api.managementEndpoint)
            : routeFunction(route.handler, statements);
      }
      return settings;
    };

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
          ? { domainName: c.customDomainName, certificateArn: references.customDomainCertificateArn!, hostedZoneId: references.customDomainZoneId }
          : undefined,
      },
      { parent: this },
    );

    const posting = (handler: HandlerName, queues: { queueArn: pulumi.Input<string>; dlqArn: pulumi.Input<string> }) => [
      ...dataStatements(handler),
      manageConnectionsStatement(arn, this.api.apiId, this.api.stageName),
      sendDeliveryJobsStatement([queues.queueArn, queues.dlqArn]),
    ];
    this.delivery = new DeliveryPipeline(
      `${name}-delivery`,
      {
        function: (queues) => ({
          statements: posting(DELIVER_HANDLER, queues),
          environment: environmentFor(DELIVER_HANDLER, envSettings(this.api.managementEndpoint, queues)),
          // Posting is CPU-bound, as publish's inline fan-out is: the same size.
          memorySize: c.publishMemoryMb,
        }),
        functionTimeoutSeconds: c.publishTimeoutSeconds,
        batchSize: c.deliveryBatchSize,
        maximumConcurrency: c.deliveryMaximumConcurrency,
        maxReceiveCount: c.maxReceiveCount,
        oldestMessageAlarmSeconds: c.oldestMessageAlarmSeconds,
        alarmTopicArn: references.alarmTopicArn,
        logRetentionDays: c.logRetentionDays,
        logLevel: c.logLevel,
      },
      { parent: this },
    );

    this.pipeline = new PublishPipeline(
      `${name}-pipeline`,
      {
        function: {
          statements: posting(PUBLISH_HANDLER, { queueArn: this.delivery.queueArn, dlqArn: this.delivery.dlqArn }),
          environment: environmentFor(PUBLISH_HANDLER, envSettings(this.api.managementEndpoint, this.delivery)),
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
        alarmTopicArn: references.alarmTopicArn,
        logRetentionDays: c.logRetentionDays,
        logLevel: c.logLevel,
      },
      { parent: this },
    );

    resolvePublishQueueUrl(this.pipeline.queueUrl);
    resolvePublishQueueArn(this.pipeline.queueArn);

    this.dashboard = new Dashboard(
      `${name}-dashboard`,
      systemDashboardArgs({ api: this.api, pipeline: this.pipeline, delivery: this.delivery, region: arn.region, partition: arn.partition }),
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
      historyTableName: this.history.name,
      deliveryQueueUrl: this.delivery.queueUrl,
      deliveryDlqUrl: this.delivery.dlqUrl,
      dashboardUrl: this.dashboard.url,
    };
    this.registerOutputs(this.outputs);
  }
}
