/**
 * Our SigV4 signer against the AWS SDK's own (@smithy/signature-v4 with the SDK's SHA-256): the
 * same request (method, host, path, body), credentials, region and time must give the same
 * Authorization header. Checked on fixed cases, on arbitrary ids and bodies, and on the request
 * the management client really sends (captured by a server and signed again by the SDK's signer).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { ENV } from '../../protocol/env';
import { makeManagementApi } from '../../functions/lib/clients';
import { loadConfig } from '../../functions/lib/config';
import type { ManagementApi } from '../../functions/lib/delivery/management-api';
import { amzDate, canonicalUri, escapeUri, SigV4Signer, type Credentials } from '../../functions/lib/delivery/sigv4';
import { testEnv } from './helpers';

const REGION = 'eu-west-1';
const SERVICE = 'execute-api';
const HOST = 'abc123defg.execute-api.eu-west-1.amazonaws.com';
const WITH_TOKEN: Credentials = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==' };
const WITHOUT_TOKEN: Credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' };

interface Req {
  method: string;
  host: string;
  path: string;
  body?: Uint8Array;
}

/** The Authorization header (and the other signing headers) the SDK's signer gives the request. */
async function sdkSignature(req: Req, credentials: Credentials, at: number, region = REGION) {
  const signer = new SignatureV4({ service: SERVICE, region, credentials, sha256: Sha256 });
  const [hostname, port] = req.host.split(':');
  const signed = await signer.sign(
    { method: req.method, protocol: 'https:', hostname, port: port ? Number(port) : undefined, path: req.path, query: {}, headers: { host: req.host }, body: req.body },
    { signingDate: new Date(at) },
  );
  return signed.headers;
}

const ours = (req: Req, credentials: Credentials, at: number, signer = new SigV4Signer(REGION, SERVICE)) => signer.sign(req, credentials, at);
const pathOf = (id: string) => `/prod/@connections/${escapeUri(id)}`;
const AT = Date.UTC(2026, 4, 6, 7, 8, 9, 123);

describe('SigV4 signer', () => {
  it('signs a POST, a GET and a DELETE exactly as the SDK signer does, with and without a session token', async () => {
    const body = new TextEncoder().encode('{"type":"message","topic":"t","data":"é"}');
    for (const credentials of [WITH_TOKEN, WITHOUT_TOKEN]) {
      for (const req of [
        { method: 'POST', host: HOST, path: pathOf('L0SM9cOFvHcCIhw='), body },
        { method: 'POST', host: HOST, path: pathOf('empty-body='), body: new Uint8Array(0) },
        { method: 'GET', host: HOST, path: pathOf('L0SM9cOFvHcCIhw=') },
        { method: 'DELETE', host: HOST, path: pathOf('a+b/c=') },
      ]) {
        const expected = await sdkSignature(req, credentials, AT);
        const actual = ours(req, credentials, AT);
        expect(actual.authorization, `${req.method} ${req.path}`).to.equal(expected.authorization);
        expect(actual['x-amz-date']).to.equal(expected['x-amz-date']);
        expect(actual['x-amz-content-sha256']).to.equal(expected['x-amz-content-sha256']);
        expect(actual['x-amz-security-token']).to.equal(expected['x-amz-security-token']);
      }
    }
  });

  it('escapes ids with =, + and / as the SDK does, and double-escapes them in the canonical URI', () => {
    expect(pathOf('a=b+c/d!*')).to.equal('/prod/@connections/a%3Db%2Bc%2Fd%21%2A'); // what the SDK client sends
    expect(canonicalUri(pathOf('a=b+c/d'))).to.equal('/prod/%40connections/a%253Db%252Bc%252Fd');
    expect(amzDate(AT)).to.equal('20260506T070809Z');
  });

  it('matches the SDK signer for any id, body, credentials, region and time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((id) => id !== '.' && id !== '..'),
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('POST', 'GET', 'DELETE'),
        fc.boolean(),
        fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-2'),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }),
        async (id, body, method, withToken, region, at) => {
          const credentials = withToken ? WITH_TOKEN : WITHOUT_TOKEN;
          const req = { method, host: `abc.execute-api.${region}.amazonaws.com`, path: pathOf(id), body: method === 'POST' ? body : undefined };
          const expected = await sdkSignature(req, credentials, at, region);
          expect(new SigV4Signer(region, SERVICE).sign(req, credentials, at).authorization).to.equal(expected.authorization);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('derives the signing key again when the secret or the day changes (one signer, as in a warm Lambda)', async () => {
    const signer = new SigV4Signer(REGION, SERVICE);
    const req = { method: 'POST', host: HOST, path: pathOf('x='), body: new Uint8Array([1, 2, 3]) };
    const rotated = { ...WITH_TOKEN, secretAccessKey: 'another-secret', sessionToken: 'another-token' };
    const nextDay = AT + 24 * 3600 * 1000;
    for (const [credentials, at] of [
      [WITH_TOKEN, AT],
      [WITH_TOKEN, AT + 1000],
      [rotated, AT + 2000],
      [rotated, nextDay],
      [WITH_TOKEN, nextDay],
    ] as const) {
      expect(signer.sign(req, credentials, at).authorization).to.equal((await sdkSignature(req, credentials, at)).authorization);
    }
  });
});

describe('the management client signs what it sends', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
  let api: ManagementApi | undefined;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(req.method === 'DELETE' ? 204 : 200, { 'content-type': 'application/json' });
        res.end(req.method === 'GET' ? JSON.stringify({ connectedAt: '2026-01-01T00:00:00.000Z', identity: { sourceIp: '1.2.3.4' }, lastActiveAt: '2026-01-01T00:00:01.000Z' }) : '');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    api?.destroy();
    server.closeAllConnections();
    server.close();
  });

  /** The SDK signer's Authorization for a captured request, at the time its x-amz-date says. */
  async function resign(captured: (typeof seen)[number], credentials: Credentials): Promise<string> {
    const d = String(captured.headers['x-amz-date']);
    const at = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
    const req = { method: captured.method, host: String(captured.headers.host), path: captured.path, body: captured.body.length > 0 ? captured.body : undefined };
    return (await sdkSignature(req, credentials, at)).authorization;
  }

  it('sends the signed path, host and headers, and follows credentials replaced in the env map', async () => {
    const env = testEnv({
      [ENV.managementEndpoint]: `http://127.0.0.1:${port}/prod`,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: WITH_TOKEN.accessKeyId,
      AWS_SECRET_ACCESS_KEY: WITH_TOKEN.secretAccessKey,
      AWS_SESSION_TOKEN: WITH_TOKEN.sessionToken,
    });
    api = makeManagementApi(loadConfig(env), env);
    const id = 'Ab+/cd==';
    await api.post(id, new TextEncoder().encode('hello'));
    await api.get(id);
    await api.delete(id);
    // Lambda replaces the variables; the next request must be signed with the new ones.
    const rotated = { accessKeyId: 'ASIAROTATED', secretAccessKey: 'rotated-secret', sessionToken: 'rotated-token' };
    env.AWS_ACCESS_KEY_ID = rotated.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = rotated.secretAccessKey;
    env.AWS_SESSION_TOKEN = rotated.sessionToken;
    await api.post(id, new TextEncoder().encode('again'));

    expect(seen.map((s) => `${s.method} ${s.path}`)).to.deep.equal([
      'POST /prod/@connections/Ab%2B%2Fcd%3D%3D',
      'GET /prod/@connections/Ab%2B%2Fcd%3D%3D',
      'DELETE /prod/@connections/Ab%2B%2Fcd%3D%3D',
      'POST /prod/@connections/Ab%2B%2Fcd%3D%3D',
    ]);
    for (const [i, captured] of seen.entries()) {
      const credentials = i < 3 ? WITH_TOKEN : rotated;
      expect(captured.headers.host).to.equal(`127.0.0.1:${port}`);
      expect(captured.headers['x-amz-security-token']).to.equal(credentials.sessionToken);
      expect(captured.headers.authorization, `${captured.method} #${i}`).to.equal(await resign(captured, credentials));
      expect(captured.headers.authorization).to.contain(`Credential=${credentials.accessKeyId}/`);
      expect(captured.headers.authorization).to.contain(`/${REGION}/execute-api/aws4_request`);
    }
    expect(seen[0].body.toString()).to.equal('hello');
    expect(seen[0].headers['content-length']).to.equal('5');
  });
});
