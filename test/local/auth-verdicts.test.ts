/**
 * The authorizer's answers as the local gateway judges them (the same rules as API Gateway), and
 * its context as the connect handler reads it: the contract between the three, end to end in memory.
 */
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { makeHandler } from '../../functions/handlers/authorizer';
import { authorizedIdentity } from '../../functions/handlers/connect';
import { judgeAuthorizerResult } from '../../local/gateway/authorizer';
import { mintToken } from '../../local/auth-token';

const SECRET = 'dev-secret';
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:000000000000:abcdefghij/local/$connect';
const event = (token?: string) => ({ methodArn: METHOD_ARN, queryStringParameters: token === undefined ? null : { token } });

async function verdict(handler: ReturnType<typeof makeHandler>, token?: string) {
  const outcome = await handler(event(token)).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  return judgeAuthorizerResult(outcome, METHOD_ARN);
}

describe('authorizer answers as the local gateway and the connect handler see them', () => {
  const handler = makeHandler({ AUTH_SECRET: SECRET, POWERTOOLS_LOG_LEVEL: 'SILENT' });

  it('a valid token is allowed; the connection gets the principal and its patterns', async () => {
    const token = await mintToken({ secret: SECRET, sub: 'alice', topics: ['orders/*', 'users/{sub}/inbox'] });
    const judged = await verdict(handler, token);
    expect(judged).to.deep.equal({
      allowed: true,
      authorizer: { principalId: 'alice', principal: 'alice', topics: '["orders/*","users/{sub}/inbox"]' },
    });
    if (!judged.allowed) return;
    expect(authorizedIdentity(judged.authorizer)).to.deep.equal({ principal: 'alice', allowedTopics: ['orders/*', 'users/{sub}/inbox'] });
  });

  it('a token without a topics claim yields an empty allow-list, not "everything"', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
    const judged = await verdict(handler, token);
    if (!judged.allowed) expect.fail('refused');
    expect(authorizedIdentity(judged.authorizer)).to.deep.equal({ principal: 'bob', allowedTopics: [] });
  });

  it('missing or invalid token → 401, unusable claims → 403, misconfiguration → 500', async () => {
    expect(await verdict(handler)).to.deep.include({ allowed: false, status: 401 });
    expect(await verdict(handler, 'garbage')).to.deep.include({ allowed: false, status: 401 });
    const badClaims = await new SignJWT({ topics: [1, 2] }).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
    expect(await verdict(handler, badClaims)).to.deep.include({ allowed: false, status: 403 });
    const unconfigured = makeHandler({ POWERTOOLS_LOG_LEVEL: 'SILENT' });
    expect(await verdict(unconfigured, await mintToken({ secret: SECRET, sub: 'alice', topics: [] }))).to.deep.include({ allowed: false, status: 500 });
  });
});
