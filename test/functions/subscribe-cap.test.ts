/**
 * The per-connection subscription cap under concurrency. API Gateway runs one connection's
 * messages side by side, so subscribe must never read a count and then write regardless: it
 * reserves on the `$connection` item's `subscriptionCount` with a conditional update. The fake
 * table evaluates condition expressions and interleaves concurrent invocations between calls.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SUBSCRIPTION_COUNT } from '../../functions/lib/connection-rows';
import { makeHandler as makeSubscribe } from '../../functions/handlers/subscribe';
import { makeHandler as makeUnsubscribe } from '../../functions/handlers/unsubscribe';
import { makeHandler as makeDisconnect } from '../../functions/handlers/disconnect';
import { ENV } from '../../protocol/env';
import { serverMessageSchema, type ServerMessage } from '../../protocol/messages';
import { TABLE } from '../../protocol/table';
import { FakeTable, withFakeTable } from './fake-table';
import { messageEvent, testEnv } from './helpers';

const CONN = 'L0SM9cOFvHcCIhw=';
const topicsOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}/${i}`);

describe('subscription cap under concurrent requests', () => {
  const db = withFakeTable();
  const register = (table: FakeTable, extra: Record<string, unknown> = { [SUBSCRIPTION_COUNT]: 0 }) =>
    table.put({ connectionId: CONN, sk: TABLE.connectionSortKey, expiresAt: 1_900_000_000, ...extra });
  beforeEach(() => register(db.table));

  const handlers = (cap: number) => {
    const env = testEnv({ [ENV.maxSubscriptionsPerConnection]: String(cap) });
    return { subscribe: makeSubscribe(env), unsubscribe: makeUnsubscribe(env) };
  };
  const call = async (handler: ReturnType<typeof makeSubscribe>, action: 'subscribe' | 'unsubscribe', topics: string[]): Promise<ServerMessage> => {
    const result = await handler(messageEvent(CONN, JSON.stringify({ action, topics }), action));
    return serverMessageSchema.parse(JSON.parse(result.body));
  };
  const held = (table = db.table) =>
    table
      .rowsOf(CONN)
      .map((r) => String(r.sk))
      .filter((sk) => sk !== TABLE.connectionSortKey)
      .sort();
  const count = (table = db.table) => table.connectionItem(CONN)?.[SUBSCRIPTION_COUNT];
  const codes = (replies: ServerMessage[]) => replies.map((r) => (r.type === 'error' ? r.code : r.type));

  it('50 simultaneous subscribes of 100 new topics each, cap 100: one is granted, 49 are TOO_MANY_TOPICS, 100 rows', async () => {
    const { subscribe } = handlers(100);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, r) => call(subscribe, 'subscribe', topicsOf(`r${r}`, 100))));
    expect(codes(replies).filter((c) => c === 'subscribed')).to.have.length(1);
    expect(codes(replies).filter((c) => c === 'TOO_MANY_TOPICS')).to.have.length(49);
    expect(held()).to.have.length(100);
    expect(db.table.peakSubscriptions.get(CONN)).to.equal(100);
    expect(count()).to.equal(100);
    // Every refusal was decided by the conditional update, after reading an empty connection.
    expect(db.ddb.commandCalls(UpdateCommand)).to.have.length(50);
  });

  it('simultaneous subscribes of the same topics all succeed and count each topic once', async () => {
    const { subscribe } = handlers(100);
    const topics = ['a', 'b', 'c', 'd', 'e'];
    const replies = await Promise.all(Array.from({ length: 10 }, () => call(subscribe, 'subscribe', topics)));
    expect(replies).to.deep.equal(Array(10).fill({ type: 'subscribed', topics }));
    expect(held()).to.deep.equal(topics);
    // Each request reserved 5; all but the writer of each row gave theirs back.
    expect(count()).to.equal(5);
  });

  it('simultaneous unsubscribes of the same topics lower the count by the rows deleted, never below 0', async () => {
    const { unsubscribe } = handlers(100);
    db.table.hold(CONN, 'a', 'b', 'c');
    const replies = await Promise.all(Array.from({ length: 10 }, () => call(unsubscribe, 'unsubscribe', ['a', 'b', 'zzz'])));
    expect(codes(replies)).to.deep.equal(Array(10).fill('unsubscribed'));
    expect(held()).to.deep.equal(['c']);
    expect(count()).to.equal(1);
  });

  it('any interleaving of subscribes and unsubscribes keeps rows ≤ cap and ends with the count equal to the rows', async () => {
    const CAP = 5;
    const topic = fc.constantFrom('t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7');
    const request = fc.record({ action: fc.constantFrom<'subscribe' | 'unsubscribe'>('subscribe', 'subscribe', 'unsubscribe'), topics: fc.uniqueArray(topic, { minLength: 1, maxLength: 4 }) });
    const { subscribe, unsubscribe } = handlers(CAP);
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 25 }), async (requests) => {
        db.ddb.reset();
        const table = new FakeTable().install(db.ddb);
        register(table);
        const replies = await Promise.all(requests.map((r) => call(r.action === 'subscribe' ? subscribe : unsubscribe, r.action, r.topics)));
        for (const c of codes(replies)) expect(['subscribed', 'unsubscribed', 'TOO_MANY_TOPICS']).to.include(c);
        expect(table.peakSubscriptions.get(CONN) ?? 0).to.be.at.most(CAP);
        expect(count(table)).to.equal(held(table).length);
      }),
      { numRuns: 60, seed: 20240611 },
    );
  });

  it('a write that fails takes back the rows it added and the units it reserved (all or nothing)', async () => {
    const { subscribe } = handlers(10);
    db.table.hold(CONN, 'a');
    db.ddb.on(PutCommand, { Item: { sk: 'c' } }).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
    const reply = await call(subscribe, 'subscribe', ['a', 'b', 'c', 'd']);
    expect(reply).to.include({ type: 'error', code: 'INTERNAL' });
    expect(held()).to.deep.equal(['a']);
    expect(count()).to.equal(1);
  });

  it('counts a connection item written before the count existed from its rows, then enforces the cap', async () => {
    const { subscribe } = handlers(4);
    register(db.table, {});
    db.table.subscribe(CONN, 'a', 'b', 'c');
    expect(count()).to.equal(undefined);
    expect(await call(subscribe, 'subscribe', ['d', 'e'])).to.include({ code: 'TOO_MANY_TOPICS' });
    const replies = await Promise.all([call(subscribe, 'subscribe', ['d']), call(subscribe, 'subscribe', ['e'])]);
    expect(codes(replies).sort()).to.deep.equal(['TOO_MANY_TOPICS', 'subscribed']);
    expect(held()).to.have.length(4);
    expect(count()).to.equal(4);
  });

  it('never creates a bare connection item: a connection gone mid-request gets no rows and no count', async () => {
    const { subscribe, unsubscribe } = handlers(10);
    // $disconnect removes the item between subscribe's read of it and its reservation.
    db.ddb.on(QueryCommand).callsFake((input) => {
      db.table.rows.clear();
      return db.table.query(input);
    });
    expect(await call(subscribe, 'subscribe', ['a'])).to.include({ code: 'INTERNAL' });
    expect(db.table.rows.size).to.equal(0);
    db.table.put({ connectionId: CONN, sk: 'orphan', topic: 'orphan', expiresAt: 1 });
    expect(await call(unsubscribe, 'unsubscribe', ['orphan'])).to.deep.equal({ type: 'unsubscribed', topics: ['orphan'] });
    expect(db.table.rows.size).to.equal(0);
  });

  describe('races with SDK retries, rollbacks and $disconnect', () => {
    const throttled = () => Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' });

    it('a put the SDK retried after it had committed (the retry gets its own row back as ALL_OLD) still counts as created', async () => {
      const { subscribe } = handlers(10);
      db.ddb.on(PutCommand, { Item: { sk: 'b' } }).callsFake((input) => {
        db.table.put(input.Item); // the first attempt commits, its response is lost; the retry:
        return { Attributes: structuredClone(input.Item) };
      });
      expect(await call(subscribe, 'subscribe', ['a', 'b'])).to.deep.equal({ type: 'subscribed', topics: ['a', 'b'] });
      expect(held()).to.deep.equal(['a', 'b']);
      expect(count()).to.equal(2);
    });

    it("a failed request's rollback leaves a row another request wrote since and reported subscribed", async () => {
      const { subscribe } = handlers(10);
      // S1 [a, b] and S2 [a]: both read no rows; S1 creates a, S2 then writes a (it exists:
      // subscribed), S1's write of b fails and it rolls back.
      let s2: Promise<ServerMessage> | undefined;
      let s2Queried!: () => void;
      let releaseS2!: () => void;
      const s2HasQueried = new Promise<void>((r) => (s2Queried = r));
      const s2Gate = new Promise<void>((r) => (releaseS2 = r));
      let queries = 0;
      db.table.afterCall = async (command, input) => {
        if (command === 'QueryCommand' && ++queries === 1) {
          s2 = call(subscribe, 'subscribe', ['a']);
          await s2HasQueried;
        } else if (command === 'QueryCommand' && queries === 2) {
          s2Queried();
          await s2Gate;
        } else if (command === 'PutCommand' && (input.Item as Record<string, unknown>).sk === 'a') releaseS2();
      };
      db.ddb.on(PutCommand, { Item: { sk: 'b' } }).callsFake(async () => {
        await s2;
        throw throttled();
      });
      const s1 = await call(subscribe, 'subscribe', ['a', 'b']);
      expect(s1).to.include({ type: 'error', code: 'INTERNAL' });
      expect(await s2).to.deep.equal({ type: 'subscribed', topics: ['a'] });
      const putsOfA = db.ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.Item?.sk === 'a');
      expect(putsOfA).to.have.length(2);
      expect(held()).to.deep.equal(['a']);
      expect(count()).to.equal(1);
    });

    // Run $disconnect after each call of a subscribe in turn: whichever call it follows, no row
    // outlives the connection, and the reply is `subscribed` only if $disconnect came after it all.
    const callsOfOneSubscribe = 6; // Get, Query, Update (reserve), Put a, Put b, Get (re-read)
    for (let after = 1; after <= callsOfOneSubscribe; after++) {
      it(`$disconnect right after call ${after} of a subscribe leaves no row behind`, async () => {
        const { subscribe } = handlers(10);
        const disconnect = makeDisconnect(testEnv());
        let calls = 0;
        db.table.afterCall = async () => {
          if (++calls !== after) return;
          await disconnect({ requestContext: { connectionId: CONN, disconnectStatusCode: 1001 } });
        };
        const reply = await call(subscribe, 'subscribe', ['a', 'b']);
        expect(db.table.rowsOf(CONN)).to.deep.equal([]);
        if (after === callsOfOneSubscribe) expect(reply).to.deep.equal({ type: 'subscribed', topics: ['a', 'b'] });
        else expect(reply).to.include({ type: 'error', code: 'INTERNAL' }).and.property('message').match(after >= 3 ? /connection closed/ : /not registered/);
      });
    }

    it(`an undisturbed subscribe of two new topics makes exactly those ${callsOfOneSubscribe} calls`, async () => {
      const { subscribe } = handlers(10);
      expect(await call(subscribe, 'subscribe', ['a', 'b'])).to.include({ type: 'subscribed' });
      const names = db.ddb.calls().map((c) => (c.args[0] as object).constructor.name);
      expect(names).to.deep.equal(['GetCommand', 'QueryCommand', 'UpdateCommand', 'PutCommand', 'PutCommand', 'GetCommand']);
    });
  });
});
