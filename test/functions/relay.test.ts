/**
 * The relay (client publish route) against dynalite: the publish claim decides, the per-connection
 * rate limit holds across environments (two handlers share it through the `$connection` item),
 * the envelope put on the queue carries `from` and an id namespaced per principal, and bad frames
 * are refused before anything is read.
 */
import { expect } from 'chai';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { makeHandler } from '../../functions/handlers/relay';
import { clientMessageId } from '../../functions/lib/relay/message-id';
import type { PublishQueue } from '../../functions/lib/publish-queue';
import { LOCAL_CREDENTIALS } from '../../local/constants';
import { ENV } from '../../protocol/env';
import { createTableInput, expiresAtFor, TABLE } from '../../protocol/table';
import { tableActive, withDynalite } from './dynalite';
import { messageEvent, testEnv } from './helpers';

describe('relay (client publish) against dynalite', () => {
  const dynamo = withDynalite();
  let tableName: string;
  let tables = 0;
  let sent: unknown[];
  let now: number;
  const queue: PublishQueue = {
    send: async (body) => {
      sent.push(body);
      return 'm';
    },
  };
  const handler = (perSecond = 3) =>
    makeHandler(
      testEnv({
        [ENV.tableName]: tableName,
        [ENV.clientPublishPerSecond]: String(perSecond),
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      }),
      { queue, now: () => now },
    );
  const send = async (h: ReturnType<typeof handler>, connectionId: string, body: unknown) =>
    JSON.parse((await h(messageEvent(connectionId, typeof body === 'string' ? body : JSON.stringify(body), 'publish'))).body) as Record<string, unknown>;
  async function connection(connectionId: string, fields: Record<string, unknown>) {
    await dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: { connectionId, sk: TABLE.connectionSortKey, expiresAt: expiresAtFor(now), ...fields } }));
  }

  beforeEach(async () => {
    tableName = `relay-${++tables}`;
    await dynamo.createTable(createTableInput(tableName));
    await tableActive(dynamo.ddb, tableName);
    sent = [];
    now = Date.parse('2025-06-01T12:00:00.100Z');
  });

  it('queues the envelope with `from` and a per-principal id, and answers published', async () => {
    await connection('C1', { principal: 'ada', allowedTopics: ['chat/*'], publishTopics: ['chat/*'] });
    const reply = await send(handler(), 'C1', { action: 'publish', topic: 'chat/1', data: { text: 'hi' }, id: 'k1' });
    const id = clientMessageId('ada', 'k1');
    expect(reply).to.deep.equal({ type: 'published', topic: 'chat/1', id });
    expect(sent).to.deep.equal([{ topic: 'chat/1', data: { text: 'hi' }, id, from: 'ada' }]);
    // The same client id from another principal is another message.
    expect(clientMessageId('bob', 'k1')).to.not.equal(id);
    expect(id).to.match(/^c\.[A-Za-z0-9_-]{16}\.k1$/);
  });

  it('FORBIDDEN without a publish claim, outside its patterns, and with auth off', async () => {
    await connection('C1', { principal: 'ada', allowedTopics: ['chat/*'] });
    await connection('C2', { principal: 'bob', allowedTopics: ['chat/*'], publishTopics: ['users/{sub}/out'] });
    await connection('C3', {});
    const h = handler(100);
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', data: 1 })).to.include({ code: 'FORBIDDEN' });
    expect(await send(h, 'C2', { action: 'publish', topic: 'users/ada/out', data: 1 })).to.include({ code: 'FORBIDDEN' });
    expect(await send(h, 'C2', { action: 'publish', topic: 'users/bob/out', data: 1 })).to.include({ type: 'published' });
    const off = await send(h, 'C3', { action: 'publish', topic: 'chat/1', data: 1 });
    expect(off).to.include({ code: 'FORBIDDEN' });
    expect(off.message).to.match(/auth is off/);
    expect(sent).to.have.length(1);
  });

  it('RATE_LIMITED past the allowance in one second, shared by two environments; the next second opens again', async () => {
    await connection('C1', { principal: 'ada', allowedTopics: [], publishTopics: ['chat/*'] });
    await connection('C2', { principal: 'bob', allowedTopics: [], publishTopics: ['chat/*'] });
    const [envA, envB] = [handler(3), handler(3)];
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await send(i % 2 ? envB : envA, 'C1', { action: 'publish', topic: 'chat/1', data: i })).type === 'published' ? 'ok' : 'limited');
    expect(codes).to.deep.equal(['ok', 'ok', 'ok', 'limited', 'limited', 'limited']);
    const limited = await send(envA, 'C1', { action: 'publish', topic: 'chat/1', data: 0 });
    expect(limited).to.include({ type: 'error', code: 'RATE_LIMITED' });
    expect(limited.topics).to.deep.equal(['chat/1']);
    // Another connection is not affected.
    expect(await send(envA, 'C2', { action: 'publish', topic: 'chat/1', data: 0 })).to.include({ type: 'published' });
    now += 1000;
    expect(await send(envA, 'C1', { action: 'publish', topic: 'chat/1', data: 0 })).to.include({ type: 'published' });
  });

  it('names the refused publish: every refusal echoes the request\'s own id (when well-formed)', async () => {
    await connection('C1', { principal: 'ada', allowedTopics: [], publishTopics: ['chat/*'] });
    const h = handler(1);
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', data: 0, id: 'first' })).to.deep.include({ type: 'published', id: clientMessageId('ada', 'first') });
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', data: 0, id: 'second' })).to.deep.include({ code: 'RATE_LIMITED', id: 'second' });
    expect(await send(h, 'C1', { action: 'publish', topic: 'room/1', data: 0, id: 'third' })).to.deep.include({ code: 'RATE_LIMITED', id: 'third' });
    now += 1000;
    expect(await send(h, 'C1', { action: 'publish', topic: 'room/1', data: 0, id: 'fourth' })).to.deep.include({ code: 'FORBIDDEN', id: 'fourth' });
    expect(await send(h, 'C1', { action: 'publish', topic: 'a//b', data: 0, id: 'fifth' })).to.deep.include({ code: 'INVALID_TOPIC', id: 'fifth' });
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', id: 'sixth' })).to.deep.include({ code: 'BAD_REQUEST', id: 'sixth' });
    expect(await send(h, 'nobody', { action: 'publish', topic: 'chat/1', data: 0, id: 'seventh' })).to.deep.include({ code: 'INTERNAL', id: 'seventh' });
    // An id that is not well-formed is not echoed; a publish without one has none to echo.
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', data: 0, id: 'has space' })).to.not.have.property('id');
    expect(await send(h, 'C1', { action: 'publish', topic: 'room/1', data: 0 })).to.not.have.property('id');
  });

  it('refuses malformed frames before reading anything, with the code that says why', async () => {
    const h = handler();
    const cases: [unknown, string][] = [
      ['not json', 'BAD_REQUEST'],
      [{ action: 'publish', topic: 'chat/1' }, 'BAD_REQUEST'],
      [{ action: 'publish', data: 1 }, 'BAD_REQUEST'],
      [{ action: 'publish', topic: 'chat/1', data: 1, id: 'has space' }, 'BAD_REQUEST'],
      [{ action: 'publish', topic: 'chat/1', data: 1, extra: true }, 'BAD_REQUEST'],
      [{ action: 'publish', topic: 'a//b', data: 1 }, 'INVALID_TOPIC'],
      [{ action: 'publish', topic: '$connection', data: 1 }, 'INVALID_TOPIC'],
    ];
    // No connection item exists: a frame that got to the table would be answered INTERNAL.
    for (const [body, code] of cases) expect(await send(h, 'nobody', body), JSON.stringify(body)).to.include({ type: 'error', code });
    expect(await send(h, 'nobody', { action: 'publish', topic: 'chat/1', data: 1 })).to.include({ code: 'INTERNAL' });
  });

  it('answers PAYLOAD_TOO_LARGE and BAD_REQUEST (too deep) as the publish function would drop them', async () => {
    await connection('C1', { principal: 'ada', allowedTopics: [], publishTopics: ['chat/*'] });
    const h = makeHandler(
      testEnv({
        [ENV.tableName]: tableName,
        [ENV.maxPublishBytes]: '200',
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      }),
      { queue, now: () => now },
    );
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', data: 'x'.repeat(300) })).to.include({ code: 'PAYLOAD_TOO_LARGE' });
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(await send(h, 'C1', { action: 'publish', topic: 'chat/1', data: deep })).to.include({ code: 'BAD_REQUEST' });
    expect(sent).to.deep.equal([]);
  });
});
