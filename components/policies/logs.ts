/** A function writes to its own log group, nothing else (the group exists: no CreateLogGroup). */
import * as pulumi from '@pulumi/pulumi';
import type { PolicyStatement } from './document';

export const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];

export function logGroupWriteStatement(logGroupArn: pulumi.Input<string>): PolicyStatement {
  // Log streams are addressed as `<group arn>:log-stream:<name>`; `:*` covers this group's streams only.
  return { Sid: 'WriteOwnLogGroup', Effect: 'Allow', Action: LOG_WRITE_ACTIONS, Resource: [pulumi.interpolate`${logGroupArn}:*`] };
}
