/**
 * The presence module against dynalite (DynamoDB's own conditions, sets and ADD): a principal
 * with several connections is one member; the last connection to go is the leave; connections
 * gone without $disconnect are dropped at a sibling's leave; expired members leave when listed;
 * the list stops at the cap (then only the count), and rooms above it are not announced;
 * `forget` ($disconnect, 410) leaves every presence topic of the connection.
 */
import { expect } from 'chai';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { MAX_PRINCIPAL_LENGTH, principalFromClaim } from '../../functions/lib/auth/claims';
import { Presence } from '../../functions/lib/presence';
import type { PublishQueue } from '../../functions/lib/publish-queue';
import type { PresenceEnvelope } from '../../protocol/envelope';
import { createTableInput, expiresAtFor, TABLE } from '../../protocol/table';
import { tableActive, withDynalite } from './dynalite';

const logger = new Logger({ logLevel: 'SILENT' });

describe('presence (functions/lib/presence) against dynalite', () => {
  const dynamo = withDynalite();
  let tableName: string;
  let sent: PresenceEnvelope[];
  let now: number;
  let tables = 0;
  const queue: PublishQueue = {
    send: async (body) => {
      sent.push(body as PresenceEnvelope);
      return String(sent.length);
    },
  };
  const presence = (maxListed = 100) =>
    new Presence({ ddb: dynamo.ddb, tableName, config: { presence: { topics: ['room/*'], maxListed } }, logger, queue, now: () => now });
  const events = () => sent.map((e) => `${e.presence.event} ${e.presence.member.id} ${e.presence.count}`);

  /** A `$connection` item, as $connect writes it. */
  async function connection(connectionId: string, principal: string, presenceData?: unknown, expiresAt = expiresAtFor(now)) {
    const item = { connectionId, sk: TABLE.connectionSortKey, principal, allowedTopics: ['room/*'], expiresAt, ...(presenceData === undefined ? {} : { presence: JSON.stringify(presenceData) }) };
    await dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: item }));
    return item;
  }
  async function subscriptionRow(connectionId: string, topic: string) {
    await dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: { connectionId, sk: topic, topic, expiresAt: expiresAtFor(now) } }));
  }

  beforeEach(async () => {
    tableName = `presence-${++tables}`;
    await dynamo.createTable(createTableInput(tableName));
    await tableActive(dynamo.ddb, tableName);
    sent = [];
    now = Date.parse('2025-06-01T12:00:00Z');
  });

  it('counts a principal with several connections once: join on the first, leave after the last', async () => {
    const p = presence();
    const a1 = await connection('A1', 'alice', { name: 'Alice' });
    const a2 = await connection('A2', 'alice', { name: 'Alice' });
    const b1 = await connection('B1', 'bob');
    await p.join(a1, ['room/1', 'other/1']);
    await p.join(a2, ['room/1']);
    await p.join(b1, ['room/1']);
    await p.join(a1, ['room/1']); // subscribing again: idempotent
    expect(events()).to.deep.equal(['join alice 1', 'join bob 2']);
    expect(sent[0]).to.deep.equal({ presence: { topic: 'room/1', event: 'join', member: { id: 'alice', data: { name: 'Alice' } }, count: 1 } });

    const state = await p.state(['room/1', 'other/1']);
    expect(Object.keys(state!)).to.deep.equal(['room/1']);
    expect(state!['room/1']).to.deep.equal({ members: [{ id: 'alice', data: { name: 'Alice' } }, { id: 'bob' }], count: 2 });

    await p.leave('A2', 'alice', ['room/1']);
    expect(events()).to.have.length(2);
    await p.leave('A1', 'alice', ['room/1']);
    await p.leave('A1', 'alice', ['room/1']); // again (a retried $disconnect): nothing
    expect(events()).to.deep.equal(['join alice 1', 'join bob 2', 'leave alice 1']);
    expect((await p.state(['room/1']))!['room/1']).to.deep.equal({ members: [{ id: 'bob' }], count: 1 });
  });

  it('a join racing the leave of the same principal: no second join, no leave, the count stays 1', async () => {
    const p = presence();
    const a1 = await connection('A1', 'alice');
    const a2 = await connection('A2', 'alice');
    await p.join(a1, ['room/1']);
    // The leave removes A1, its last connection; before it deletes the member item, A2 joins.
    let beforeDelete: (() => Promise<void>) | undefined = () => p.join(a2, ['room/1']);
    const racing = {
      send: async (command: unknown) => {
        if (command instanceof DeleteCommand && beforeDelete) {
          const run = beforeDelete;
          beforeDelete = undefined;
          await run();
        }
        return dynamo.ddb.send(command as Parameters<DynamoDBDocumentClient['send']>[0]);
      },
    } as unknown as DynamoDBDocumentClient;
    const leaving = new Presence({ ddb: racing, tableName, config: { presence: { topics: ['room/*'], maxListed: 100 } }, logger, queue, now: () => now });
    await leaving.leave('A1', 'alice', ['room/1']);
    expect(beforeDelete, 'the interleaving happened').to.equal(undefined);
    expect(events()).to.deep.equal(['join alice 1']);
    expect((await p.state(['room/1']))!['room/1']).to.deep.equal({ members: [{ id: 'alice' }], count: 1 });
    expect(await p.store.count('room/1')).to.equal(1);
    // A2 is the member's connection now: its leave is the leave.
    await p.leave('A2', 'alice', ['room/1']);
    expect(events()).to.deep.equal(['join alice 1', 'leave alice 0']);
  });

  it('a count that drifted is set back to the members a full list finds; above the cap it is left alone', async () => {
    const p = presence(2);
    const countKey = { connectionId: '$presence:room/1', sk: TABLE.presenceCountSortKey };
    const setCount = (members: number) => dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: { ...countKey, members } }));
    await p.join(await connection('A1', 'alice'), ['room/1']);
    await p.join(await connection('B1', 'bob'), ['room/1']);
    await setCount(7); // a transition's count update was lost, several times
    expect((await p.state(['room/1']))!['room/1']).to.deep.equal({ members: [{ id: 'alice' }, { id: 'bob' }], count: 2 });
    expect(await p.store.count('room/1')).to.equal(2);
    // Healed: the next transitions count right.
    await p.join(await connection('C1', 'carol'), ['room/1']);
    expect(events()).to.deep.equal(['join alice 1', 'join bob 2', 'join carol 3']);
    // Too low, or the count item lost: set back as well (expired members still count until their leave).
    await p.leave('C1', 'carol', ['room/1']);
    await dynamo.ddb.send(new DeleteCommand({ TableName: tableName, Key: countKey }));
    await p.state(['room/1']);
    expect(await p.store.count('room/1')).to.equal(2);
    // Above the cap only the count is known: nothing to set it to.
    await p.join(await connection('C2', 'carol'), ['room/1']);
    await setCount(9);
    expect((await p.state(['room/1']))!['room/1']).to.deep.equal({ count: 9 });
    expect(await p.store.count('room/1')).to.equal(9);
  });

  it('the longest principal the authorizer accepts, in the widest characters, fits a member sort key (1024 bytes)', async () => {
    const p = presence();
    const widest = '\uffff'.repeat(MAX_PRINCIPAL_LENGTH); // 3 bytes each in UTF-8: the most 256 code units can take
    expect(principalFromClaim(widest)).to.equal(widest);
    await p.join(await connection('W1', widest), ['room/1']);
    await p.leave('W1', widest, ['room/1']);
    expect(events()).to.deep.equal([`join ${widest} 1`, `leave ${widest} 0`]);
    // DynamoDB counts the sort key in UTF-8 bytes (dynalite in code units, so the bytes are checked here).
    expect(Buffer.byteLength(`${TABLE.presenceMemberPrefix}${widest}`, 'utf8')).to.equal(775).and.be.at.most(1024);
    expect(Buffer.byteLength('\u{10FFFF}'.repeat(MAX_PRINCIPAL_LENGTH / 2), 'utf8')).to.be.at.most(768); // surrogate pairs: 4 bytes per 2 units
    expect(() => principalFromClaim(`${widest}x`)).to.throw(/longer than 256/);
  });

  it('drops connections that are gone without $disconnect when a sibling leaves, and then leaves', async () => {
    const p = presence();
    const a1 = await connection('A1', 'alice');
    const a2 = await connection('A2', 'alice');
    await p.join(a1, ['room/1']);
    await p.join(a2, ['room/1']);
    // A2's rows vanished (TTL, or a lost $disconnect with its item deleted by a 410 elsewhere).
    await dynamo.ddb.send(new PutCommand({ TableName: tableName, Item: { ...a2, expiresAt: Math.floor(now / 1000) - 1 } }));
    await p.leave('A1', 'alice', ['room/1']);
    expect(events()).to.deep.equal(['join alice 1', 'leave alice 0']);
  });

  it('an expired member (every connection lost, nothing ran) leaves when the topic is next listed', async () => {
    const p = presence();
    await p.join(await connection('A1', 'alice'), ['room/1']);
    await p.join(await connection('B1', 'bob'), ['room/1']);
    now += 3 * 3600 * 1000; // past every expiry: 2 h cap + margin
    await p.join(await connection('C1', 'carol'), ['room/1']);
    const state = (await p.state(['room/1']))!['room/1'];
    expect(state.members!.map((m) => m.id)).to.deep.equal(['carol']);
    expect(events().slice(3).sort()).to.deep.equal(['leave alice 2', 'leave bob 1']);
    expect(state.count).to.equal(1);
  });

  it('lists at most the cap (then only the count), and stops announcing above it', async () => {
    const p = presence(2);
    for (const [i, who] of ['a', 'b', 'c', 'd'].entries()) await p.join(await connection(`C${i}`, who), ['room/big']);
    expect((await p.state(['room/big']))!['room/big']).to.deep.equal({ count: 4 });
    // a, b: listed range; c: the crossing (2 → 3) is told, so lists know the room went big; d: not told.
    expect(events()).to.deep.equal(['join a 1', 'join b 2', 'join c 3']);
    await p.leave('C3', 'd', ['room/big']); // 4 → 3: not told
    await p.leave('C2', 'c', ['room/big']); // 3 → 2: told
    expect(events().slice(3)).to.deep.equal(['leave c 2']);
    expect((await p.state(['room/big']))!['room/big']).to.deep.equal({ members: [{ id: 'a' }, { id: 'b' }], count: 2 });
  });

  it('refuses presence topics to a connection without a principal (auth off), naming only them', () => {
    const refusal = presence().refusal({ connectionId: 'X', sk: TABLE.connectionSortKey }, ['room/1', 'news']);
    expect(refusal).to.include({ type: 'error', code: 'FORBIDDEN' });
    expect(refusal!.topics).to.deep.equal(['room/1']);
    expect(presence().refusal({ connectionId: 'X', sk: TABLE.connectionSortKey }, ['news'])).to.equal(undefined);
  });

  it('forget ($disconnect, 410) deletes the rows and leaves every presence topic the connection held', async () => {
    const p = presence();
    const a1 = await connection('A1', 'alice');
    await subscriptionRow('A1', 'room/1');
    await subscriptionRow('A1', 'room/2');
    await subscriptionRow('A1', 'news');
    await p.join(a1, ['room/1', 'room/2', 'news']);
    expect(await p.forget('A1')).to.equal(3);
    expect(events().sort()).to.deep.equal(['join alice 1', 'join alice 1', 'leave alice 0', 'leave alice 0']);
    const gone = await dynamo.ddb.send(new GetCommand({ TableName: tableName, Key: { connectionId: 'A1', sk: TABLE.connectionSortKey } }));
    expect(gone.Item).to.equal(undefined);
    // A second cleanup (410 after $disconnect) finds nothing to leave.
    expect(await p.forget('A1')).to.equal(0);
    expect(events()).to.have.length(4);
  });
});
