import { expect } from 'chai';
import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import { makeHandler } from '../../functions/handlers/authorizer';
import { MAX_PATTERN_LENGTH, MAX_PATTERNS, MAX_PRINCIPAL_LENGTH } from '../../functions/lib/auth/claims';
import { allowPolicy } from '../../functions/lib/auth/policy';
import { CLOCK_TOLERANCE_SECONDS, MAX_TOKEN_LENGTH } from '../../functions/lib/auth/verify';
import { AUTH_CONTEXT } from '../../protocol/auth';
import { AUTHORIZER_RESULT_LIMIT_BYTES, AUTHORIZER_RESULT_SAFE_BYTES, authorizerResultBytes } from '../../protocol/authorizer-limits';
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
import { captureOutput } from './helpers';

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

  it('denies (403) a presence claim nested deeper than a message may be, saying why; 128 levels pass', async () => {
    const nested = (levels: number) => {
      let value: unknown = 'x';
      for (let i = 0; i < levels; i++) value = i % 2 ? { a: value } : [value];
      return value;
    };
    const ok = await handler(queryEvent(await sign({ sub: 'erin', presence: nested(128) })));
    expect(ok.policyDocument.Statement[0]).to.include({ Effect: 'Allow' });
    const loud = makeHandler({ AUTH_SECRET: SECRET, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'INFO' });
    const token = await sign({ sub: 'erin', presence: nested(129) });
    const { result, lines } = await captureOutput(() => loud(queryEvent(token)));
    expect(result.policyDocument.Statement[0]).to.include({ Effect: 'Deny' });
    expect(result.principalId).to.equal('erin');
    expect(lines.join('')).to.match(/"presence\\?" claim nests arrays and objects deeper than 128 levels/);
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

describe('authorizer result size (API Gateway WebSocket quota: 8 KB)', () => {
  const handler = makeHandler({ ...QUIET, AUTH_SECRET: SECRET });
  // A `sub` of control characters is 6 bytes each once JSON-escaped, and the result holds it twice
  // (principalId and context.principal): with the most patterns, an authentic token under the
  // token length cap whose Allow is near or over the limit.
  const sub = '\u0001'.repeat(MAX_PRINCIPAL_LENGTH);
  /** Patterns whose Allow for `sub` is exactly `bytes` long (the last pattern takes up the slack). */
  function patternsForAllowOf(bytes: number): string[] {
    const base = Array.from({ length: MAX_PATTERNS - 1 }, (_, i) => `t${i}/`.padEnd(80, 'x'));
    const size = (last: string) => authorizerResultBytes(allowPolicy(METHOD_ARN, { principal: sub, topics: [...base, last] }));
    const last = 'z'.repeat(bytes - size(''));
    expect(last.length).to.be.within(1, MAX_PATTERN_LENGTH);
    const topics = [...base, last];
    expect(size(last)).to.equal(bytes);
    return topics;
  }

  it('allows an Allow of exactly the safe size, and denies (403) one byte more, logging why', async () => {
    const fits = await sign({ sub, topics: patternsForAllowOf(AUTHORIZER_RESULT_SAFE_BYTES) });
    const over = await sign({ sub, topics: patternsForAllowOf(AUTHORIZER_RESULT_SAFE_BYTES + 1) });
    for (const token of [fits, over]) expect(token.length, 'the token itself is accepted').to.be.at.most(MAX_TOKEN_LENGTH);

    const allowed = await handler(queryEvent(fits));
    expect(allowed.policyDocument.Statement[0]).to.include({ Effect: 'Allow' });
    expect(authorizerResultBytes(allowed)).to.equal(AUTHORIZER_RESULT_SAFE_BYTES);

    const loud = makeHandler({ AUTH_SECRET: SECRET, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'INFO' });
    const { result: denied, lines } = await captureOutput(() => loud(queryEvent(over)));
    expect(denied).to.deep.equal({
      principalId: sub,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: METHOD_ARN }] },
    });
    const log = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'connect denied: authorizer result too large');
    expect(log, lines.join('\n')).to.include({ level: 'WARN', patterns: MAX_PATTERNS, bytes: AUTHORIZER_RESULT_SAFE_BYTES + 1 });
    expect(log?.reason).to.match(/at most 8192 .* at most 7680: grant fewer or shorter patterns/);
  });

  it('keeps the safe size below the 8 KB limit, and refuses claims beyond the lowered caps', async () => {
    expect(AUTHORIZER_RESULT_LIMIT_BYTES).to.equal(8192);
    expect(AUTHORIZER_RESULT_SAFE_BYTES).to.be.below(AUTHORIZER_RESULT_LIMIT_BYTES);
    const tooMany = await sign({ topics: Array.from({ length: MAX_PATTERNS + 1 }, (_, i) => `t${i}`) });
    expect((await handler(queryEvent(tooMany))).policyDocument.Statement[0]).to.include({ Effect: 'Deny' });
    // An ordinary token with the most patterns of a typical length fits with room to spare.
    const typical = await sign({ sub: 'auth0|5f7c8ec7c33c6c004bbafe82', topics: Array.from({ length: MAX_PATTERNS }, (_, i) => `tenants/acme/projects/${i}/*`) });
    const allowed = await handler(queryEvent(typical));
    expect(allowed.policyDocument.Statement[0]).to.include({ Effect: 'Allow' });
    expect(authorizerResultBytes(allowed)).to.be.below(AUTHORIZER_RESULT_SAFE_BYTES / 2);
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
