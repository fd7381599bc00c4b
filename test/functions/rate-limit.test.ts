/**
 * The client-publish rate limit's writes: the likelier conditional update goes first, so a client
 * publishing about once a second costs one write per publish, and a burst within a second one
 * write per publish after its first.
 */
import { expect } from 'chai';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishRateLimit } from '../../functions/lib/relay/rate-limit';

describe('client publish rate limit (writes per publish)', () => {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const mock = mockClient(ddb);
  /** The window and count a real table would hold, with the conditions the limiter sends. */
  let item: { w?: number; n?: number };
  const refuse = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

  beforeEach(() => {
    mock.reset();
    item = {};
    mock.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      const v = input.ExpressionAttributeValues as Record<string, number>;
      if (input.UpdateExpression!.includes('#n + :one')) {
        if (item.w !== v[':s'] || (item.n ?? 0) >= v[':limit']) throw refuse();
        item.n = (item.n ?? 0) + 1;
      } else {
        if (item.w !== undefined && item.w >= v[':s']) throw refuse();
        item = { w: v[':s'], n: 1 };
      }
      return { Attributes: { pk: 'c1', sk: '$connection', principal: 'alice' } };
    });
    mock.on(GetCommand).resolves({ Item: { pk: 'c1' } });
  });

  it('one write for a publish in a new second, one for each further publish within it, and refuses past the limit', async () => {
    let now = 10_000;
    const limit = new PublishRateLimit(ddb, 't', 2, () => now);
    const writes = () => mock.commandCalls(UpdateCommand).length;

    expect((await limit.take('c1')).kind).to.equal('granted');
    expect(writes()).to.equal(1);
    expect((await limit.take('c1')).kind).to.equal('granted');
    expect(writes()).to.equal(2);
    expect((await limit.take('c1')).kind).to.equal('limited');
    expect(writes()).to.equal(4); // both conditions refused: the second is full
    expect((await limit.take('c1')).kind).to.equal('limited');
    expect(writes()).to.equal(4); // remembered: no write at all

    now += 1000;
    expect((await limit.take('c1')).kind).to.equal('granted');
    expect(writes()).to.equal(5);
  });

  it('another environment that counted in this second first is still counted right (the other write is tried next)', async () => {
    const now = 20_000;
    item = { w: 20, n: 1 }; // a publish this second, counted elsewhere
    const limit = new PublishRateLimit(ddb, 't', 3, () => now);
    expect((await limit.take('c1')).kind).to.equal('granted');
    expect(item).to.deep.equal({ w: 20, n: 2 });
    expect(mock.commandCalls(UpdateCommand)).to.have.length(2);
  });
});
