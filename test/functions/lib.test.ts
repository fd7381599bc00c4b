import { expect } from 'chai';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../protocol/env';
import { fullJitterDelay } from '../../functions/lib/backoff';
import { chunk } from '../../functions/lib/batch-write';
import { lambdaEntry } from '../../functions/lib/lazy-handler';
import { classifyPostError } from '../../functions/lib/post-errors';
import { toIsoTime } from '../../functions/lib/publish-input';
import { handler as connectEntry, makeHandler as makeConnect } from '../../functions/handlers/connect';
import { testEnv } from './helpers';

describe('functions/lib', () => {
  it('full-jitter backoff stays within [0, min(cap, base * 2^(retry-1))]', () => {
    expect(fullJitterDelay(1, 50, 2000, () => 0.999)).to.equal(49);
    expect(fullJitterDelay(3, 50, 2000, () => 0.5)).to.equal(100);
    expect(fullJitterDelay(10, 50, 2000, () => 0.999)).to.equal(1998);
    expect(fullJitterDelay(4, 50, 2000, () => 0)).to.equal(0);
  });

  it('chunks batch writes by 25', () => {
    expect(chunk(Array.from({ length: 51 }, (_, i) => i), 25).map((c) => c.length)).to.deep.equal([25, 25, 1]);
    expect(chunk([], 25)).to.deep.equal([]);
  });

  it('treats network errors and timeouts as retryable, unknown errors as permanent', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']) {
      expect(classifyPostError(Object.assign(new Error(code), { code })), code).to.equal('transient');
    }
    expect(classifyPostError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).to.equal('transient');
    expect(classifyPostError({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } })).to.equal('transient');
    expect(classifyPostError(new Error('something odd'))).to.equal('permanent');
    expect(classifyPostError('a string')).to.equal('permanent');
  });

  it('turns SQS SentTimestamp and EventBridge time into ISO-8601', () => {
    expect(toIsoTime('1700000000000')).to.equal('2023-11-14T22:13:20.000Z');
    expect(toIsoTime('2025-05-06T07:08:09Z')).to.equal('2025-05-06T07:08:09.000Z');
    expect(toIsoTime('soon')).to.equal(undefined);
    expect(toIsoTime(undefined)).to.equal(undefined);
  });

  it('builds a Lambda entry once, on first use', async () => {
    let builds = 0;
    const entry = lambdaEntry(() => {
      builds++;
      return async (event: number) => event * 2;
    });
    expect(builds).to.equal(0);
    expect(await entry(2, {})).to.equal(4);
    expect(await entry(3, {})).to.equal(6);
    expect(builds).to.equal(1);
  });

  describe('SDK clients', () => {
    let ddb: ReturnType<typeof mockClient>;
    const saved: Record<string, string | undefined> = {};
    before(() => (ddb = mockClient(DynamoDBDocumentClient)));
    beforeEach(() => ddb.reset());
    after(() => {
      ddb.restore();
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    });
    const event = (connectionId: string) => ({ requestContext: { connectionId, connectedAt: 0 } });

    it('are built once per makeHandler and reused across invocations', async () => {
      ddb.on(PutCommand).resolves({});
      const handler = makeConnect(testEnv());
      await handler(event('a='));
      await handler(event('b='));
      const [first, second] = ddb.calls();
      expect(first.thisValue).to.equal(second.thisValue);
    });

    it('the exported handler reads process.env (table name) when first invoked', async () => {
      ddb.on(PutCommand).resolves({});
      for (const [k, v] of Object.entries(testEnv({ [ENV.tableName]: 'from-process-env' }))) {
        if (!(k in saved)) saved[k] = process.env[k];
        process.env[k] = v;
      }
      expect(await connectEntry(event('c='), {})).to.deep.equal({ statusCode: 200 });
      expect((ddb.calls()[0].args[0] as PutCommand).input.TableName).to.equal('from-process-env');
    });
  });
});
