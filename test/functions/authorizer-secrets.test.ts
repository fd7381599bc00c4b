import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { makeHandler } from '../../functions/handlers/authorizer';
import { expectServerError, expectUnauthorized, QUIET, queryEvent, SECRET, sign } from './authorizer-fixtures';

const PARAMETER = '/realtime/dev/auth-secret';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:realtime-auth-AbCdEf';

describe('authorizer secret from SSM Parameter Store', () => {
  // Mocks are installed for these tests only, so other files' real SDK clients are untouched.
  let ssm: AwsClientStub<SSMClient>;
  before(() => (ssm = mockClient(SSMClient)));
  afterEach(() => ssm.reset());
  after(() => ssm.restore());

  it('reads the decrypted parameter once per container, however many invocations', async () => {
    ssm.on(GetParameterCommand, { Name: PARAMETER, WithDecryption: true }).resolves({ Parameter: { Name: PARAMETER, Value: SECRET } });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_PARAMETER: PARAMETER });
    for (const sub of ['alice', 'bob', 'carol']) {
      expect((await handler(queryEvent(await sign({ sub })))).principalId).to.equal(sub);
    }
    await expectUnauthorized(handler(queryEvent(await sign({}, 'not-the-stored-secret-at-all'))));
    const calls = ssm.commandCalls(GetParameterCommand);
    expect(calls).to.have.length(1);
    expect(calls[0]!.args[0].input).to.deep.equal({ Name: PARAMETER, WithDecryption: true });
  });

  it('shares one in-flight read between concurrent cold invocations', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    ssm.on(GetParameterCommand).callsFake(async () => {
      await gate;
      return { Parameter: { Value: SECRET } };
    });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_PARAMETER: PARAMETER });
    const tokens = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((sub) => sign({ sub })));
    const pending = tokens.map((t) => handler(queryEvent(t)));
    release();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.principalId)).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(ssm.commandCalls(GetParameterCommand)).to.have.length(1);
  });

  it('answers 500 (not 401) when the parameter cannot be read, and retries on the next invocation', async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(Object.assign(new Error('User is not authorized to perform: ssm:GetParameter'), { name: 'AccessDeniedException' }))
      .resolves({ Parameter: { Value: SECRET } });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_PARAMETER: PARAMETER });
    const token = await sign();
    await expectServerError(handler(queryEvent(token)), /not authorized/);
    expect((await handler(queryEvent(token))).principalId).to.equal('alice');
    expect((await handler(queryEvent(token))).principalId).to.equal('alice');
    expect(ssm.commandCalls(GetParameterCommand)).to.have.length(2);
  });

  it('treats an empty parameter as a server-side failure', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER } });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_PARAMETER: PARAMETER });
    await expectServerError(handler(queryEvent(await sign())), /has no value/);
  });

  it('does not read the secret when the request has no token at all', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: SECRET } });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_PARAMETER: PARAMETER });
    await expectUnauthorized(handler(queryEvent('')));
    expect(ssm.commandCalls(GetParameterCommand)).to.have.length(0);
  });
});

describe('authorizer secret from Secrets Manager', () => {
  let secrets: AwsClientStub<SecretsManagerClient>;
  before(() => (secrets = mockClient(SecretsManagerClient)));
  afterEach(() => secrets.reset());
  after(() => secrets.restore());

  it('reads SecretString once per container', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_ARN: SECRET_ARN });
    for (const sub of ['alice', 'bob']) expect((await handler(queryEvent(await sign({ sub })))).principalId).to.equal(sub);
    await expectUnauthorized(handler(queryEvent(await sign({}, 'not-the-stored-secret-at-all'))));
    expect(secrets.commandCalls(GetSecretValueCommand)).to.have.length(1);
  });

  it('accepts a secret stored as SecretBinary', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode(SECRET) });
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_ARN: SECRET_ARN });
    expect((await handler(queryEvent(await sign()))).principalId).to.equal('alice');
  });

  it('answers 500 when the secret is unreadable', async () => {
    secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('Secrets Manager can not find the specified secret'), { name: 'ResourceNotFoundException' }));
    const handler = makeHandler({ ...QUIET, AUTH_SECRET_ARN: SECRET_ARN });
    await expectServerError(handler(queryEvent(await sign())), /can not find/);
  });
});

describe('authorizer secret over the wire (real SDK clients, local endpoints)', () => {
  let server: Server;
  let endpoint: string;
  const requests: Array<{ target: string; body: Record<string, unknown> }> = [];

  before(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']);
        requests.push({ target, body: JSON.parse(text) as Record<string, unknown> });
        const reply =
          target === 'AmazonSSM.GetParameter'
            ? { Parameter: { Name: PARAMETER, Type: 'SecureString', Value: SECRET, Version: 1 } }
            : { ARN: SECRET_ARN, Name: 'realtime-auth', SecretString: SECRET };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => (requests.length = 0));

  const awsEnv = () => ({ ...QUIET, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });

  it('calls GetParameter with decryption on AWS_ENDPOINT_URL_SSM, once', async () => {
    const handler = makeHandler({ ...awsEnv(), AUTH_SECRET_PARAMETER: PARAMETER, AWS_ENDPOINT_URL_SSM: endpoint });
    expect((await handler(queryEvent(await sign({ sub: 'alice' })))).principalId).to.equal('alice');
    expect((await handler(queryEvent(await sign({ sub: 'bob' })))).principalId).to.equal('bob');
    expect(requests).to.deep.equal([{ target: 'AmazonSSM.GetParameter', body: { Name: PARAMETER, WithDecryption: true } }]);
  });

  it('calls GetSecretValue on AWS_ENDPOINT_URL_SECRETS_MANAGER, once', async () => {
    const handler = makeHandler({ ...awsEnv(), AUTH_SECRET_ARN: SECRET_ARN, AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint });
    expect((await handler(queryEvent(await sign({ sub: 'alice' })))).principalId).to.equal('alice');
    expect((await handler(queryEvent(await sign({ sub: 'bob' })))).principalId).to.equal('bob');
    expect(requests).to.deep.equal([{ target: 'secretsmanager.GetSecretValue', body: { SecretId: SECRET_ARN } }]);
  });
});
