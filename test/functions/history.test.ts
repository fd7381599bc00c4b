/**
 * The history modules against dynalite (which evaluates conditions and ADD as DynamoDB does):
 * seq assignment once per id, retention by count, and resume with its `recovered` rule.
 */
import { expect } from 'chai';
import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { StreamReader, type Resumed, type Since } from '../../functions/lib/history/replay';
import { Sequencer } from '../../functions/lib/history/sequencer';
import type { HistorySettings } from '../../functions/lib/history/settings';
import { claimKey, createHistoryTableInput, HISTORY } from '../../protocol/history';
import { withDynalite } from './dynalite';

describe('message history (sequencer and replay, against dynalite)', () => {
  const dynamo = withDynalite();
  let tableN = 0;
  let settings: HistorySettings;
  let nowMs = Date.UTC(2026, 0, 1);
  const clock = () => nowMs;

  beforeEach(async () => {
    settings = { tableName: `history-${++tableN}`, retentionSeconds: 3600, maxMessages: 5 };
    await dynamo.createTable(createHistoryTableInput(settings.tableName));
    nowMs = Date.UTC(2026, 0, 1);
  });

  const sequencer = () => new Sequencer(dynamo.ddb, settings, clock);
  const reader = () => new StreamReader(dynamo.ddb, settings, clock);
  const frameOf = (topic: string, seq: number, id: string) => JSON.stringify({ type: 'message', topic, id, seq });
  async function publish(topic: string, id: string) {
    const s = sequencer();
    const at = await s.assign(topic, id);
    await s.retain(topic, at.seq, id, frameOf(topic, at.seq, id));
    return at;
  }
  async function resume(topic: string, since: Since, stopAfter = Infinity): Promise<Resumed & { frames: string[] }> {
    const frames: string[] = [];
    const result = await reader().resume(topic, since, async (page) => {
      frames.push(...page);
      return frames.length < stopAfter;
    });
    return { ...result, frames };
  }
  const seqsOf = (frames: string[]) => frames.map((f) => (JSON.parse(f) as { seq: number }).seq);

  it('numbers a topic 1, 2, 3 in one epoch, per topic, and gives a redelivered id its first seq', async () => {
    const a1 = await publish('a', 'm1');
    const a2 = await publish('a', 'm2');
    const b1 = await publish('b', 'm1');
    const again = await publish('a', 'm1');
    expect([a1.seq, a2.seq, b1.seq]).to.deep.equal([1, 2, 1]);
    expect(a2.epoch).to.equal(a1.epoch);
    expect(b1.epoch).to.not.equal(a1.epoch);
    expect(again).to.deep.equal({ seq: 1, epoch: a1.epoch, repeated: true });
    const { Items } = await dynamo.ddb.send(new QueryCommand({ TableName: settings.tableName, KeyConditionExpression: '#t = :t', ExpressionAttributeNames: { '#t': 'topic' }, ExpressionAttributeValues: { ':t': 'a' } }));
    expect(Items!.filter((i) => i.seq > 0).map((i) => i.id)).to.deep.equal(['m1', 'm2']);
  });

  it('gives one seq to an id delivered twice at once: the loser leaves a hole, history holds the id once', async () => {
    const [x, y] = await Promise.all([sequencer().assign('t', 'dup'), sequencer().assign('t', 'dup')]);
    expect(x.seq).to.equal(y.seq);
    expect([x.repeated, y.repeated].filter(Boolean)).to.have.length(1);
    const { Item } = await dynamo.ddb.send(new GetCommand({ TableName: settings.tableName, Key: { topic: claimKey('t', 'dup'), seq: 0 } }));
    expect(Item?.[HISTORY.claimedSeqAttribute]).to.equal(x.seq);
    const next = await sequencer().assign('t', 'other');
    expect(next.seq).to.equal(3); // seq 2 (or 1) was taken by the loser and is a hole
  });

  it('keeps at most maxMessages per topic, dropping the oldest', async () => {
    for (let i = 1; i <= 8; i++) await publish('t', `m${i}`);
    const { Items } = await dynamo.ddb.send(new QueryCommand({ TableName: settings.tableName, KeyConditionExpression: '#t = :t AND #s >= :one', ExpressionAttributeNames: { '#t': 'topic', '#s': 'seq' }, ExpressionAttributeValues: { ':t': 't', ':one': 1 } }));
    expect(Items!.map((i) => i.seq)).to.deep.equal([4, 5, 6, 7, 8]);
  });

  it('position() of a topic never published to creates its stream once; publishes then use that epoch', async () => {
    const p1 = await reader().position('fresh');
    const p2 = await reader().position('fresh');
    expect(p1).to.deep.equal({ epoch: p1.epoch, seq: 0 });
    expect(p2).to.deep.equal(p1);
    expect((await publish('fresh', 'm1')).epoch).to.equal(p1.epoch);
  });

  it('resumes with every message after since, in order, and says recovered', async () => {
    for (let i = 1; i <= 4; i++) await publish('t', `m${i}`);
    const { epoch } = await reader().position('t');
    const r = await resume('t', { epoch, seq: 1 });
    expect(r.recovered).to.equal(true);
    expect(seqsOf(r.frames)).to.deep.equal([2, 3, 4]);
    expect(r.position).to.deep.equal({ epoch, seq: 4 });
    expect((await resume('t', { seq: 0 })).frames).to.have.length(4); // no epoch: the current stream, from the start
    expect(await resume('t', { epoch, seq: 4 })).to.include({ recovered: true, replayed: 0 });
  });

  it('is not recovered from a stale epoch, a position ahead of the head, or one whose message is gone', async () => {
    for (let i = 1; i <= 8; i++) await publish('t', `m${i}`);
    const { epoch } = await reader().position('t');
    expect(await resume('t', { epoch: 'another', seq: 7 })).to.deep.include({ recovered: false, frames: [], position: { epoch, seq: 8 } });
    expect(await resume('t', { epoch, seq: 9 })).to.include({ recovered: false });
    // seq 3 fell out of the count limit (5 kept: 4..8): from 2 it is lost; from 3 nothing is
    expect(await resume('t', { epoch, seq: 2 })).to.deep.include({ recovered: false, frames: [] });
    expect(seqsOf((await resume('t', { epoch, seq: 3 })).frames)).to.deep.equal([4, 5, 6, 7, 8]);
    expect(await resume('t', { epoch, seq: 3 })).to.include({ recovered: true });
    // past retention (TTL follows write time)
    nowMs += 3601 * 1000;
    expect(await resume('t', { epoch, seq: 5 })).to.include({ recovered: false });
  });

  it('takes a hole after the anchor for a hole, not a loss', async () => {
    for (let i = 1; i <= 4; i++) await publish('t', `m${i}`);
    await dynamo.ddb.send(new DeleteCommand({ TableName: settings.tableName, Key: { topic: 't', seq: 3 } })); // as if seq 3 was never written
    const { epoch } = await reader().position('t');
    const r = await resume('t', { epoch, seq: 1 });
    expect(r.recovered).to.equal(true);
    expect(seqsOf(r.frames)).to.deep.equal([2, 4]);
  });

  it('hands a long replay over page by page and stops where asked, with the position reached', async () => {
    settings.maxMessages = 1000;
    for (let i = 1; i <= 150; i++) await publish('t', `m${i}`);
    const pages: number[] = [];
    const r = await reader().resume('t', { seq: 0 }, async (page) => {
      pages.push(page.length);
      return true;
    });
    expect(r).to.include({ recovered: true, replayed: 150 });
    expect(pages.length).to.be.greaterThan(1);
    const cut = await resume('t', { seq: 0 }, 100);
    expect(cut.position.seq).to.equal(100);
    expect(seqsOf(cut.frames)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
  });
});
