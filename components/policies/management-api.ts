/**
 * `execute-api:ManageConnections` for the publish function: POST to connections of this API's
 * stage only. (GET/DELETE would need their own `…/GET|DELETE/@connections/*` entries; publish
 * does not use them.)
 */
import * as pulumi from '@pulumi/pulumi';
import type { ArnContext, PolicyStatement } from './document';

export type ManagementMethod = 'POST' | 'GET' | 'DELETE';

export function manageConnectionsArn(
  arn: ArnContext,
  apiId: pulumi.Input<string>,
  stage: pulumi.Input<string>,
  method: ManagementMethod = 'POST',
): pulumi.Output<string> {
  return pulumi.interpolate`arn:${arn.partition}:execute-api:${arn.region}:${arn.accountId}:${apiId}/${stage}/${method}/@connections/*`;
}

export function manageConnectionsStatement(
  arn: ArnContext,
  apiId: pulumi.Input<string>,
  stage: pulumi.Input<string>,
  methods: readonly ManagementMethod[] = ['POST'],
): PolicyStatement {
  return {
    Sid: 'PostToConnections',
    Effect: 'Allow',
    Action: ['execute-api:ManageConnections'],
    Resource: methods.map((m) => manageConnectionsArn(arn, apiId, stage, m)),
  };
}
