/**
 * TopicStreams (client/stream.ts) on its own: the per-topic ordering state, fed frames and
 * replies directly, with a host that records what it is told.
 */
import { expect } from 'chai';
import type { DeliveredMessage, StreamPosition } from '../../client/frames';
import { RECOVERY_RETRIES, TopicStreams, type Gap } from '../../client/stream';

type Numbered = DeliveredMessage & { seq: number; epoch: string };
const msg = (seq: number, epoch = 'E', topic = 't'): Numbered => ({ type: 'message', topic, id: `${epoch}-${seq}`, seq, epoch, data: null, publishedAt: '' });

function setup(gapWaitMs = 1000) {
  const seen = { delivered: [] as string[], positions: [] as number[], gaps: [] as Gap[], due: 0 };
  let onDue = () => undefined as void;
  let streams!: TopicStreams;
  const host = {
    deliver: (m: DeliveredMessage) => {
      seen.delivered.push(m.id);
      hooks.onDeliver?.(m);
    },
    position: (_topic: string, p: StreamPosition) => void seen.positions.push(p.seq),
    gap: (gap: Gap) => void seen.gaps.push(gap),
    recoveryDue: () => {
      seen.due++;
      onDue();
    },
  };
  const hooks: { onDeliver?: (m: DeliveredMessage) => void } = {};
  streams = new TopicStreams(gapWaitMs, host);
  const due = () => new Promise<void>((resolve) => (onDue = resolve));
  return { streams, seen, hooks, due };
}

describe('TopicStreams', () => {
  it('anchors a plain subscribe at the head: older messages (held before the reply) are dropped, newer ones delivered in order', () => {
    const { streams, seen } = setup();
    streams.track('t');
    expect(streams.since('t')).to.equal(undefined);
    for (const seq of [5, 7, 3, 6]) streams.onMessage(msg(seq));
    expect(seen.delivered).to.deep.equal([]); // held until the reply says where the stream stands
    streams.onSubscribed('t', undefined, { epoch: 'E', seq: 5 }, undefined);
    expect(seen.delivered).to.deep.equal(['E-6', 'E-7']);
    expect(seen.positions).to.deep.equal([5, 6, 7]);
    expect(streams.positions()).to.deep.equal({ t: { epoch: 'E', seq: 7 } });
    expect(streams.since('t')).to.deep.equal({ epoch: 'E', seq: 7 });
    streams.onMessage(msg(7));
    streams.onMessage(msg(8));
    expect(seen.delivered).to.deep.equal(['E-6', 'E-7', 'E-8']);
  });

  it('waits gapWaitMs for a gap to fill, then becomes due for a recovery', async () => {
    const { streams, seen, due } = setup(5);
    streams.track('t');
    streams.onSubscribed('t', undefined, { epoch: 'E', seq: 0 }, undefined);
    const dueNow = due();
    streams.onMessage(msg(2));
    expect(streams.isDue('t')).to.equal(false);
    await dueNow;
    expect(streams.isDue('t')).to.equal(true);
    streams.markSent('t');
    expect(streams.isDue('t')).to.equal(false);
    streams.onMessage(msg(1)); // the replay
    streams.onSubscribed('t', { epoch: 'E', seq: 0 }, { epoch: 'E', seq: 2 }, true);
    expect(seen.delivered).to.deep.equal(['E-1', 'E-2']);
    expect(seen.gaps).to.deep.equal([]);
  });

  it(`takes missing seqs for holes after ${RECOVERY_RETRIES} more recoveries that bring nothing, but not while recoveries make progress`, async () => {
    const { streams, seen, due } = setup(5);
    streams.track('t', { epoch: 'E', seq: 0 });
    streams.onMessage(msg(10));
    // Replies that make progress (a replay cut short by the server's deadline) never count.
    for (let seq = 1; seq <= 8; seq++) {
      streams.onMessage(msg(seq));
      streams.onSubscribed('t', { epoch: 'E', seq: seq - 1 }, { epoch: 'E', seq }, true);
    }
    expect(seen.delivered).to.have.length(8);
    // Seq 9 never comes: 1 + RECOVERY_RETRIES answers without progress, then it is a hole.
    for (let i = 0; i < RECOVERY_RETRIES; i++) {
      streams.onSubscribed('t', { epoch: 'E', seq: 8 }, { epoch: 'E', seq: 10 }, true);
      expect(seen.delivered, `after ${i + 1} answers`).to.have.length(8);
      await due();
    }
    streams.onSubscribed('t', { epoch: 'E', seq: 8 }, { epoch: 'E', seq: 10 }, true);
    expect(seen.delivered.slice(8)).to.deep.equal(['E-10']);
    expect(seen.gaps).to.deep.equal([]);
    streams.onMessage(msg(9)); // late, once
    streams.onMessage(msg(9));
    expect(seen.delivered.slice(8)).to.deep.equal(['E-10', 'E-9']);
  });

  it('raises a gap for recovered: false, named by why, and keeps what came after the new position', () => {
    const cases: { since: { epoch?: string; seq: number }; to: StreamPosition; reason: string }[] = [
      { since: { epoch: 'E', seq: 3 }, to: { epoch: 'E', seq: 9 }, reason: 'expired' },
      { since: { epoch: 'E', seq: 30 }, to: { epoch: 'E', seq: 9 }, reason: 'ahead' },
      { since: { epoch: 'E', seq: 3 }, to: { epoch: 'F', seq: 9 }, reason: 'epoch' },
    ];
    for (const { since, to, reason } of cases) {
      const { streams, seen } = setup();
      streams.track('t', since);
      streams.onMessage(msg(10, to.epoch));
      streams.onMessage(msg(8, to.epoch));
      streams.onSubscribed('t', since, to, false);
      expect(seen.gaps, reason).to.deep.equal([{ topic: 't', reason, from: since, to }]);
      expect(seen.delivered, reason).to.deep.equal([`${to.epoch}-10`]);
      expect(streams.positions()).to.deep.equal({ t: { epoch: to.epoch, seq: 10 } });
    }
  });

  it('asks again, without a gap, when recovered: false answers a position it has since moved past', () => {
    const { streams, seen } = setup();
    streams.track('t', { epoch: 'E', seq: 0 });
    streams.onSubscribed('t', { epoch: 'E', seq: 0 }, { epoch: 'E', seq: 0 }, true);
    streams.onMessage(msg(1));
    streams.onMessage(msg(2));
    streams.onSubscribed('t', { epoch: 'E', seq: 0 }, { epoch: 'E', seq: 2 }, false);
    expect(seen.gaps).to.deep.equal([]);
    expect(streams.isDue('t')).to.equal(true);
  });

  it('becomes due at once when a message or a plain reply shows another epoch, and drops the stragglers if the server says the stream did not change', () => {
    const { streams, seen } = setup();
    streams.track('t');
    streams.onSubscribed('t', undefined, { epoch: 'E', seq: 0 }, undefined);
    streams.onSubscribed('t', undefined, { epoch: 'F', seq: 4 }, undefined);
    expect(streams.isDue('t')).to.equal(true);
    streams.markSent('t');
    streams.onSubscribed('t', { epoch: 'E', seq: 0 }, { epoch: 'E', seq: 0 }, true);
    expect(streams.isDue('t')).to.equal(false);

    streams.onMessage(msg(1, 'F'));
    expect(streams.isDue('t')).to.equal(true);
    streams.markSent('t');
    streams.onSubscribed('t', { epoch: 'E', seq: 0 }, { epoch: 'E', seq: 0 }, true);
    streams.onMessage(msg(1, 'E'));
    expect(seen.delivered).to.deep.equal(['E-1']);
    expect(seen.gaps).to.deep.equal([]);
  });

  it('orders from the first message when the server gives no positions (floating), and resumes an epoch-less position once the server names the epoch', () => {
    const { streams, seen } = setup();
    streams.track('a');
    streams.onSubscribed('a', undefined, undefined, undefined);
    for (const seq of [4, 6, 5, 4]) streams.onMessage(msg(seq, 'E', 'a'));
    expect(seen.delivered).to.deep.equal(['E-4', 'E-5', 'E-6']);

    streams.track('b', { seq: 2 });
    expect(streams.since('b')).to.deep.equal({ seq: 2 });
    expect(streams.positions()).not.to.have.property('b');
    streams.onMessage(msg(4, 'G', 'b'));
    streams.onMessage(msg(3, 'G', 'b'));
    streams.onSubscribed('b', { seq: 2 }, { epoch: 'G', seq: 4 }, true);
    expect(seen.delivered.slice(3)).to.deep.equal(['G-3', 'G-4']);
    expect(streams.positions().b).to.deep.equal({ epoch: 'G', seq: 4 });
  });

  it('stops at once when a handler stops following the topic mid-drain', () => {
    const { streams, seen, hooks } = setup();
    streams.track('t', { epoch: 'E', seq: 0 });
    streams.onSubscribed('t', { epoch: 'E', seq: 0 }, { epoch: 'E', seq: 0 }, true);
    hooks.onDeliver = (m) => m.seq === 2 && streams.untrack('t');
    for (const seq of [4, 3, 2, 1]) streams.onMessage(msg(seq));
    expect(seen.delivered).to.deep.equal(['E-1', 'E-2']);
    expect(streams.positions()).to.deep.equal({});
  });
});
