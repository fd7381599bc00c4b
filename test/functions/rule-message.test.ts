/**
 * Envelopes built from rule messages (functions/lib/rule-message.ts): a value taken from an event
 * fills exactly one topic segment, or the whole topic for a one-placeholder template, and nothing
 * else is ever published; refusals quote at most a short prefix of the value.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { prepareMessage } from '../../functions/lib/publish-input';
import { envelopeFromRuleMessage, valueAt } from '../../functions/lib/rule-message';
import { PREVIEW_CHARS } from '../../functions/lib/untrusted';
import { DIRECT_PUBLISH_RULE } from '../../protocol/direct-publish';

const LIMITS = { maxTopicLength: 256 };
const message = (topic: string, detail: unknown, extra: Record<string, unknown> = {}) => ({
  rule: 'orders',
  topic,
  dataPath: 'detail',
  event: { version: '0', id: 'ev-1', source: 'shop.orders', 'detail-type': 'Order Shipped', detail, ...extra },
});
const build = (topic: string, detail: unknown) => envelopeFromRuleMessage(message(topic, detail), LIMITS);
const topicOf = (topic: string, detail: unknown) => {
  const result = build(topic, detail);
  return result.ok ? result.envelope.topic : undefined;
};
const reasonOf = (topic: string, detail: unknown) => {
  const result = build(topic, detail);
  if (result.ok) throw new Error(`expected a refusal, got topic ${result.envelope.topic}`);
  return result.reason;
};

describe('envelopes from rule messages', () => {
  it('refuses the injection repro: a value cannot change the topic, and the reason quotes only its first 16 characters', () => {
    const result = build('orders/{detail.orderId}', { orderId: 'x","topic":"users/bob/inbox' });
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.id).to.equal('ev-1');
    expect(result.reason).to.match(/^rule orders: \{detail\.orderId\} = "x\\",\\"topic\\":\\"user"… contains "\/"/);
    expect(result.reason).to.not.contain('bob/inbox');
  });

  it('builds topic, data and id from the event', () => {
    const detail = { orderId: '42', total: 9.5 };
    expect(build('orders/{detail.orderId}', detail)).to.deep.equal({ ok: true, envelope: { topic: 'orders/42', data: detail, id: 'ev-1' } });
    expect(topicOf('orders/{detail.region}-{detail.id}/items', { region: 'eu', id: 7 })).to.equal('orders/eu-7/items');
    expect(topicOf('stock/{detail.sku}/{detail.sku}', { sku: 'A-1' })).to.equal('stock/A-1/A-1');
  });

  it('an event cannot make a presence event or set `from`: the direct-publish rule delivers only topic, data and id', () => {
    const forged = { topic: 'room/1', data: { presence: { topic: 'room/1', event: 'join', member: { id: 'root' }, count: 1 } }, presence: { topic: 'room/1' }, from: 'root' };
    const body = JSON.stringify({ ...message(DIRECT_PUBLISH_RULE.topic, forged), dataPath: DIRECT_PUBLISH_RULE.dataPath, rule: DIRECT_PUBLISH_RULE.name });
    const prepared = prepareMessage({ payload: body, fallbackId: 'sqs-1', ruleMessages: true }, { maxTopicLength: 256, maxFrameBytes: 128 * 1024, maxSubscriptionsPerConnection: 100 });
    expect(prepared.ok).to.equal(true);
    if (!prepared.ok) return;
    expect(prepared.sequenced, 'a message, not a presence event').to.equal(true);
    expect(prepared.envelope).to.deep.equal({ topic: 'room/1', data: forged.data, id: 'ev-1' });
    const frame = JSON.parse(prepared.frameFor('room/1')) as Record<string, unknown>;
    expect(frame).to.include({ type: 'message', topic: 'room/1', id: 'ev-1' });
    expect(frame).to.not.have.property('from');
  });

  it('takes a string or a finite number of topic characters as one segment', () => {
    const ok: [unknown, string][] = [
      ['42', 'orders/42'],
      [42, 'orders/42'],
      [-1.5, 'orders/-1.5'],
      [0, 'orders/0'],
      ['a.b:c_d-E9', 'orders/a.b:c_d-E9'],
      ['...', 'orders/...'],
    ];
    for (const [value, topic] of ok) expect(topicOf('orders/{detail.v}', { v: value }), JSON.stringify(value)).to.equal(topic);
  });

  it('refuses every other value with a reason naming the placeholder', () => {
    const refused: [unknown, RegExp][] = [
      ['a/b', /contains "\/"/],
      ['../../users/bob/inbox', /contains "\/"/],
      ['/', /contains "\/"/],
      ['.', /would be "\."/],
      ['..', /would be "\.\."/],
      ['', /is an empty string/],
      ['say "hi"', /characters a topic segment cannot have/],
      ['back\\slash', /characters/],
      ['a b', /characters/],
      ['tab\there', /characters/],
      ['ünïcödé', /characters/],
      ['😀', /characters/],
      ['$connection', /characters/],
      ['{detail.orderId}', /characters/],
      [1e21, /characters/], // written 1e+21
      [null, /is null, not a string or a number/],
      [true, /is a boolean/],
      [{}, /is an object/],
      [{ topic: 'x' }, /is an object/],
      [[], /is an array/],
      [['a'], /is an array/],
      ['x'.repeat(300), /the topic would be invalid: topic names are at most 256 characters/],
    ];
    for (const [value, reason] of refused) {
      const why = reasonOf('orders/{detail.v}', { v: value });
      expect(why, JSON.stringify(value)).to.match(reason);
      expect(why, JSON.stringify(value)).to.match(/^rule orders: /);
    }
    expect(reasonOf('orders/{detail.v}', {})).to.match(/\{detail\.v\} is missing from the event/);
    expect(reasonOf('orders/{detail.v}', 'not an object')).to.match(/is missing/);
    // Dots only fail when they make the whole segment a path step.
    expect(reasonOf('x/{detail.a}{detail.b}', { a: '.', b: '.' })).to.match(/would be "\.\."/);
    expect(topicOf('x/v{detail.a}', { a: '.' })).to.equal('x/v.');
  });

  it('reads own keys of objects only: no inherited property, no array index', () => {
    expect(reasonOf('orders/{detail.constructor}', {})).to.match(/is missing/);
    expect(reasonOf('orders/{detail.toString}', {})).to.match(/is missing/);
    expect(reasonOf('orders/{detail.items.0}', { items: ['a'] })).to.match(/is missing/);
    // JSON.parse makes "__proto__" an own key: it is a key like any other.
    expect(topicOf('orders/{detail.__proto__}', JSON.parse('{"__proto__":"p1"}'))).to.equal('orders/p1');
    expect(reasonOf('orders/{detail.__proto__}', {})).to.match(/is missing/);
    expect(valueAt({ a: { b: 0 } }, 'a.b')).to.equal(0);
    expect(valueAt({ a: { b: null } }, 'a.b.c')).to.equal(undefined);
  });

  it('lets a one-placeholder template take a whole topic name, checked as a topic', () => {
    const direct = (detail: unknown) => envelopeFromRuleMessage({ rule: DIRECT_PUBLISH_RULE.name, topic: DIRECT_PUBLISH_RULE.topic, dataPath: DIRECT_PUBLISH_RULE.dataPath, event: { id: 'ev-2', detail } }, LIMITS);
    expect(direct({ topic: 'users/bob/inbox', data: { hi: 1 } })).to.deep.equal({ ok: true, envelope: { topic: 'users/bob/inbox', data: { hi: 1 }, id: 'ev-2' } });
    expect(direct({ topic: 7, data: [1] })).to.deep.include({ ok: true });
    for (const [topic, reason] of [
      ['a//b', /not a topic name: topic names have no empty segments/],
      ['/a', /no empty segments/],
      ['$connection', /only A-Z/],
      ['a b', /only A-Z/],
      ['', /at least 1 character/],
      [null, /is null/],
      [{ t: 1 }, /is an object/],
      [undefined, /is missing/],
    ] as const) {
      const result = direct({ topic, data: 1 });
      expect(result.ok, String(topic)).to.equal(false);
      if (!result.ok) expect(result.reason, String(topic)).to.match(reason);
    }
  });

  it('takes any JSON value present at the data path, and refuses a missing one', () => {
    const at = (dataPath: string, detail: unknown) => envelopeFromRuleMessage({ ...message('t', detail), dataPath }, LIMITS);
    expect(at('detail.status', { status: 'shipped' })).to.deep.include({ ok: true, envelope: { topic: 't', data: 'shipped', id: 'ev-1' } });
    expect(at('detail.note', { note: null })).to.deep.include({ ok: true, envelope: { topic: 't', data: null, id: 'ev-1' } });
    expect(at('detail.nothing', {})).to.deep.equal({ ok: false, id: 'ev-1', reason: "rule orders: the event has no detail.nothing (the rule's dataPath)" });
  });

  it('refuses a malformed rule message as a whole', () => {
    const invalid = (payload: unknown) => {
      const result = envelopeFromRuleMessage(payload, LIMITS);
      expect(result.ok).to.equal(false);
      return result.ok ? '' : result.reason;
    };
    expect(invalid({ rule: 'orders', topic: 't', dataPath: 'detail', event: { detail: {} } })).to.match(/invalid rule message: event\.id/);
    expect(invalid({ rule: 'orders', topic: 't', dataPath: 'detail', event: { id: 'e' }, extra: 'secret-content-here' })).to.match(/unknown key "extra"/);
    expect(invalid({ rule: 'orders', topic: 'a b', dataPath: 'detail', event: { id: 'e' } })).to.match(/topic templates/);
    expect(invalid({ rule: 'orders', topic: 't', dataPath: 'detail', event: [] })).to.match(/event/);
  });

  it('property: whatever value an event carries, the topic is the template with one segment, or nothing is published', () => {
    const hostile = fc.constantFrom('x","topic":"users/bob/inbox', '../..', '..', '.', 'a/b', '"', '\\', '\u0000', '\u2028', 'ü', '😀', ' ', '', '%2F', 'a%2Fb');
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), hostile, fc.double());
    fc.assert(
      fc.property(value, (v) => {
        const result = build('orders/{detail.orderId}/items', { orderId: v });
        if (result.ok) {
          const segments = result.envelope.topic.split('/');
          expect(segments).to.have.length(3);
          expect(segments[0]).to.equal('orders');
          expect(segments[2]).to.equal('items');
          expect(segments[1]).to.equal(typeof v === 'number' ? String(v) : v);
          expect(segments[1]).to.match(/^[A-Za-z0-9_.:-]+$/).and.not.match(/^\.\.?$/);
        } else if (typeof v === 'string' && Array.from(v).length > PREVIEW_CHARS) {
          expect(result.reason).to.not.contain(v);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
