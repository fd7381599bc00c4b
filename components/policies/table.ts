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
  // UpdateItem of the $connection item's publish window (rate limit, returning the item); GetItem
  // when the window is full, to tell a full second from a missing connection.
  relay: { table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], topicIndex: [] },
  // Query byTopic for subscribers; on 410 Gone, Query the dead connection's rows and BatchWriteItem
  // deletes; UpdateItem of the rate ledger's item of the second (rate-budget.ts).
  publish: { table: ['dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], topicIndex: ['dynamodb:Query'] },
  // Posts delivery jobs: the same 410 cleanup and rate ledger as publish, no index.
  deliver: { table: ['dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], topicIndex: [] },
  authorizer: { table: [], topicIndex: [] },
};

/**
 * With presence topics, what joining and leaving adds (functions/lib/presence/): GetItem of the
 * `$connection` item (its principal; whether a member's other connections are alive), UpdateItem
 * of member and count items, DeleteItem of a member that left, Query of a topic's members, and
 * the rows' cleanup of a connection found gone (Query, BatchWriteItem). Handlers that list
 * members or forget connections get the whole set; unsubscribe only leaves (Presence.leave).
 */
const PRESENCE_ACTIONS = ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'] as const;
/** Leaving alone: GetItem of `$connection` items, UpdateItem of the member and count, DeleteItem of a member that left. */
const PRESENCE_LEAVE_ACTIONS = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;
export const PRESENCE_TABLE_ACCESS: Partial<Record<HandlerName, readonly string[]>> = {
  subscribe: PRESENCE_ACTIONS,
  unsubscribe: PRESENCE_LEAVE_ACTIONS,
  disconnect: PRESENCE_ACTIONS,
  publish: PRESENCE_ACTIONS,
  deliver: PRESENCE_ACTIONS,
};

export function topicIndexArn(tableArn: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`${tableArn}/index/${TABLE.topicIndex}`;
}

/** The handler's DynamoDB statements (none when it does not touch the table). */
export function tableStatements(handler: HandlerName, tableArn: pulumi.Input<string>, presence = false): PolicyStatement[] {
  const access = TABLE_ACCESS[handler];
  const statements: PolicyStatement[] = [];
  const actions = [...new Set([...access.table, ...(presence ? (PRESENCE_TABLE_ACCESS[handler] ?? []) : [])])].sort();
  if (actions.length > 0) {
    statements.push({ Sid: 'ConnectionsTable', Effect: 'Allow', Action: actions, Resource: [tableArn] });
  }
  if (access.topicIndex.length > 0) {
    statements.push({ Sid: 'ConnectionsByTopic', Effect: 'Allow', Action: [...access.topicIndex], Resource: [topicIndexArn(tableArn)] });
  }
  return statements;
}
