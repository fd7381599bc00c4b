/**
 * The real management API client against real HTTP servers on 127.0.0.1: proves the request
 * timeout is enforced (the handler tests' fake poster bypasses HTTP, so only this can) and that
 * errors are classified from what the client makes of real responses.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse } from 'aws-lambda';
import { ENV } from '../../protocol/env';
import { TABLE } from '../../protocol/table';
import { makeDocumentClient, makeManagementApi } from '../../functions/lib/clients';
import { loadConfig } from '../../functions/lib/config';
import { ManagementApiError, type ManagementApi } from '../../functions/lib/delivery/management-api';
import { classifyPostError } from '../../functions/lib/post-errors';
import { makeHandler as makePublish } from '../../functions/handlers/publish';
import { withFakeDeliveryQueue } from './fake-queue';
import { FakeTable } from './fake-table';
import { sqsEvent, sqsRecord, testEnv } from './helpers';

/** How the fake management API answers a connection id: a status + error type, or never. */
type Answer = { status: number; errorType?: string } | 'hang';

describe('management API client over real HTTP', () => {
  let server: Server;
  let endpoint: string;
  const answers = new Map<string, Answer>();
  const requests: string[] = [];
  const hung: ServerResponse[] = [];
  const clients: ManagementApi[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      const id = decodeURIComponent((req.url ?? '').split('/@connections/')[1] ?? (req.url ?? '').split('/%40connections/')[1] ?? '');
      requests.push(id);
      const answer = answers.get(id) ?? { status: 200 };
      if (answer === 'hang') return void hung.push(res);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (answer.errorType) headers['x-amzn-errortype'] = answer.errorType;
      res.writeHead(answer.status, headers).end(answer.errorType ? JSON.stringify({ message: answer.errorType }) : '');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/local`;
  });

  beforeEach(() => {
    answers.clear();
    requests.length = 0;
  });

  after(async () => {
    for (const client of clients) client.destroy();
    for (const res of hung) res.destroy();
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  const env = (overrides: Record<string, string> = {}) =>
    testEnv({
      [ENV.managementEndpoint]: endpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      [ENV.postRequestTimeoutMs]: '150',
      ...overrides,
    });
  const client = (overrides: Record<string, string> = {}) => {
    const map = env(overrides);
    const c = makeManagementApi(loadConfig(map), map);
    clients.push(c);
    return c;
  };
  const postError = async (c: ManagementApi, id: string) => {
    try {
      await c.post(id, new TextEncoder().encode('{}'));
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('enforces POST_REQUEST_TIMEOUT_MS on a server that never answers, and classifies it as retryable', async () => {
    answers.set('hang=', 'hang');
    const error = await postError(client(), 'hang=');
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).name).to.equal('TimeoutError');
    expect((error as Error).message).to.contain('150 ms');
    expect(classifyPostError(error)).to.equal('transient');
    expect(requests).to.deep.equal(['hang=']); // one attempt: the client does not retry by itself
  });

  it('classifies real error responses by the name the client gives them', async () => {
    answers.set('gone=', { status: 410, errorType: 'GoneException' });
    answers.set('busy=', { status: 429, errorType: 'LimitExceededException' });
    answers.set('no=', { status: 403, errorType: 'ForbiddenException' });
    answers.set('big=', { status: 413, errorType: 'PayloadTooLargeException' });
    answers.set('oops=', { status: 500 });
    const c = client();
    const goneError = await postError(c, 'gone=');
    expect(goneError).to.be.instanceOf(ManagementApiError);
    expect((goneError as Error).name).to.equal('GoneException');
    expect(classifyPostError(goneError)).to.equal('gone');
    expect(classifyPostError(await postError(c, 'busy='))).to.equal('throttled');
    expect(classifyPostError(await postError(c, 'no='))).to.equal('permanent');
    expect(classifyPostError(await postError(c, 'big='))).to.equal('tooLarge');
    expect(classifyPostError(await postError(c, 'oops='))).to.equal('transient');
    expect(await postError(c, 'fine=')).to.equal(undefined);
    // A 410 named otherwise is not Gone: the status code alone decides nothing.
    expect(classifyPostError({ name: 'SomethingElse', $metadata: { httpStatusCode: 410 } })).to.equal('permanent');
  });

  describe('publish through the real client', () => {
    let ddb: AwsClientStub<DynamoDBDocumentClient>;
    before(() => (ddb = mockClient(DynamoDBDocumentClient)));
    after(() => ddb.restore());
    const q = withFakeDeliveryQueue();

    it('retries a hung post POST_MAX_ATTEMPTS times, then hands that connection alone to a retry job, and cleans up a 410', async () => {
      const table = new FakeTable().install(ddb);
      table.subscribe('hang=', 'slow');
      table.subscribe('ok=', 'fast');
      table.put({ connectionId: 'gone=', sk: TABLE.connectionSortKey, expiresAt: 1 });
      table.subscribe('gone=', 'fast');
      answers.set('hang=', 'hang');
      answers.set('gone=', { status: 410, errorType: 'GoneException' });

      const handler = makePublish(env({ [ENV.postMaxAttempts]: '2', [ENV.postRequestTimeoutMs]: '100' }));
      const result = (await handler(
        sqsEvent(sqsRecord('r-slow', { topic: 'slow', data: 1 }), sqsRecord('r-fast', { topic: 'fast', data: 2 })),
      )) as SQSBatchResponse;

      expect(result.batchItemFailures).to.deep.equal([]);
      expect(requests.filter((id) => id === 'hang=')).to.have.length(2);
      expect(requests.filter((id) => id === 'ok=')).to.have.length(1);
      expect(table.rowsOf('gone=')).to.deep.equal([]);
      expect(q.queue.sent.map((s) => [s.job.kind, s.job.messageId, s.job.connectionIds])).to.deep.equal([['retry', 'r-slow', ['hang=']]]);
    });
  });
});

describe('DynamoDB client over real HTTP', () => {
  it('gives up on a server that accepts the connection but never answers, instead of hanging', async () => {
    const hung: ServerResponse[] = [];
    let requests = 0;
    const server = createServer((req, res) => {
      req.resume();
      requests++;
      hung.push(res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const config = loadConfig(
      testEnv({ AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }),
    );
    const ddb = makeDocumentClient(config, { connectionTimeoutMs: 100, requestTimeoutMs: 100 });
    try {
      const error = await ddb.send(new GetCommand({ TableName: 't', Key: { connectionId: 'a', sk: 'b' } })).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error, 'the call must fail, not hang').to.be.instanceOf(Error);
      expect(error!.name).to.equal('TimeoutError');
      // The SDK's standard retries tried again before giving up.
      expect(requests).to.be.greaterThan(1);
    } finally {
      ddb.destroy();
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
