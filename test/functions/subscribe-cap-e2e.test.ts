/**
 * The subscription cap under concurrency, end to end: API Gateway runs one connection's messages
 * concurrently, so the cap must hold across simultaneous subscribe requests. A real ws client on
 * the local mode (the real handlers against dynalite, which honours condition expressions).
 */
import { expect } from 'chai';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SUBSCRIPTION_COUNT } from '../../functions/lib/connection-rows';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { errorReplySchema, serverMessageSchema } from '../../protocol/messages';
import { TABLE } from '../../protocol/table';
import { openSocket, type Client } from '../local/auth-fixtures';
import { expectSubscribed, rowsOf, sdkClients } from '../local/system-helpers';

const CAP = 50;
const REQUESTS = 20;
const TOPICS_PER_REQUEST = 10;

describe('subscription cap under concurrent subscribes (local mode, dynalite)', () => {
  let system: LocalSystem;
  let aws: ReturnType<typeof sdkClients>;
  let client: Client | undefined;

  before(async () => {
    system = await startLocal({ quiet: true, env: { [ENV.maxSubscriptionsPerConnection]: String(CAP) } });
    aws = sdkClients(system.outputs);
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
  });
  after(async () => {
    aws?.destroy();
    await system?.stop();
  });

  it(`${REQUESTS} simultaneous subscribes of ${TOPICS_PER_REQUEST} new topics each on one connection store at most ${CAP} subscriptions; the rest are refused TOO_MANY_TOPICS`, async () => {
    client = await openSocket(system.outputs.websocketUrl);
    const requests = Array.from({ length: REQUESTS }, (_, r) => Array.from({ length: TOPICS_PER_REQUEST }, (_, t) => `room/${r}/${t}`));
    // All frames leave before any reply comes back: the gateway runs them side by side.
    for (const topics of requests) client.ws.send(JSON.stringify({ action: 'subscribe', topics }));
    const replies = [];
    for (let i = 0; i < REQUESTS; i++) replies.push(serverMessageSchema.parse(await client.next(() => true, `reply ${i + 1}`)));

    const subscribed = replies.filter((r) => r.type === 'subscribed');
    const refused = replies.filter((r) => r.type === 'error').map((r) => errorReplySchema.parse(r));
    expect(refused.map((r) => r.code)).to.deep.equal(Array(refused.length).fill('TOO_MANY_TOPICS'));
    expect(subscribed.length * TOPICS_PER_REQUEST, 'granted subscriptions').to.equal(CAP);
    expect(refused).to.have.length(REQUESTS - CAP / TOPICS_PER_REQUEST);

    // The table holds exactly what was granted: every granted topic, nothing of a refused request.
    const granted = subscribed.flatMap((r) => (r.type === 'subscribed' ? r.topics : [])).sort();
    const [connectionId] = await connectionIds();
    const rows = await rowsOf(aws.dynamodb, system.outputs.tableName, connectionId);
    expect(rows.filter((sk) => sk !== TABLE.connectionSortKey).sort()).to.deep.equal(granted);
    expect(await subscriptionCount(connectionId), 'the count matches the rows once every request is answered').to.equal(CAP);

    // Five simultaneous unsubscribes of the same ten topics lower the count by ten, not fifty.
    const dropped = granted.slice(0, TOPICS_PER_REQUEST);
    for (let i = 0; i < 5; i++) client.ws.send(JSON.stringify({ action: 'unsubscribe', topics: dropped }));
    for (let i = 0; i < 5; i++) expect(await client.next(() => true, `unsubscribe reply ${i + 1}`)).to.deep.equal({ type: 'unsubscribed', topics: dropped });
    expect(await subscriptionCount(connectionId)).to.equal(CAP - TOPICS_PER_REQUEST);
    expect(await rowsOf(aws.dynamodb, system.outputs.tableName, connectionId)).to.have.length(CAP - TOPICS_PER_REQUEST + 1);

    // The room is back for exactly ten more.
    const more = Array.from({ length: TOPICS_PER_REQUEST }, (_, t) => `more/${t}`);
    client.ws.send(JSON.stringify({ action: 'subscribe', topics: more }));
    expectSubscribed(await client.next(() => true, 'subscribe reply'), more);
    client.ws.send(JSON.stringify({ action: 'subscribe', topics: ['one/too/many'] }));
    expect(await client.next(() => true, 'subscribe reply')).to.include({ code: 'TOO_MANY_TOPICS' });
    expect(await subscriptionCount(connectionId)).to.equal(CAP);
  });

  async function subscriptionCount(connectionId: string): Promise<number> {
    const { Item } = await aws.dynamodb.send(
      new GetItemCommand({
        TableName: system.outputs.tableName,
        ConsistentRead: true,
        Key: { [TABLE.partitionKey]: { S: connectionId }, [TABLE.sortKey]: { S: TABLE.connectionSortKey } },
      }),
    );
    return Number(Item?.[SUBSCRIPTION_COUNT]?.N);
  }

  /** The ids of every connection item in the table (the test's client is the only connection). */
  async function connectionIds(): Promise<string[]> {
    const { Items } = await aws.dynamodb.send(
      new ScanCommand({
        TableName: system.outputs.tableName,
        ConsistentRead: true,
        FilterExpression: '#sk = :c',
        ExpressionAttributeNames: { '#sk': TABLE.sortKey },
        ExpressionAttributeValues: { ':c': { S: TABLE.connectionSortKey } },
      }),
    );
    const ids = (Items ?? []).map((item) => item[TABLE.partitionKey].S!);
    expect(ids).to.have.length(1);
    return ids;
  }
});
