/**
 * unsubscribe of a presence topic racing the connection's $disconnect, against dynalite: the
 * unsubscribe handler talks to DynamoDB through a proxy that runs the whole $disconnect right
 * after the unsubscribe's delete of the subscription row is answered (the worst interleaving: the
 * cleanup then finds no row of the topic to leave). The member must still leave, once. The
 * calls the unsubscribe makes are those its narrowed IAM grant allows.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { makeHandler as makeDisconnect } from '../../functions/handlers/disconnect';
import { makeHandler as makeUnsubscribe } from '../../functions/handlers/unsubscribe';
import { Presence } from '../../functions/lib/presence';
import { LOCAL_CREDENTIALS } from '../../local/constants';
import { ENV } from '../../protocol/env';
import type { PresenceEnvelope } from '../../protocol/envelope';
import { createTableInput, expiresAtFor, TABLE } from '../../protocol/table';
import { tableActive, withDynalite } from './dynalite';
import { messageEvent, testEnv } from './helpers';

const PUBLISH_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/publish';

/** Forwards DynamoDB calls to `target`; `after(target, body)` runs once a call is answered, before the answer is passed on. */
async function proxyTo(target: string, after: (amzTarget: string, body: Record<string, unknown>) => Promise<void>): Promise<Server & { url: string }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length' && k !== 'connection')) as Record<string, string>;
    const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, body });
    const text = await answer.text();
    await after(String(req.headers['x-amz-target'] ?? ''), JSON.parse(body) as Record<string, unknown>);
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/x-amz-json-1.0' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return Object.assign(server, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

describe('unsubscribe of a presence topic racing $disconnect (dynalite)', () => {
  const dynamo = withDynalite();
  let sqs: AwsClientStub<SQSClient>;
  let tableName: string;
  let tables = 0;
  let proxy: (Server & { url: string }) | undefined;
  before(() => (sqs = mockClient(SQSClient)));
  after(() => sqs.restore());
  afterEach(async () => {
    proxy?.closeAllConnections();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    proxy = undefined;
  });
  beforeEach(async () => {
    tableName = `unsub-presence-${++tables}`;
    await dynamo.createTable(createTableInput(tableName));
    await tableActive(dynamo.ddb, tableName);
  });

  const env = (endpoint: string) =>
    testEnv({
      [ENV.tableName]: tableName,
      [ENV.presenceTopics]: '["room/*"]',
      [ENV.publishQueueUrl]: PUBLISH_QUEUE_URL,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });

  it('the member leaves even when $disconnect ran between the row delete and the rest of the unsubscribe', async () => {
    const announced: PresenceEnvelope[] = [];
    sqs.reset();
    sqs.on(SendMessageCommand).callsFake(async (input: { MessageBody?: string }) => {
      announced.push(JSON.parse(input.MessageBody ?? '{}') as PresenceEnvelope);
      return { MessageId: String(announced.length) };
    });
    const now = Date.now();
    const connection = { connectionId: 'A1', sk: TABLE.connectionSortKey, principal: 'alice', allowedTopics: ['room/*'], subscriptionCount: 1, expiresAt: expiresAtFor(now) };
    await dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: connection }));
    await dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: { connectionId: 'A1', sk: 'room/1', topic: 'room/1', expiresAt: expiresAtFor(now) } }));
    const presence = new Presence({
      ddb: dynamo.ddb,
      tableName,
      config: { presence: { topics: ['room/*'], maxListed: 100 } },
      logger: new Logger({ logLevel: 'SILENT' }),
      queue: { send: async (body) => String(announced.push(body as PresenceEnvelope)) },
    });
    await presence.join(connection, ['room/1']);

    const disconnect = makeDisconnect(env(dynamo.endpoint));
    let disconnected = false;
    const calls = new Set<string>();
    proxy = await proxyTo(dynamo.endpoint, async (target, body) => {
      calls.add(target.replace('DynamoDB_20120810.', ''));
      const key = body.Key as Record<string, { S?: string }> | undefined;
      if (disconnected || target !== 'DynamoDB_20120810.DeleteItem' || key?.sk?.S !== 'room/1') return;
      disconnected = true;
      await disconnect({ requestContext: { connectionId: 'A1', disconnectStatusCode: 1001 } });
    });
    const reply = await makeUnsubscribe(env(proxy.url))(messageEvent('A1', JSON.stringify({ action: 'unsubscribe', topics: ['room/1'] }), 'unsubscribe'));
    expect(JSON.parse(reply.body)).to.deep.equal({ type: 'unsubscribed', topics: ['room/1'] });
    expect(disconnected, 'the interleaving happened').to.equal(true);

    expect(announced.map((e) => `${e.presence.event} ${e.presence.member.id} ${e.presence.count}`)).to.deep.equal(['join alice 1', 'leave alice 0']);
    const member = await dynamo.ddb.send(new GetCommand({ TableName: tableName, Key: { connectionId: '$presence:room/1', sk: 'member:alice' } }));
    expect(member.Item).to.equal(undefined);
    expect(await presence.store.count('room/1')).to.equal(0);
    // What its IAM grant allows with presence on (components/policies/table.ts), nothing more.
    expect([...calls].sort()).to.deep.equal(['DeleteItem', 'GetItem', 'UpdateItem']);
  });
});
