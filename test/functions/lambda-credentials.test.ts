/**
 * The credential chain the Lambda bundles use instead of the SDK's (functions/lib/lambda-credentials.ts),
 * plugged into a real DynamoDB client the way the bundles plug it (as the client's default
 * provider), signing real requests to a server on 127.0.0.1 that also plays the container
 * credentials endpoint.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { defaultProvider } from '../../functions/lib/lambda-credentials';

const CREDENTIAL_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
];

describe('Lambda credential chain', () => {
  let server: Server;
  let base: string;
  const ddbRequests: IncomingHttpHeaders[] = [];
  let credentialRequests = 0;
  /** How long the endpoint's credentials stay valid. */
  let validForMs = 3_600_000;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.method === 'GET' && req.url === '/creds') {
        credentialRequests++;
        const expiration = new Date(Date.now() + validForMs).toISOString();
        res.setHeader('content-type', 'application/json');
        return void res.end(JSON.stringify({ AccessKeyId: 'ASIACONTAINER', SecretAccessKey: 'container-secret', Token: 'container-token', Expiration: expiration }));
      }
      ddbRequests.push(req.headers);
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      res.end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  beforeEach(() => {
    ddbRequests.length = 0;
    credentialRequests = 0;
    validForMs = 3_600_000;
    for (const name of CREDENTIAL_VARIABLES) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });
  afterEach(() => {
    for (const name of CREDENTIAL_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  /** `count` GetItems through one client whose only credential source is the chain under test. */
  async function signedRequests(count = 1): Promise<IncomingHttpHeaders[]> {
    const client = new DynamoDBClient({ region: 'eu-west-3', endpoint: base, maxAttempts: 1, credentialDefaultProvider: defaultProvider });
    try {
      for (let i = 0; i < count; i++) await client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }));
    } finally {
      client.destroy();
    }
    expect(ddbRequests).to.have.length(count);
    return ddbRequests;
  }

  it('signs with the keys the Lambda runtime puts in the environment, session token included', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'ASIAENVIRONMENT';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    process.env.AWS_SESSION_TOKEN = 'env-token';
    // Environment keys come first, as in the SDK's chain: the endpoint is never asked.
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${base}/creds`;
    const [headers] = await signedRequests();
    expect(headers.authorization).to.match(/^AWS4-HMAC-SHA256 Credential=ASIAENVIRONMENT\/\d{8}\/eu-west-3\/dynamodb\/aws4_request/);
    expect(headers['x-amz-security-token']).to.equal('env-token');
    expect(credentialRequests).to.equal(0);
  });

  it('falls back to the container credentials endpoint when the environment has no keys, and asks it once', async () => {
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${base}/creds`;
    const requests = await signedRequests(3);
    for (const headers of requests) {
      expect(headers.authorization).to.match(/Credential=ASIACONTAINER\//);
      expect(headers['x-amz-security-token']).to.equal('container-token');
    }
    // The SDK clients leave memoizing to the default provider: one fetch serves every request.
    expect(credentialRequests).to.equal(1);
  });

  it('fetches container credentials again when they are within 5 minutes of expiring', async () => {
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${base}/creds`;
    validForMs = 60_000;
    await signedRequests(2);
    expect(credentialRequests).to.be.at.least(2);
  });

  it('fails with the SDK\'s clear error when there is no credential source, and ignores profiles', async () => {
    process.env.AWS_PROFILE = 'someone';
    let error: unknown;
    try {
      await defaultProvider()();
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/Unable to find environment variable credentials/);
    expect(credentialRequests).to.equal(0);
  });
});
