import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { mintToken } from '../../local/auth-token';
import { makeHandler } from '../../functions/handlers/authorizer';

const SECRET = 'dev-secret';
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:000000000000:abcdefghij/local/$connect';
const event = (token: string) => ({ methodArn: METHOD_ARN, queryStringParameters: { token } });
const quiet = { POWERTOOLS_LOG_LEVEL: 'SILENT' };

describe('mintToken (development tokens)', () => {
  it('mints an HS256 token the authorizer accepts, with sub, topics, iat and a 1 h expiry', async () => {
    const token = await mintToken({ secret: SECRET, sub: 'alice', topics: ['orders/*', 'users/{sub}/inbox'] });
    expect(decodeProtectedHeader(token)).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).to.include({ sub: 'alice' });
    expect(claims.topics).to.deep.equal(['orders/*', 'users/{sub}/inbox']);
    // iat and exp are read from the clock separately: a second may tick between them.
    expect((claims.exp as number) - (claims.iat as number)).to.be.within(3600, 3601);
    const result = await makeHandler({ ...quiet, AUTH_SECRET: SECRET })(event(token));
    expect(result.context).to.deep.equal({ principal: 'alice', topics: '["orders/*","users/{sub}/inbox"]' });
  });

  it('sets issuer and audience so an authorizer that checks them accepts the token', async () => {
    const handler = makeHandler({ ...quiet, AUTH_SECRET: SECRET, AUTH_ISSUER: 'dev-issuer', AUTH_AUDIENCE: 'realtime' });
    const token = await mintToken({ secret: SECRET, sub: 'bob', topics: [], issuer: 'dev-issuer', audience: 'realtime' });
    expect((await handler(event(token))).principalId).to.equal('bob');
    const wrong = await mintToken({ secret: SECRET, sub: 'bob', topics: [], issuer: 'dev-issuer', audience: 'elsewhere' });
    await handler(event(wrong)).then(
      () => expect.fail('a token for another audience was accepted'),
      (e: Error) => expect(e.message).to.equal('Unauthorized'),
    );
  });

  it('honours expiresIn as seconds or a time span', async () => {
    const inSeconds = decodeJwt(await mintToken({ secret: SECRET, sub: 'a', topics: [], expiresIn: 90 }));
    expect((inSeconds.exp as number) - (inSeconds.iat as number)).to.be.within(90, 91);
    const span = decodeJwt(await mintToken({ secret: SECRET, sub: 'a', topics: [], expiresIn: '2h' }));
    expect((span.exp as number) - (span.iat as number)).to.be.within(7200, 7201);
  });

  it('refuses bad input with a clear error', async () => {
    const base = { secret: SECRET, sub: 'alice', topics: ['orders/*'] };
    const cases: Array<[object, RegExp]> = [
      [{ secret: '' }, /secret is required/],
      [{ sub: '' }, /"sub" claim must be a non-empty string/],
      [{ topics: ['orders*'] }, /bad pattern "orders\*"/],
      [{ topics: ['with space'] }, /bad pattern "with space"/],
      [{ expiresIn: -5 }, /positive number of seconds/],
      [{ expiresIn: 'soon' }, /not a time span/],
    ];
    for (const [override, message] of cases) {
      const error = await mintToken({ ...base, ...override }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message, JSON.stringify(override)).to.match(message);
    }
  });
});
