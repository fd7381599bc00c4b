/**
 * The client's presence rooms and client publish against the local mode with auth on and
 * presence topics: `client.presence(topic)` lists members and tells joins and leaves (a second
 * tab of a member is no join), `client.publish` delivers with `from` and surfaces FORBIDDEN and
 * RATE_LIMITED as RealtimeErrors.
 */
import { expect } from 'chai';
import { RealtimeClient, RealtimeError, type DeliveredMessage, type PresenceMember } from '../../client/index';
import { mintToken } from '../../local/auth-token';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { eventually } from './local-helpers';

const SECRET = 'client-presence';

describe('client presence and publish against the local mode', function () {
  this.timeout(30_000);
  let system: LocalSystem;
  const clients: RealtimeClient[] = [];

  before(async () => {
    system = await startLocal({ quiet: true, authSecret: SECRET, env: { [ENV.presenceTopics]: '["room/*"]', [ENV.clientPublishPerSecond]: '3' } });
  });
  afterEach(() => {
    clients.splice(0).forEach((c) => c.close());
  });
  after(async () => {
    await system?.stop();
  });

  const client = (sub: string, claims: { publish?: string[]; presence?: unknown } = {}) => {
    const c = new RealtimeClient({
      url: system.outputs.websocketUrl,
      token: () => mintToken({ secret: SECRET, sub, topics: ['room/*', 'chat/*'], ...claims }),
    });
    clients.push(c);
    return c;
  };

  it('lists members, tells joins and leaves, and counts a member with two tabs once', async () => {
    const alice = await client('alice', { presence: { name: 'Alice' } }).presence('room/1');
    expect([...alice.members.values()]).to.deep.equal([{ id: 'alice', data: { name: 'Alice' } }]);
    const joins: PresenceMember[] = [];
    const leaves: PresenceMember[] = [];
    alice.on('join', (m) => joins.push(m));
    alice.on('leave', (m) => leaves.push(m));

    const bobTab1 = client('bob');
    const bob = await bobTab1.presence('room/1');
    expect([...bob.members.keys()].sort()).to.deep.equal(['alice', 'bob']);
    expect(bob.count).to.equal(2);
    await eventually(() => joins.some((m) => m.id === 'bob'), 'bob joining, seen by alice');

    const bobTab2 = client('bob');
    expect((await bobTab2.presence('room/1')).count).to.equal(2);
    bobTab2.close();
    await eventually(() => alice.count === 2 && leaves.length === 0, 'nothing changes');

    bobTab1.close();
    await eventually(() => leaves.some((m) => m.id === 'bob'), 'bob leaving with his last tab');
    expect(alice.count).to.equal(1);
    expect([...alice.members.keys()]).to.deep.equal(['alice']);
  });

  it('publishes with `from`; refusals are RealtimeErrors (FORBIDDEN, RATE_LIMITED)', async () => {
    const sender = client('sender', { publish: ['chat/*'] });
    const got: DeliveredMessage[] = [];
    await sender.subscribe('chat/1', (m) => got.push(m));
    const { id } = await sender.publish('chat/1', { text: 'hi' });
    await eventually(() => got.length === 1, 'its own message');
    expect(got[0]).to.deep.include({ id, from: 'sender', data: { text: 'hi' } });

    const forbidden = await sender.publish('room/1', 1).catch((e: unknown) => e);
    expect(forbidden).to.be.instanceOf(RealtimeError).and.include({ code: 'FORBIDDEN' });
    const noClaim = await client('reader').publish('chat/1', 1).catch((e: unknown) => e);
    expect(noClaim).to.be.instanceOf(RealtimeError).and.include({ code: 'FORBIDDEN' });

    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sender.publish('chat/1', i)));
    const limited = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as RealtimeError);
    expect(limited.length).to.be.greaterThan(10);
    for (const e of limited) expect(e.code).to.equal('RATE_LIMITED');
  });
});
