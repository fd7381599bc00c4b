import { expect } from 'chai';
import { SignJWT } from 'jose';
import { mintToken } from '../../local/auth-token';
import { startLocal, type LocalSystem } from '../../local/system';
import { errorReplySchema } from '../../protocol/messages';
import { openSocket, publish, refusedStatus, withToken, type Client } from './auth-fixtures';
import { expectSubscribed } from './system-helpers';

const SECRET = 'dev-secret';

describe('local mode with auth on (end to end, real ws clients)', () => {
  let system: LocalSystem;
  let url: string;
  const open: Client[] = [];
  const connect = async (...args: Parameters<typeof openSocket>) => {
    const client = await openSocket(...args);
    open.push(client);
    return client;
  };

  before(async () => {
    system = await startLocal({ authSecret: SECRET, quiet: true });
    url = system.outputs.websocketUrl;
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  after(async () => {
    await system?.stop();
  });

  it('connects with a token in the query string; a forbidden subscribe gets FORBIDDEN, the allowed one receives messages', async () => {
    const token = await mintToken({ secret: SECRET, sub: 'alice', topics: ['orders/*'] });
    const client = await connect(withToken(url, token));

    // All or nothing: one forbidden topic refuses the whole request and names only it.
    const refused = await client.request({ action: 'subscribe', topics: ['orders/42', 'payments/1'] });
    expect(errorReplySchema.parse(refused)).to.deep.include({ type: 'error', code: 'FORBIDDEN', topics: ['payments/1'] });
    const alsoRefused = await client.request({ action: 'subscribe', topics: ['orders/42/items'] });
    expect(alsoRefused).to.deep.include({ code: 'FORBIDDEN', topics: ['orders/42/items'] });

    expectSubscribed(await client.request({ action: 'subscribe', topics: ['orders/42'] }), ['orders/42']);
    await publish(system.outputs, 'orders/42', { status: 'shipped' });
    const message = await client.next((f) => f.type === 'message', 'the published message');
    expect(message).to.deep.include({ type: 'message', topic: 'orders/42', data: { status: 'shipped' } });
  });

  it('connects with the token as a bearer.<jwt> subprotocol and gets `realtime` echoed back', async () => {
    const token = await mintToken({ secret: SECRET, sub: 'bob', topics: ['users/{sub}/inbox'] });
    const client = await connect(url, ['realtime', `bearer.${token}`]);
    expect(client.ws.protocol).to.equal('realtime');

    expect(await client.request({ action: 'subscribe', topics: ['users/alice/inbox'] })).to.deep.include({
      type: 'error',
      code: 'FORBIDDEN',
      topics: ['users/alice/inbox'],
    });
    expectSubscribed(await client.request({ action: 'subscribe', topics: ['users/bob/inbox'] }), ['users/bob/inbox']);
    await publish(system.outputs, 'users/bob/inbox', 'hello bob');
    expect(await client.next((f) => f.type === 'message', 'the inbox message')).to.deep.include({ topic: 'users/bob/inbox', data: 'hello bob' });
  });

  it('refuses the handshake with 401 without a token, with a bad or expired token', async () => {
    expect(await refusedStatus(url)).to.equal(401);
    expect(await refusedStatus(url, ['realtime'])).to.equal(401);
    expect(await refusedStatus(withToken(url, 'not-a-jwt'))).to.equal(401);
    const otherSecret = await mintToken({ secret: 'another-secret', sub: 'mallory', topics: ['*'] });
    expect(await refusedStatus(withToken(url, otherSecret))).to.equal(401);
    const expired = await new SignJWT({ topics: ['*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
      .sign(new TextEncoder().encode(SECRET));
    expect(await refusedStatus(url, ['realtime', `bearer.${expired}`])).to.equal(401);
  });

  it('refuses with 403 an authentic token whose topics claim is malformed', async () => {
    const token = await new SignJWT({ topics: { not: 'a list' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    expect(await refusedStatus(withToken(url, token))).to.equal(403);
  });

  it('lets a token without a topics claim connect but subscribe to nothing', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('carol').setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
    const client = await connect(withToken(url, token));
    expect(await client.request({ action: 'subscribe', topics: ['news'] })).to.deep.include({ code: 'FORBIDDEN', topics: ['news'] });
  });
});
