/**
 * DynamoDB access per handler: exactly the operations each handler's code sends (read from
 * functions/handlers and functions/lib; keep in step with them).
 */
import * as pulumi from '@pulumi/pulumi';
import type { HandlerName } from '../../protocol/routes';
import { TABLE } from '../../protocol/table';
import type { PolicyStatement } from './document';

interface TableAccess {
  /** Actions on the table itself. */
  table: readonly string[];
  /** Actions on the byTopic index. */
  topicIndex: readonly string[];
}

export const TABLE_ACCESS: Record<HandlerName, TableAccess> = {
  // PutCommand of the $connection item.
  connect: { table: ['dynamodb:PutItem'], topicIndex: [] },
  // Query the connection's partition, then BatchWriteItem deletes (deleteConnectionRows).
  disconnect: { table: ['dynamodb:BatchWriteItem', 'dynamodb:Query'], topicIndex: [] },
  // GetItem of the $connection item, Query of its subscriptions, UpdateItem of its
  // subscriptionCount (reserve / release under the cap), PutItem of each row (ALL_OLD tells a
  // new row), DeleteItem of the rows it takes back when a write fails; BatchWriteItem deletes
  // when a replay finds the connection gone (410).
  subscribe: { table: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], topicIndex: [] },
  // DeleteItem of each named topic (ALL_OLD tells a deleted row), UpdateItem of subscriptionCount.
  unsubscribe: { table: ['dynamodb:DeleteItem', 'dynamodb:UpdateItem'], topicIndex: [] },
  // Answers unknown actions from the frame alone.
  default: { table: [], topicIndex: [] },
  // Query byTopic for subscribers; on 410 Gone, Query the dead connection's rows and BatchWriteItem
  // deletes; UpdateItem of the rate ledger's item of the second (rate-budget.ts).
  publish: { table: ['dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], topicIndex: ['dynamodb:Query'] },
  // Posts delivery jobs: the same 410 cleanup and rate ledger as publish, no index.
  deliver: { table: ['dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], topicIndex: [] },
  authorizer: { table: [], topicIndex: [] },
};

export function topicIndexArn(tableArn: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`${tableArn}/index/${TABLE.topicIndex}`;
}

/** The handler's DynamoDB statements (none when it does not touch the table). */
export function tableStatements(handler: HandlerName, tableArn: pulumi.Input<string>): PolicyStatement[] {
  const access = TABLE_ACCESS[handler];
  const statements: PolicyStatement[] = [];
  if (access.table.length > 0) {
    statements.push({ Sid: 'ConnectionsTable', Effect: 'Allow', Action: [...access.table], Resource: [tableArn] });
  }
  if (access.topicIndex.length > 0) {
    statements.push({ Sid: 'ConnectionsByTopic', Effect: 'Allow', Action: [...access.topicIndex], Resource: [topicIndexArn(tableArn)] });
  }
  return statements;
}
