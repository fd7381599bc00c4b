import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';
import { makeHandler } from '../../functions/handlers/authorizer';
import { expectServerError, expectUnauthorized, QUIET, queryEvent, sign, subprotocolEvent } from './authorizer-fixtures';

const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example';
const AUDIENCE = 'app-client-id';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

describe('authorizer with a JWKS URL (RS256 / ES256)', () => {
  let server: Server;
  let url: string;
  let fetches = 0;
  let failWith: number | undefined;
  let rsa: KeyPair;
  let ec: KeyPair;
  let stranger: KeyPair;
  let published: JWK[];

  before(async () => {
    rsa = await generateKeyPair('RS256', { extractable: true });
    ec = await generateKeyPair('ES256', { extractable: true });
    stranger = await generateKeyPair('RS256', { extractable: true });
    published = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    server = createServer((req, res) => {
      fetches += 1;
      if (failWith) {
        res.writeHead(failWith).end('nope');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    fetches = 0;
    failWith = undefined;
  });

  const handlerFor = () => makeHandler({ ...QUIET, AUTH_JWKS_URL: url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
  const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, ...extra });

  it('allows RS256 and ES256 tokens signed by keys of the set, fetching the set once', async () => {
    const handler = handlerFor();
    const rs = await sign(claims({ sub: 'rsa-user' }), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' });
    const es = await sign(claims({ sub: 'ec-user', topics: ['users/{sub}/inbox'] }), ec.privateKey, { alg: 'ES256', kid: 'ec-1' });
    expect((await handler(queryEvent(rs))).principalId).to.equal('rsa-user');
    const viaSubprotocol = await handler(subprotocolEvent(es));
    expect(viaSubprotocol.context).to.deep.equal({ principal: 'ec-user', topics: '["users/{sub}/inbox"]' });
    expect((await handler(queryEvent(rs))).principalId).to.equal('rsa-user');
    expect(fetches).to.equal(1);
  });

  it('refuses a token signed by a key outside the set, with or without a known kid', async () => {
    const handler = handlerFor();
    await expectUnauthorized(handler(queryEvent(await sign(claims(), stranger.privateKey, { alg: 'RS256', kid: 'rsa-1' }))));
    await expectUnauthorized(handler(queryEvent(await sign(claims(), stranger.privateKey, { alg: 'RS256', kid: 'unknown' }))));
  });

  it('refuses HS256 tokens when a JWKS is configured (algorithm confusion)', async () => {
    const handler = handlerFor();
    // The classic attack: HMAC keyed with the public key the server trusts.
    const pem = await exportSPKI(rsa.publicKey);
    await expectUnauthorized(handler(queryEvent(await sign(claims(), pem, { alg: 'HS256', kid: 'rsa-1' }))));
    await expectUnauthorized(handler(queryEvent(await sign(claims(), pem, { alg: 'HS256' }))));
    const jwkAsSecret = JSON.stringify(published[0]);
    await expectUnauthorized(handler(queryEvent(await sign(claims(), jwkAsSecret, { alg: 'HS256', kid: 'rsa-1' }))));
  });

  it('refuses RS256 tokens with the wrong issuer, audience, or expired', async () => {
    const handler = handlerFor();
    const key = rsa.privateKey;
    const header = { alg: 'RS256', kid: 'rsa-1' };
    await expectUnauthorized(handler(queryEvent(await sign(claims({ iss: 'https://evil.example' }), key, header))));
    await expectUnauthorized(handler(queryEvent(await sign(claims({ aud: 'another-client' }), key, header))));
    await expectUnauthorized(handler(queryEvent(await sign(claims({ exp: Math.floor(Date.now() / 1000) - 120 }), key, header))));
  });

  it('answers 500 (not 401) when the key set cannot be fetched', async () => {
    failWith = 503;
    const handler = handlerFor();
    await expectServerError(handler(queryEvent(await sign(claims(), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }))), /JSON Web Key Set/);
    expect(fetches).to.be.greaterThan(0);
  });
});
