/**
 * The members of presence topics, in the connections table (protocol/table.ts): per topic a
 * partition `$presence:<topic>` with one item per member (principal) and one count item.
 *
 * A member item holds the ids of the member's connections subscribed to the topic as a string
 * set. Adding and removing an id are idempotent (an SDK retry of a write whose answer was lost
 * changes nothing), and the set says when a principal's FIRST connection arrives (join) and its
 * LAST one goes (leave): several tabs are one member. The item's `expiresAt` is refreshed at each
 * join to what a connection opened now could live (protocol/table.ts), so it outlives every
 * connection in its set; a member whose connections all vanished without `$disconnect` expires.
 *
 * Costs (DynamoDB writes; docs/presence.md): a join is 1 UpdateItem (+1 on the count when it is
 * the principal's first connection); a leave is 1 UpdateItem (+ a GetItem per other connection of
 * the member, to drop the ones that are gone, + a DeleteItem and a count update when it was the
 * last). Listing reads at most `maxListed + 1` member items and the count item; below the cap,
 * a count that drifted from the list is written back (1 UpdateItem, only when they differ).
 */
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PresenceMember, PresenceState } from '../../../protocol/messages';
import { TABLE, expiresAtFor } from '../../../protocol/table';
import { isConditionalCheckFailed } from '../connection-rows';

/** Other connections a leave checks for liveness (a member rarely has more tabs; the rest expire). */
export const MAX_SIBLINGS_CHECKED = 10;

const CONNECTIONS = 'connections';
const DATA = 'data';
const MEMBERS = 'members';

export const presencePartition = (topic: string) => `${TABLE.presencePartitionPrefix}${topic}`;
const memberKey = (topic: string, principal: string) => ({ [TABLE.partitionKey]: presencePartition(topic), [TABLE.sortKey]: `${TABLE.presenceMemberPrefix}${principal}` });
const countKey = (topic: string) => ({ [TABLE.partitionKey]: presencePartition(topic), [TABLE.sortKey]: TABLE.presenceCountSortKey });

/** A change of membership: `count` is the members after it. */
export interface Transition {
  member: PresenceMember;
  count: number;
}

export interface MemberStoreDeps {
  ddb: DynamoDBDocumentClient;
  tableName: string;
  /** Is this connection still there? (its `$connection` item exists and has not expired) */
  isAlive(connectionId: string): Promise<boolean>;
  now?: () => number;
}

/** A member as subscribers see it: its principal and its token's `presence` claim. */
export function memberOf(principal: string, data: unknown): PresenceMember {
  if (typeof data !== 'string') return { id: principal };
  try {
    return { id: principal, data: JSON.parse(data) };
  } catch {
    return { id: principal };
  }
}

export class MemberStore {
  private readonly now: () => number;

  constructor(private readonly deps: MemberStoreDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Add a connection to the principal's member item; a transition when the item did not exist (the principal's first connection there). */
  async join(topic: string, principal: string, connectionId: string, data: string | undefined): Promise<Transition | undefined> {
    const { ddb, tableName } = this.deps;
    const expiresAt = expiresAtFor(this.now());
    const out = await ddb.send(
      new UpdateCommand({
        TableName: tableName,
        Key: memberKey(topic, principal),
        UpdateExpression: data === undefined ? 'ADD #c :c SET #e = :e REMOVE #d' : 'ADD #c :c SET #e = :e, #d = :d',
        ExpressionAttributeNames: { '#c': CONNECTIONS, '#e': TABLE.ttlAttribute, '#d': DATA },
        ExpressionAttributeValues: { ':c': new Set([connectionId]), ':e': expiresAt, ...(data === undefined ? {} : { ':d': data }) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    // Already a member (another tab, or this connection subscribing again): no transition. So is
    // an item whose set is empty: a leave removed its last connection and has not deleted it yet
    // (its delete, conditioned on an empty set, now fails): the member never left.
    if (out.Attributes !== undefined) return undefined;
    return { member: memberOf(principal, data), count: await this.addToCount(topic, 1, expiresAt) };
  }

  /**
   * Remove a connection from the principal's member item. When other connections remain, those
   * that are gone (closed without `$disconnect`, expired) are removed too; a transition when none
   * is left and the item could be deleted (a join that came meanwhile keeps it).
   */
  async leave(topic: string, principal: string, connectionId: string): Promise<Transition | undefined> {
    let remaining = await this.removeConnections(topic, principal, [connectionId]);
    if (remaining === undefined) return undefined; // not a member
    if (remaining.length > 0) {
      const checked = remaining.slice(0, MAX_SIBLINGS_CHECKED);
      const alive = await Promise.all(checked.map((id) => this.deps.isAlive(id)));
      const gone = checked.filter((_, i) => !alive[i]);
      if (gone.length === 0) return undefined;
      remaining = await this.removeConnections(topic, principal, gone);
      if (remaining === undefined || remaining.length > 0) return undefined;
    }
    return this.deleteMember(topic, principal, 'attribute_not_exists(#c)');
  }

  /** Who is in the topic: the members up to `maxListed` (expired ones left out), else only the count. */
  async list(topic: string, maxListed: number): Promise<{ state: PresenceState; expired: string[] }> {
    const { ddb, tableName } = this.deps;
    // The count is read alongside: a full list below the cap is the truth it is brought back to.
    const [page, counted] = await Promise.all([
      ddb.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :member)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey, '#d': DATA, '#e': TABLE.ttlAttribute },
          ExpressionAttributeValues: { ':pk': presencePartition(topic), ':member': TABLE.presenceMemberPrefix },
          ProjectionExpression: '#sk, #d, #e',
          Limit: maxListed + 1,
          ConsistentRead: true,
        }),
      ),
      this.countItem(topic),
    ]);
    const items = page.Items ?? [];
    const nowSeconds = Math.floor(this.now() / 1000);
    const principalOf = (item: Record<string, unknown>) => String(item[TABLE.sortKey]).slice(TABLE.presenceMemberPrefix.length);
    const expired = items.filter((item) => typeof item[TABLE.ttlAttribute] === 'number' && (item[TABLE.ttlAttribute] as number) <= nowSeconds).map(principalOf);
    if (items.length > maxListed || page.LastEvaluatedKey !== undefined) return { state: { count: Math.max(0, counted ?? 0) }, expired };
    // Expired members still count: their leave (expire()) lowers it.
    await this.correctCount(topic, counted, items.length);
    const members = items.filter((item) => !expired.includes(principalOf(item))).map((item) => memberOf(principalOf(item), item[DATA]));
    return { state: { members, count: members.length }, expired };
  }

  /** Remove a member item past its expiry (DynamoDB's TTL deletes it days later at worst): a leave. */
  expire(topic: string, principal: string): Promise<Transition | undefined> {
    return this.deleteMember(topic, principal, '#e <= :now', { ':now': Math.floor(this.now() / 1000) });
  }

  /** The member count (0 when the topic never had one). */
  async count(topic: string): Promise<number> {
    return Math.max(0, (await this.countItem(topic)) ?? 0);
  }

  /** The count item's value as stored (undefined when there is none). */
  private async countItem(topic: string): Promise<number | undefined> {
    const { ddb, tableName } = this.deps;
    const out = await ddb.send(new GetCommand({ TableName: tableName, Key: countKey(topic), ConsistentRead: true }));
    const stored = out.Item?.[MEMBERS];
    return stored === undefined ? undefined : Number(stored);
  }

  /**
   * The count drifts when a transition's count update is lost (a Lambda ended between the member
   * write and the count's): a full list says how many members there are, so a count that differs
   * is set to it, unless it changed since it was read (a join or leave meanwhile; the next list
   * sees it). A transition whose member write came before the read and its count update after it
   * can leave the count one off again, until the next full list.
   */
  private async correctCount(topic: string, seen: number | undefined, listed: number): Promise<void> {
    if ((seen ?? 0) === listed) return;
    const { ddb, tableName } = this.deps;
    try {
      await ddb.send(
        new UpdateCommand({
          TableName: tableName,
          Key: countKey(topic),
          UpdateExpression: 'SET #n = :n, #e = if_not_exists(#e, :e)',
          ConditionExpression: seen === undefined ? 'attribute_not_exists(#n)' : '#n = :seen',
          ExpressionAttributeNames: { '#n': MEMBERS, '#e': TABLE.ttlAttribute },
          ExpressionAttributeValues: { ':n': listed, ':e': expiresAtFor(this.now()), ...(seen === undefined ? {} : { ':seen': seen }) },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /** The connections left in the member item after removing `ids`, or undefined when there is no such member. */
  private async removeConnections(topic: string, principal: string, ids: string[]): Promise<string[] | undefined> {
    const { ddb, tableName } = this.deps;
    try {
      const out = await ddb.send(
        new UpdateCommand({
          TableName: tableName,
          Key: memberKey(topic, principal),
          UpdateExpression: 'DELETE #c :c',
          // An update of a missing item would create a bare one.
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#c': CONNECTIONS, '#pk': TABLE.partitionKey },
          ExpressionAttributeValues: { ':c': new Set(ids) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const left = out.Attributes?.[CONNECTIONS] as Set<string> | undefined;
      return left ? [...left] : [];
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
  }

  /** Delete the member item under `condition`; a transition (with the count lowered) when it was deleted. */
  private async deleteMember(topic: string, principal: string, condition: string, values?: Record<string, unknown>): Promise<Transition | undefined> {
    const { ddb, tableName } = this.deps;
    let old: Record<string, unknown> | undefined;
    try {
      const out = await ddb.send(
        new DeleteCommand({
          TableName: tableName,
          Key: memberKey(topic, principal),
          ConditionExpression: `attribute_exists(#pk) AND ${condition}`,
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, ...(condition.includes('#c') ? { '#c': CONNECTIONS } : {}), ...(condition.includes('#e') ? { '#e': TABLE.ttlAttribute } : {}) },
          ...(values ? { ExpressionAttributeValues: values } : {}),
          ReturnValues: 'ALL_OLD',
        }),
      );
      old = out.Attributes;
    } catch (error) {
      // A connection joined meanwhile (or the item is gone, or not expired): no leave.
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
    if (!old) return undefined;
    return { member: memberOf(principal, old[DATA]), count: await this.addToCount(topic, -1) };
  }

  /** Move the member count by `delta` (never below 0); the count after it. */
  private async addToCount(topic: string, delta: number, expiresAt?: number): Promise<number> {
    const { ddb, tableName } = this.deps;
    try {
      const out = await ddb.send(
        new UpdateCommand({
          TableName: tableName,
          Key: countKey(topic),
          UpdateExpression: expiresAt === undefined ? 'ADD #n :d' : 'ADD #n :d SET #e = :e',
          ...(delta < 0 ? { ConditionExpression: '#n >= :one' } : {}),
          ExpressionAttributeNames: { '#n': MEMBERS, ...(expiresAt === undefined ? {} : { '#e': TABLE.ttlAttribute }) },
          ExpressionAttributeValues: { ':d': delta, ...(delta < 0 ? { ':one': 1 } : {}), ...(expiresAt === undefined ? {} : { ':e': expiresAt }) },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Math.max(0, Number(out.Attributes?.[MEMBERS] ?? 0));
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 0;
      throw error;
    }
  }
}
