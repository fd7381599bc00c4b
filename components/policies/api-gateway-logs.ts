/**
 * The role API Gateway itself uses to write execution and access logs (an account-and-region
 * setting, required before a WebSocket stage may log at all). Scoped to this account's log
 * groups in this region: the setting serves every API there, not only ours.
 */
import * as pulumi from '@pulumi/pulumi';
import type { ArnContext, PolicyStatement } from './document';

export const API_GATEWAY_LOG_ACTIONS = [
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:DescribeLogGroups',
  'logs:DescribeLogStreams',
  'logs:PutLogEvents',
];

export function apiGatewayLogsStatement(arn: ArnContext): PolicyStatement {
  return {
    Sid: 'ApiGatewayWritesLogs',
    Effect: 'Allow',
    Action: API_GATEWAY_LOG_ACTIONS,
    Resource: [pulumi.interpolate`arn:${arn.partition}:logs:${arn.region}:${arn.accountId}:log-group:*`],
  };
}
