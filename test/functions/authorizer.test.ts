import { expect } from 'chai';
import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import { makeHandler } from '../../functions/handlers/authorizer';
import { CLOCK_TOLERANCE_SECONDS, MAX_TOKEN_LENGTH } from '../../functions/lib/auth/verify';
import { AUTH_CONTEXT } from '../../protocol/auth';
import {
  connectEvent,
  expectServerError,
  expectUnauthorized,
  METHOD_ARN,
  now,
  QUIET,
  queryEvent,
  SECRET,
  sign,
  subprotocolEvent,
} from './authorizer-fixtures';

describe('authorizer (HS256, AUTH_SECRET)', () => {
  const handler = makeHandler({ ...QUIET, AUTH_SECRET: SECRET });

  it('allows a valid token from the query string, with the principal and its patterns in the context', async () => {
    const token = await sign({ sub: 'alice', topics: ['orders/*', 'users/{sub}/inbox'] });
    const result = await handler(queryEvent(token));
    expect(result).to.deep.equal({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { [AUTH_CONTEXT.principal]: 'alice', [AUTH_CONTEXT.topics]: '["orders/*","users/{sub}/inbox"]' },
    });
  });

  it('allows a valid token offered as a bearer.<jwt> subprotocol, whatever the header case', async () => {
    const token = await sign({ sub: 'bob' });
    for (const name of ['Sec-WebSocket-Protocol', 'sec-websocket-protocol', 'SEC-WEBSOCKET-PROTOCOL']) {
      const result = await handler(subprotocolEvent(token, name));
      expect(result.principalId, name).to.equal('bob');
      expect(result.policyDocument.Statement[0]).to.include({ Effect: 'Allow' });
    }
  });

  it('finds the subprotocol token in multiValueHeaders alone, and in a comma-separated list without spaces', async () => {
    const token = await sign({ sub: 'carol' });
    const onlyMulti = connectEvent({ headers: null, multiValueHeaders: { 'Sec-WebSocket-Protocol': ['realtime', `bearer.${token}`] } });
    expect((await handler(onlyMulti)).principalId).to.equal('carol');
    const commaList = connectEvent({ headers: { 'sec-websocket-protocol': `realtime,bearer.${token}` }, multiValueHeaders: null });
    expect((await handler(commaList)).principalId).to.equal('carol');
  });

  it('accepts the same token offered both ways, refuses two different tokens', async () => {
    const a = await sign({ sub: 'alice' });
    const b = await sign({ sub: 'mallory' });
    const same = { ...subprotocolEvent(a), queryStringParameters: { token: a } };
    expect((await handler(same)).principalId).to.equal('alice');
    await expectUnauthorized(handler({ ...subprotocolEvent(a), queryStringParameters: { token: b } }));
    await expectUnauthorized(handler(connectEvent({ multiValueQueryStringParameters: { token: [a, b] } })));
  });

  it('refuses a missing token with 401 (no query, no bearer subprotocol, empty values)', async () => {
    await expectUnauthorized(handler(connectEvent()));
    await expectUnauthorized(handler(connectEvent({ headers: null, multiValueHeaders: null })));
    await expectUnauthorized(handler(queryEvent('')));
    await expectUnauthorized(handler(connectEvent({ headers: { 'Sec-WebSocket-Protocol': 'realtime, bearer.' } })));
    await expectUnauthorized(handler(connectEvent({ headers: { 'Sec-WebSocket-Protocol': 'realtime' } })));
  });

  it('refuses malformed tokens with 401', async () => {
    for (const junk of ['abc', 'a.b.c', 'a.b', '...', 'eyJhbGciOiJIUzI1NiJ9.e30', '☃.☃.☃', `${'x'.repeat(MAX_TOKEN_LENGTH + 1)}`]) {
      await expectUnauthorized(handler(queryEvent(junk)));
    }
    const valid = await sign();
    await expectUnauthorized(handler(queryEvent(valid.slice(0, -3))));
    await expectUnauthorized(handler(queryEvent(`${valid}x`)));
  });

  it('refuses an expired token, and one not yet valid, beyond the clock tolerance', async () => {
    await expectUnauthorized(handler(queryEvent(await sign({ exp: now() - 60 }))));
    await expectUnauthorized(handler(queryEvent(await sign({ nbf: now() + 60 }))));
  });

  it('tolerates a few seconds of clock skew on exp and nbf', async () => {
    const slack = CLOCK_TOLERANCE_SECONDS - 2;
    expect((await handler(queryEvent(await sign({ exp: now() - slack })))).principalId).to.equal('alice');
    expect((await handler(queryEvent(await sign({ nbf: now() + slack })))).principalId).to.equal('alice');
  });

  it('refuses a token signed with another secret (wrong signature)', async () => {
    await expectUnauthorized(handler(queryEvent(await sign({}, 'some-other-secret-of-reasonable-length'))));
    // Same header and claims, signature of another token pasted on.
    const good = (await sign()).split('.');
    const other = (await sign({ sub: 'mallory' })).split('.');
    await expectUnauthorized(handler(queryEvent(`${other[0]}.${other[1]}.${good[2]}`)));
  });

  it('refuses unsigned (alg none) tokens and tokens without exp or sub', async () => {
    const unsecured = new UnsecuredJWT({ sub: 'alice', topics: ['*'] }).setExpirationTime('1h').encode();
    await expectUnauthorized(handler(queryEvent(unsecured)));
    await expectUnauthorized(handler(queryEvent(await sign({ exp: undefined }))));
    await expectUnauthorized(handler(queryEvent(await sign({ sub: undefined }))));
  });

  it('refuses HS384/HS512 tokens even with the right secret (only HS256 for secrets)', async () => {
    const key = new TextEncoder().encode(SECRET);
    for (const alg of ['HS384', 'HS512']) {
      const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg }).setExpirationTime('1h').sign(key);
      await expectUnauthorized(handler(queryEvent(token)));
    }
  });

  it('gives a token without a topics claim no topics at all (the safe default)', async () => {
    const result = await handler(queryEvent(await sign({ topics: undefined })));
    expect(result.context).to.deep.equal({ principal: 'alice', topics: '[]' });
  });

  it('accepts topics as a space-separated string claim (issuers with string-only claims)', async () => {
    const result = await handler(queryEvent(await sign({ topics: 'orders/* users/{sub}/inbox  orders/*' })));
    expect(JSON.parse(result.context?.topics as string)).to.deep.equal(['orders/*', 'users/{sub}/inbox']);
  });

  it('denies (403) an authentic token whose claims are unusable', async () => {
    for (const claims of [{ topics: { a: 1 } }, { topics: [42] }, { topics: ['orders*'] }, { topics: ['a b'] }, { sub: '' }, { sub: 7 }]) {
      const result = await handler(queryEvent(await sign(claims as Record<string, unknown>)));
      expect(result.policyDocument.Statement[0], JSON.stringify(claims)).to.include({ Effect: 'Deny', Resource: METHOD_ARN });
      expect(result.context, 'a Deny carries no context').to.equal(undefined);
    }
    const named = await handler(queryEvent(await sign({ sub: 'dave', topics: ['bad topic'] })));
    expect(named.principalId).to.equal('dave');
  });

  it('never puts the token in the logs', async () => {
    const lines: string[] = [];
    const loud = makeHandler({ AUTH_SECRET: SECRET, POWERTOOLS_LOG_LEVEL: 'DEBUG', AWS_REGION: 'us-east-1' });
    const originalOut = process.stdout.write;
    const originalErr = process.stderr.write;
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    const good = await sign({ sub: 'alice' });
    const expired = await sign({ sub: 'alice', exp: now() - 600 });
    const denied = await sign({ sub: 'alice', topics: [1] });
    (process.stdout as { write: unknown }).write = capture;
    (process.stderr as { write: unknown }).write = capture;
    try {
      await loud(queryEvent(good));
      await loud(subprotocolEvent(expired)).catch(() => undefined);
      await loud(queryEvent(denied));
    } finally {
      process.stdout.write = originalOut;
      process.stderr.write = originalErr;
    }
    const text = lines.join('');
    expect(text, 'the handler logged something').to.match(/connect authorized/);
    for (const token of [good, expired, denied]) {
      for (const part of token.split('.')) expect(text).to.not.include(part);
    }
  });

  it('decodes the principal from the verified token, not from anything else in the request', async () => {
    const token = await sign({ sub: 'alice' });
    const event = queryEvent(token);
    event.headers = { ...event.headers, 'X-Principal': 'root' };
    expect((await handler(event)).principalId).to.equal(decodeJwt(token).sub);
  });
});

describe('authorizer (issuer and audience)', () => {
  const handler = makeHandler({ ...QUIET, AUTH_SECRET: SECRET, AUTH_ISSUER: 'https://issuer.example', AUTH_AUDIENCE: 'realtime, other-app' });

  it('allows the right issuer with any configured audience', async () => {
    for (const aud of ['realtime', 'other-app', ['unrelated', 'realtime']]) {
      const result = await handler(queryEvent(await sign({ iss: 'https://issuer.example', aud })));
      expect(result.policyDocument.Statement[0]).to.include({ Effect: 'Allow' });
    }
  });

  it('refuses a wrong or missing issuer', async () => {
    await expectUnauthorized(handler(queryEvent(await sign({ iss: 'https://evil.example', aud: 'realtime' }))));
    await expectUnauthorized(handler(queryEvent(await sign({ aud: 'realtime' }))));
  });

  it('refuses a wrong or missing audience', async () => {
    await expectUnauthorized(handler(queryEvent(await sign({ iss: 'https://issuer.example', aud: 'someone-else' }))));
    await expectUnauthorized(handler(queryEvent(await sign({ iss: 'https://issuer.example' }))));
  });
});

describe('authorizer configuration', () => {
  it('fails every invocation with a 500-style error (not 401) when no key source is configured', async () => {
    const handler = makeHandler({ ...QUIET });
    await expectServerError(handler(queryEvent(await sign())), /no key configured/);
  });

  it('refuses two key sources at once rather than pick one silently', async () => {
    const handler = makeHandler({ ...QUIET, AUTH_SECRET: SECRET, AUTH_JWKS_URL: 'https://idp.example/jwks.json' });
    await expectServerError(handler(queryEvent(await sign())), /only one key source/);
  });

  it('refuses a plain-http JWKS URL that is not on this machine', async () => {
    const handler = makeHandler({ ...QUIET, AUTH_JWKS_URL: 'http://idp.example/jwks.json' });
    await expectServerError(handler(queryEvent(await sign())), /https/);
  });
});
