import { expect } from 'chai';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { AUTH_CONTEXT, SUBPROTOCOL } from '../../protocol/auth';
import { TABLE, expiresAtFor } from '../../protocol/table';
import { makeHandler, type ConnectEvent } from '../../functions/handlers/connect';
import { withFakeTable } from './fake-table';
import { testEnv } from './helpers';

const connectedAt = Date.UTC(2025, 0, 2, 3, 4, 5);

function connectEvent(overrides: Partial<ConnectEvent['requestContext']> = {}, headers: Record<string, string> = {}): ConnectEvent {
  return {
    headers: { Host: 'abc.execute-api.us-east-1.amazonaws.com', ...headers },
    requestContext: { connectionId: 'L0SM9cOFvHcCIhw=', connectedAt, identity: { sourceIp: '203.0.113.9' }, ...overrides },
  };
}

describe('$connect handler', () => {
  const db = withFakeTable();

  it('stores the connection item with time, source ip, expiry and a subscription count of 0, and no topic attribute', async () => {
    const result = await makeHandler(testEnv())(connectEvent());
    expect(result).to.deep.equal({ statusCode: 200 });
    expect(db.table.rowsOf('L0SM9cOFvHcCIhw=')).to.deep.equal([
      {
        connectionId: 'L0SM9cOFvHcCIhw=',
        sk: TABLE.connectionSortKey,
        connectedAt: new Date(connectedAt).toISOString(),
        sourceIp: '203.0.113.9',
        expiresAt: expiresAtFor(connectedAt),
        subscriptionCount: 0,
      },
    ]);
    expect(db.ddb.commandCalls(PutCommand)[0].args[0].input.Item).to.not.have.property(TABLE.topicAttribute);
  });

  it("stores the authorizer's principal and allowed topic patterns", async () => {
    const authorizer = { principalId: 'user-7', [AUTH_CONTEXT.principal]: 'user-7', [AUTH_CONTEXT.topics]: '["orders/*","users/{sub}"]' };
    await makeHandler(testEnv())(connectEvent({ authorizer }));
    const [row] = db.table.rowsOf('L0SM9cOFvHcCIhw=');
    expect(row.principal).to.equal('user-7');
    expect(row.allowedTopics).to.deep.equal(['orders/*', 'users/{sub}']);
  });

  it('refuses the connection (500, nothing stored) when the authorizer context is malformed', async () => {
    const authorizer = { principalId: 'user-7', [AUTH_CONTEXT.principal]: 'user-7', [AUTH_CONTEXT.topics]: 'orders/*' };
    const result = await makeHandler(testEnv())(connectEvent({ authorizer }));
    expect(result.statusCode).to.equal(500);
    expect(db.table.rows.size).to.equal(0);
  });

  it('echoes the realtime subprotocol only when the client offered it', async () => {
    const handler = makeHandler(testEnv());
    const echoed = { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': SUBPROTOCOL } };
    expect(await handler(connectEvent({}, { 'Sec-WebSocket-Protocol': 'realtime, bearer.eyJhbGciOi' }))).to.deep.equal(echoed);
    expect(await handler(connectEvent({}, { 'sec-websocket-protocol': 'realtime' }))).to.deep.equal(echoed);
    expect(await handler({ ...connectEvent(), multiValueHeaders: { 'Sec-WebSocket-Protocol': ['bearer.x', 'realtime'] } })).to.deep.equal(echoed);
    expect(await handler(connectEvent({}, { 'Sec-WebSocket-Protocol': 'graphql-ws' }))).to.deep.equal({ statusCode: 200 });
    expect(await handler(connectEvent({}, { 'Sec-WebSocket-Protocol': 'realtimex' }))).to.deep.equal({ statusCode: 200 });
  });

  it('rejects the connection with 500 when the item cannot be stored', async () => {
    db.ddb.on(PutCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    expect(await makeHandler(testEnv())(connectEvent())).to.deep.equal({ statusCode: 500 });
  });
});
