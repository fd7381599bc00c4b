import { expect } from 'chai';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../protocol/env';
import { errorReplySchema, serverMessageSchema, type ServerMessage } from '../../protocol/messages';
import { TABLE } from '../../protocol/table';
import { makeHandler as makeSubscribe } from '../../functions/handlers/subscribe';
import { makeHandler as makeUnsubscribe } from '../../functions/handlers/unsubscribe';
import { withFakeTable } from './fake-table';
import { messageEvent, testEnv } from './helpers';

const CONN = 'L0SM9cOFvHcCIhw=';
const EXPIRES = 1_900_000_000;

describe('subscribe and unsubscribe handlers', () => {
  const db = withFakeTable();
  beforeEach(() => {
    db.table.put({ connectionId: CONN, sk: TABLE.connectionSortKey, expiresAt: EXPIRES, subscriptionCount: 0 });
  });

  const send = async (handler: ReturnType<typeof makeSubscribe>, body: unknown, routeKey = 'subscribe'): Promise<ServerMessage> => {
    const result = await handler(messageEvent(CONN, typeof body === 'string' ? body : JSON.stringify(body), routeKey));
    expect(result.statusCode).to.equal(200);
    return serverMessageSchema.parse(JSON.parse(result.body));
  };
  const subscriptions = () =>
    db.table
      .rowsOf(CONN)
      .map((r) => String(r.sk))
      .filter((sk) => sk !== TABLE.connectionSortKey)
      .sort();
  const error = (reply: ServerMessage) => errorReplySchema.parse(reply);
  const count = () => db.table.connectionItem(CONN)?.subscriptionCount;

  describe('subscribe', () => {
    it('stores one subscription row per topic (with topic for the index, expiring with the connection) and replies subscribed', async () => {
      const reply = await send(makeSubscribe(testEnv()), { action: 'subscribe', topics: ['orders/42', 'chat:room.1'] });
      expect(reply).to.deep.equal({ type: 'subscribed', topics: ['orders/42', 'chat:room.1'] });
      expect(subscriptions()).to.deep.equal(['chat:room.1', 'orders/42']);
      const row = db.table.rowsOf(CONN).find((r) => r.sk === 'orders/42');
      expect(row).to.include({ connectionId: CONN, topic: 'orders/42', expiresAt: EXPIRES });
      expect(Date.parse(String(row?.subscribedAt))).to.be.a('number').and.not.NaN;
      expect(count()).to.equal(2);
    });

    it('is idempotent: re-subscribing writes nothing new and does not count twice against the cap', async () => {
      const handler = makeSubscribe(testEnv({ [ENV.maxSubscriptionsPerConnection]: '2' }));
      await send(handler, { action: 'subscribe', topics: ['a', 'b'] });
      db.ddb.resetHistory();
      expect(await send(handler, { action: 'subscribe', topics: ['b', 'a', 'a'] })).to.deep.equal({ type: 'subscribed', topics: ['b', 'a'] });
      expect(db.ddb.commandCalls(PutCommand)).to.have.length(0);
      expect(db.ddb.commandCalls(UpdateCommand)).to.have.length(0);
      expect(subscriptions()).to.deep.equal(['a', 'b']);
      expect(count()).to.equal(2);
    });

    it('de-duplicates topics within one request', async () => {
      const reply = await send(makeSubscribe(testEnv()), { action: 'subscribe', topics: ['x', 'y', 'x'] });
      expect(reply).to.deep.equal({ type: 'subscribed', topics: ['x', 'y'] });
      expect(subscriptions()).to.deep.equal(['x', 'y']);
    });

    it('answers BAD_REQUEST to bad JSON and to a subscribe message with a malformed body', async () => {
      const handler = makeSubscribe(testEnv());
      expect(error(await send(handler, '{"action":"subscribe","topics":['))).to.include({ code: 'BAD_REQUEST' });
      for (const body of [{ action: 'subscribe' }, { action: 'subscribe', topics: 'a' }, { action: 'subscribe', topics: [] }, { action: 'subscribe', topics: [1] }]) {
        expect(error(await send(handler, body)).code, JSON.stringify(body)).to.equal('BAD_REQUEST');
      }
      expect(error(await send(handler, { action: 'subscribe', topics: 'a' })).message).to.match(/malformed subscribe request: topics:/);
      expect(subscriptions()).to.deep.equal([]);
    });

    it('answers INVALID_TOPIC naming every bad topic, and writes none of the good ones', async () => {
      const handler = makeSubscribe(testEnv({ [ENV.maxTopicLength]: '10' }));
      const reply = error(await send(handler, { action: 'subscribe', topics: ['ok', '$connection', 'has space', 'ok2', 'x'.repeat(11), ''] }));
      expect(reply.code).to.equal('INVALID_TOPIC');
      expect(reply.topics).to.deep.equal(['$connection', 'has space', 'x'.repeat(11), '']);
      expect(reply.message).to.contain('at most 10 characters');
      expect(subscriptions()).to.deep.equal([]);
      expect(db.ddb.commandCalls(PutCommand)).to.have.length(0);
      expect(count()).to.equal(0);
    });

    it('answers TOO_MANY_TOPICS when existing plus new subscriptions exceed the cap, and changes nothing', async () => {
      const handler = makeSubscribe(testEnv({ [ENV.maxSubscriptionsPerConnection]: '3' }));
      await send(handler, { action: 'subscribe', topics: ['a', 'b'] });
      const reply = error(await send(handler, { action: 'subscribe', topics: ['a', 'c', 'd'] }));
      expect(reply.code).to.equal('TOO_MANY_TOPICS');
      expect(reply.topics).to.deep.equal(['c', 'd']);
      expect(reply.message).to.match(/at most 3 subscriptions; it has 2 and this request adds 2/);
      expect(subscriptions()).to.deep.equal(['a', 'b']);
      expect(count()).to.equal(2);
      // One request naming more topics than the cap is refused before reading the db.table.
      db.ddb.resetHistory();
      expect(error(await send(handler, { action: 'subscribe', topics: ['p', 'q', 'r', 's'] })).code).to.equal('TOO_MANY_TOPICS');
      expect(db.ddb.calls()).to.have.length(0);
    });

    it('answers FORBIDDEN naming the topics the principal may not use, and writes none', async () => {
      db.table.put({ connectionId: CONN, sk: TABLE.connectionSortKey, principal: 'u1', allowedTopics: ['orders/*', 'users/{sub}'], expiresAt: EXPIRES });
      const handler = makeSubscribe(testEnv());
      const reply = error(await send(handler, { action: 'subscribe', topics: ['orders/1', 'users/u1', 'users/u2', 'admin'] }));
      expect(reply).to.include({ code: 'FORBIDDEN' });
      expect(reply.topics).to.deep.equal(['users/u2', 'admin']);
      expect(subscriptions()).to.deep.equal([]);
      expect(await send(handler, { action: 'subscribe', topics: ['orders/1', 'users/u1'] })).to.deep.equal({ type: 'subscribed', topics: ['orders/1', 'users/u1'] });
    });

    it('refuses to subscribe a connection whose $connect record is missing (no orphan rows)', async () => {
      db.table.rows.clear();
      const reply = error(await send(makeSubscribe(testEnv()), { action: 'subscribe', topics: ['a'] }));
      expect(reply.code).to.equal('INTERNAL');
      expect(reply.message).to.match(/not registered.*reconnect/);
      expect(db.table.rows.size).to.equal(0);
    });

    it('answers PAYLOAD_TOO_LARGE to a body over the message size limit', async () => {
      const body = JSON.stringify({ action: 'subscribe', topics: ['a'], pad: 'x'.repeat(128 * 1024) });
      expect(error(await send(makeSubscribe(testEnv()), body)).code).to.equal('PAYLOAD_TOO_LARGE');
    });

    it('answers INTERNAL when DynamoDB fails', async () => {
      db.ddb.on(GetCommand).rejects(new Error('boom'));
      const reply = error(await send(makeSubscribe(testEnv()), { action: 'subscribe', topics: ['d'] }));
      expect(reply.code).to.equal('INTERNAL');
      expect(reply.message).to.not.contain('boom');
    });
  });

  describe('unsubscribe', () => {
    it('deletes the named subscriptions, ignores ones not held, lowers the count by the rows deleted, and replies unsubscribed', async () => {
      db.table.hold(CONN, 'a', 'b', 'c');
      const reply = await send(makeUnsubscribe(testEnv()), { action: 'unsubscribe', topics: ['a', 'c', 'zzz', 'a'] }, 'unsubscribe');
      expect(reply).to.deep.equal({ type: 'unsubscribed', topics: ['a', 'c', 'zzz'] });
      expect(subscriptions()).to.deep.equal(['b']);
      expect(count()).to.equal(1);
      expect(db.table.rowsOf(CONN).some((r) => r.sk === TABLE.connectionSortKey)).to.equal(true);
    });

    it('answers INVALID_TOPIC (so `$connection` can never be deleted) and BAD_REQUEST like subscribe', async () => {
      db.table.subscribe(CONN, 'a');
      const handler = makeUnsubscribe(testEnv());
      const reply = error(await send(handler, { action: 'unsubscribe', topics: ['a', '$connection'] }, 'unsubscribe'));
      expect(reply).to.include({ code: 'INVALID_TOPIC' });
      expect(reply.topics).to.deep.equal(['$connection']);
      expect(db.table.rowsOf(CONN)).to.have.length(2);
      expect(error(await send(handler, 'nope', 'unsubscribe')).code).to.equal('BAD_REQUEST');
      expect(error(await send(handler, { action: 'unsubscribe', topics: [] }, 'unsubscribe')).code).to.equal('BAD_REQUEST');
    });
  });
});
