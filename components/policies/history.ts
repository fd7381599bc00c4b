/**
 * History table access per handler: exactly the operations each handler's code sends (see
 * functions/lib/history; keep in step with it).
 */
import type * as pulumi from '@pulumi/pulumi';
import type { HandlerName } from '../../protocol/routes';
import type { PolicyStatement } from './document';

export const HISTORY_ACCESS: Partial<Record<HandlerName, readonly string[]>> = {
  // sequencer.ts: GetItem of a claim, UpdateItem of the stream's head, PutItem of the claim and
  // the message, DeleteItem of the message the count limit drops.
  publish: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  // replay.ts: GetItem of the stream (UpdateItem creates it on first use), Query of a replay.
  subscribe: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
};

export function historyStatements(handler: HandlerName, tableArn: pulumi.Input<string>): PolicyStatement[] {
  const actions = HISTORY_ACCESS[handler];
  return actions ? [{ Sid: 'HistoryTable', Effect: 'Allow', Action: [...actions], Resource: [tableArn] }] : [];
}
