/**
 * The components, as another Pulumi program imports them:
 *
 *   import { RealtimePubSub } from 'aws-realtime-pubsub/components';
 *   const realtime = new RealtimePubSub('realtime', { alarmTopicArn: alerts.arn }, { transforms: [...] });
 *   export const websocketUrl = realtime.outputs.websocketUrl;
 *
 * RealtimePubSub is the whole system; the parts are exported for programs that compose their own.
 * The package ships TypeScript: the consuming program runs through tsx, as this one does
 * (Pulumi.yaml: `nodeargs: "--import tsx"`). See examples/existing-stack/.
 */
export { RealtimePubSub, authKeySource, type RealtimePubSubOutputs, type StackOutputKey } from './realtime-pubsub';
export { RESOURCE_REFERENCE_KEYS, resolveArgs, type RealtimePubSubArgs, type ResolvedArgs, type ResourceReferenceKey } from './realtime-pubsub-args';
export { CONFIG_DEFAULTS, parseStackConfig, readStackConfig, type ConfigKey, type StackConfig } from './config';
export { STACK_OUTPUT_KEYS, stackOutputsSchema, type StackOutputs } from '../protocol/outputs';
export type { EventRule } from '../protocol/rules';

export { ConnectionsTable, type ConnectionsTableArgs } from './connections-table';
export { HistoryTable, type HistoryTableArgs } from './history-table';
export { WebSocketApi, type ApiRef, type CustomDomainArgs, type RouteHandlerName, type WebSocketApiArgs } from './websocket-api';
export { PublishPipeline, type PublishPipelineArgs } from './publish-pipeline';
export { DeliveryPipeline, type DeliveryPipelineArgs, type DeliveryQueues } from './delivery-pipeline';
export { LambdaFunction, serviceNameFor, type FunctionSettings, type LambdaFunctionArgs, type LogLevel } from './lambda-function';
export {
  Dashboard,
  dashboardBody,
  dashboardUrl,
  systemDashboardArgs,
  type DashboardArgs,
  type DashboardFunction,
  type DashboardQueue,
  type DashboardSpec,
  type FanOutService,
  type SystemParts,
} from './dashboard';
export { AWS_METRICS, EMF_METRICS, type AwsMetricFamily } from './cloudwatch-metrics';
export type { ArnContext, PolicyStatement } from './policies/document';
