import { expect } from 'chai';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';
import { applyInputTransformer, compilePattern, compileRules, resolvePath, startEvents, type EventsEndpoint } from '../../local/events';
import { envelopeFromRuleMessage } from '../../functions/lib/rule-message';
import { inputTransformerFor } from '../../protocol/rule-message';

const event = {
  version: '0',
  id: 'ev-1',
  'detail-type': 'Order Shipped',
  source: 'shop.orders',
  account: '000000000000',
  time: '2025-01-01T00:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:shop:order/42'],
  detail: { orderId: '42', total: 99.5, items: [{ sku: 'A-1' }, { sku: 'B-2' }], tags: ['gift', 'express'], status: 'SHIPPED', note: null, nested: { deep: { flag: true } } },
};

describe('EventBridge event patterns (local subset)', () => {
  const cases: [string, unknown, boolean][] = [
    ['exact source', { source: ['shop.orders'] }, true],
    ['one of several values', { source: ['other', 'shop.orders'] }, true],
    ['wrong source', { source: ['shop.payments'] }, false],
    ['two fields, both must match', { source: ['shop.orders'], 'detail-type': ['Order Created'] }, false],
    ['nested object', { detail: { nested: { deep: { flag: [true] } } } }, true],
    ['nested object, wrong value', { detail: { nested: { deep: { flag: [false] } } } }, false],
    ['number exact', { detail: { total: [99.5] } }, true],
    ['string is not number', { detail: { total: ['99.5'] } }, false],
    ['null value', { detail: { note: [null] } }, true],
    ['array field: any element', { detail: { tags: ['express'] } }, true],
    ['array of objects', { detail: { items: { sku: ['B-2'] } } }, true],
    ['missing field', { detail: { missing: ['x'] } }, false],
    ['prefix', { 'detail-type': [{ prefix: 'Order ' }] }, true],
    ['prefix no match', { 'detail-type': [{ prefix: 'order ' }] }, false],
    ['prefix ignoring case', { 'detail-type': [{ prefix: { 'equals-ignore-case': 'order ' } }] }, true],
    ['suffix', { source: [{ suffix: '.orders' }] }, true],
    ['equals-ignore-case', { detail: { status: [{ 'equals-ignore-case': 'shipped' }] } }, true],
    ['wildcard', { source: [{ wildcard: 'shop.*s' }] }, true],
    ['wildcard no match', { source: [{ wildcard: 'shop.*x' }] }, false],
    ['anything-but value', { source: [{ 'anything-but': 'shop.payments' }] }, true],
    ['anything-but list hit', { source: [{ 'anything-but': ['shop.orders', 'x'] }] }, false],
    ['anything-but prefix', { source: [{ 'anything-but': { prefix: 'shop.' } }] }, false],
    ['anything-but on a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['exists true', { detail: { orderId: [{ exists: true }] } }, true],
    ['exists true on missing', { detail: { gone: [{ exists: true }] } }, false],
    ['exists false on missing', { detail: { gone: [{ exists: false }] } }, true],
    ['exists false on present', { detail: { orderId: [{ exists: false }] } }, false],
    ['exists is for leaves only', { detail: { nested: [{ exists: true }] } }, false],
    ['numeric range', { detail: { total: [{ numeric: ['>', 0, '<=', 100] }] } }, true],
    ['numeric out of range', { detail: { total: [{ numeric: ['<', 50] }] } }, false],
    ['numeric equals', { detail: { total: [{ numeric: ['=', 99.5] }] } }, true],
    ['numeric on a string', { detail: { orderId: [{ numeric: ['>', 0] }] } }, false],
    ['$or: one branch matches', { source: ['shop.orders'], $or: [{ 'detail-type': ['nope'] }, { detail: { status: ['SHIPPED'] } }] }, true],
    ['$or: no branch matches', { $or: [{ 'detail-type': ['nope'] }, { detail: { status: ['NEW'] } }] }, false],
    ['empty pattern matches everything', {}, true],
  ];
  for (const [name, pattern, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'}: ${name}`, () => {
      expect(compilePattern(pattern)(event)).to.equal(expected);
    });
  }

  it('refuses unsupported or malformed patterns, naming where', () => {
    expect(() => compilePattern({ detail: { ip: [{ cidr: '10.0.0.0/24' }] } })).to.throw(/detail\.ip.*"cidr" matcher is not supported/);
    expect(() => compilePattern({ source: [] })).to.throw(/at source: empty arrays/);
    expect(() => compilePattern({ source: 'shop.orders' })).to.throw(/write \["shop.orders"\]/);
    expect(() => compilePattern({ detail: { total: [{ numeric: ['>>', 1] }] } })).to.throw(/numeric/);
    expect(() => compilePattern([])).to.throw(/JSON object/);
  });
});

describe('EventBridge input transformers', () => {
  const context = { ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/r', ruleName: 'r', ingestionTime: '2025-01-01T00:00:01Z' };

  it('resolves dot paths and array indices, undefined when absent', () => {
    expect(resolvePath(event, '$.detail.items[1].sku')).to.equal('B-2');
    expect(resolvePath(event, '$.detail-type')).to.equal('Order Shipped');
    expect(resolvePath(event, '$')).to.equal(event);
    expect(resolvePath(event, '$.detail.nothing.here')).to.equal(undefined);
    expect(resolvePath(event, '$.detail.items.sku')).to.equal(undefined);
    expect(() => resolvePath(event, 'detail')).to.throw(/must start with \$/);
  });

  it("turns a matched event into the rule message with the rule's own transformer, which the publish function makes an envelope of", () => {
    const transformer = inputTransformerFor({ name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}' });
    const body = applyInputTransformer(transformer, event, context);
    expect(JSON.parse(body)).to.deep.equal({ rule: 'orders', topic: 'orders/{detail.orderId}', dataPath: 'detail', event });
    expect(envelopeFromRuleMessage(JSON.parse(body), { maxTopicLength: 256 })).to.deep.equal({ ok: true, envelope: { topic: 'orders/42', id: 'ev-1', data: event.detail } });
    // Minified, as EventBridge passes JSON on.
    expect(body).to.not.match(/\n|": /);
  });

  it('keeps a hostile field value inside the event: it can add no key to the message', () => {
    const transformer = inputTransformerFor({ name: 'orders', eventPattern: {}, topic: 'orders/{detail.orderId}' });
    const hostile = { ...event, detail: { orderId: 'x","topic":"users/bob/inbox', data: '"}' } };
    const message = JSON.parse(applyInputTransformer(transformer, hostile, context));
    expect(Object.keys(message)).to.deep.equal(['rule', 'topic', 'dataPath', 'event']);
    expect(message.topic).to.equal('orders/{detail.orderId}');
    expect(message.event).to.deep.equal(hostile);
  });

  it('quotes values outside strings, inserts raw text inside them, null or nothing when missing, and knows the predefined variables', () => {
    const out = applyInputTransformer(
      {
        inputPaths: { id: '$.id', total: '$.detail.total', status: '$.detail.status', gone: '$.detail.gone', tags: '$.detail.tags' },
        inputTemplate:
          '{"id": <id>, "total": <total>, "line": "order <id> is <status><gone> (<total>)", "gone": <gone>, "tags": <tags>, "rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>, "at": "<aws.events.event.ingestion-time>", "whole": <aws.events.event.json>, "meta": <aws.events.event>}',
      },
      event,
      context,
    );
    const parsed = JSON.parse(out);
    expect(parsed).to.deep.include({ id: 'ev-1', total: 99.5, line: 'order ev-1 is SHIPPED (99.5)', gone: null, tags: ['gift', 'express'], rule: 'r', arn: context.ruleArn, at: context.ingestionTime });
    expect(parsed.whole).to.deep.equal(event);
    expect(parsed.meta).to.not.have.property('detail');
    expect(parsed.meta.source).to.equal('shop.orders');
  });

  it('passes a result that is not JSON on unchanged (EventBridge does not escape values)', () => {
    const out = applyInputTransformer({ inputPaths: { s: '$.detail.s' }, inputTemplate: '{"s": "<s>"}' }, { detail: { s: 'say "hi"' } }, context);
    expect(out).to.equal('{"s": "say "hi""}');
  });

  it('validates rules when they are loaded, naming the rule', () => {
    expect(() => compileRules([{ name: 'ok', eventPattern: { source: ['a'] }, topic: 't' }, { name: 'bad', eventPattern: { source: [{ cidr: 'x' }] }, topic: 't' }], 'default')).to.throw(
      /event rule #2 \(bad\).*cidr/,
    );
    expect(() => compileRules([{ name: 'x y', eventPattern: {}, topic: 't' }], 'default')).to.throw(/event rule #1.*rule names/);
    expect(() => compileRules([{ name: 'a', eventPattern: {}, topic: 't' }, { name: 'a', eventPattern: {}, topic: 'u' }], 'default')).to.throw(/same name/);
    const [rule] = compileRules([{ name: 'orders', eventPattern: { source: ['a'] }, topic: 't' }], 'shop-bus');
    expect(rule.arn).to.equal('arn:aws:events:us-east-1:000000000000:rule/shop-bus/orders');
  });
});

describe('local EventBridge PutEvents endpoint', () => {
  let events: EventsEndpoint;
  let client: EventBridgeClient;
  const delivered: { body: string; rule: string }[] = [];

  before(async () => {
    events = await startEvents({
      rules: [
        { name: 'orders', eventPattern: { source: ['shop.orders'], 'detail-type': [{ prefix: 'Order ' }] }, topic: 'orders/{detail.orderId}' },
        { name: 'all-shop', eventPattern: { source: [{ prefix: 'shop.' }] }, topic: 'shop', dataPath: 'detail' },
      ],
      deliver: (body, rule) => delivered.push({ body, rule: rule.name }),
    });
    client = new EventBridgeClient({ endpoint: events.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await events.close();
  });

  it('routes each accepted event through every matching rule, counts the unmatched, and reports bad entries one by one', async () => {
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'shop.orders', DetailType: 'Order Shipped', Detail: JSON.stringify({ orderId: '7', total: 1 }), Time: new Date('2025-02-03T04:05:06.789Z') },
          { Source: 'shop.users', DetailType: 'User Created', Detail: '{"id":1}' },
          { Source: 'elsewhere', DetailType: 'Noise', Detail: '{}' },
          { Source: 'shop.orders', DetailType: 'Order Shipped', Detail: 'not json' },
          { Source: 'aws.ec2', DetailType: 'Spoof', Detail: '{}' },
          { Source: 'shop.orders', DetailType: 'Order Shipped', Detail: '{}', EventBusName: 'no-such-bus' },
        ],
      }),
    );
    expect(out.FailedEntryCount).to.equal(3);
    expect(out.Entries![0].EventId).to.match(/^[0-9a-f-]{36}$/);
    expect(out.Entries![2].EventId).to.be.a('string');
    expect(out.Entries![3]).to.deep.include({ ErrorCode: 'MalformedDetail' });
    expect(out.Entries![4]).to.deep.include({ ErrorCode: 'NotAuthorizedForSourceException' });
    expect(out.Entries![5]).to.deep.include({ ErrorCode: 'ResourceNotFoundException' });
    expect(delivered.map((d) => d.rule)).to.deep.equal(['orders', 'all-shop', 'all-shop']);
    const first = JSON.parse(delivered[0].body);
    expect(first).to.deep.include({ rule: 'orders', topic: 'orders/{detail.orderId}', dataPath: 'detail' });
    // The event as EventBridge builds it, the Time given to the second.
    expect(first.event).to.deep.include({ id: out.Entries![0].EventId, source: 'shop.orders', 'detail-type': 'Order Shipped', time: '2025-02-03T04:05:06Z', detail: { orderId: '7', total: 1 } });
    const envelope = (body: string) => envelopeFromRuleMessage(JSON.parse(body), { maxTopicLength: 256 });
    expect(envelope(delivered[0].body)).to.deep.equal({ ok: true, envelope: { topic: 'orders/7', id: out.Entries![0].EventId, data: { orderId: '7', total: 1 } } });
    expect(envelope(delivered[2].body)).to.deep.equal({ ok: true, envelope: { topic: 'shop', id: out.Entries![1].EventId, data: { id: 1 } } });
    expect(events.stats()).to.deep.equal({ accepted: 3, failed: 3, matched: 2, unmatched: 1, delivered: 3, deliveryErrors: 0 });
  });

  it('knows only its own operations: a target named after a built-in object property is an unknown operation', async () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const res = await fetch(events.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSEvents.${name}` },
        body: '{}',
      });
      expect(res.status, name).to.equal(400);
      expect(((await res.json()) as { __type: string }).__type, name).to.equal('UnknownOperationException');
    }
  });

  it('says what is wrong with a request without repeating it', async () => {
    const post = async (target: string, body: string) => {
      const res = await fetch(events.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, body });
      return { status: res.status, ...((await res.json()) as { __type: string; message: string }) };
    };
    const unknown = await post('AWSEvents.SECRET-abcdefghijklmnop', '{}');
    expect(unknown).to.include({ status: 400, __type: 'UnknownOperationException' });
    expect(unknown.message).to.contain('"AWSEvents.SECRET"…').and.not.contain('SECRET-');
    const malformed = await post('AWSEvents.PutEvents', 'SECRET-abcdefghijklmnop');
    expect(malformed).to.deep.equal({ status: 400, __type: 'SerializationException', message: 'Malformed request body: not valid JSON' });
    expect((await post('AWSEvents.PutEvents', '{"Entries":[SECRET]}')).message).to.not.contain('SECRET');
    expect((await post('AWSEvents.PutEvents', '[1]')).message).to.equal('Malformed request body: the body is not a JSON object');
  });

  it('refuses a call with no entries or more than 10', async () => {
    const none = await client.send(new PutEventsCommand({ Entries: [] })).catch((e) => e);
    expect(none.name).to.equal('ValidationException');
    const many = Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' }));
    expect((await client.send(new PutEventsCommand({ Entries: many })).catch((e) => e)).name).to.equal('ValidationException');
  });
});
