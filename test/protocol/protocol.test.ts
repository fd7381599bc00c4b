import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { topicMatches } from '../../protocol/auth';
import { DIRECT_PUBLISH_RULE } from '../../protocol/direct-publish';
import { envelopeSchema, envelopeTopics } from '../../protocol/envelope';
import { isValidTopic } from '../../protocol/messages';
import { inputTransformerFor } from '../../protocol/rules';

describe('protocol', () => {
  it('accepts topic names of the allowed set and refuses others', () => {
    for (const ok of ['a', 'orders/42', 'x.y:z_w-1', 'a'.repeat(256)]) expect(isValidTopic(ok), ok).to.equal(true);
    for (const bad of ['', '$connection', 'a b', 'ü', 'a'.repeat(257), 42, 'orders/', '/orders', 'a//b', '/']) expect(isValidTopic(bad), String(bad)).to.equal(false);
    expect(isValidTopic('abcdef', 5)).to.equal(false);
  });

  it('parses an envelope with topic or topics, never both or neither', () => {
    const schema = envelopeSchema();
    expect(envelopeTopics(schema.parse({ topic: 'a', data: 1 }))).to.deep.equal(['a']);
    expect(envelopeTopics(schema.parse({ topics: ['a', 'b', 'a'], data: null }))).to.deep.equal(['a', 'b']);
    expect(schema.safeParse({ topic: 'a', topics: ['b'], data: 1 }).success).to.equal(false);
    expect(schema.safeParse({ data: 1 }).success).to.equal(false);
    expect(schema.safeParse({ topic: 'a' }).success).to.equal(false);
    expect(schema.safeParse({ topic: 'a', data: 1, extra: true }).success).to.equal(false);
  });

  it('builds an input transformer whose template becomes a valid envelope', () => {
    const t = inputTransformerFor({ name: 'orders', eventPattern: { source: ['shop'] }, topic: 'orders/{detail.orderId}/{detail.orderId}' });
    expect(t.inputPaths).to.deep.equal({ id: '$.id', data: '$.detail', t0: '$.detail.orderId' });
    const filled = t.inputTemplate.replace(/<(\w+)>/g, (_m, v: string) => ({ id: 'ev-1', data: '{"x":1}', t0: '42' })[v] as string);
    expect(envelopeSchema().parse(JSON.parse(filled))).to.deep.equal({ topic: 'orders/42/42', id: 'ev-1', data: { x: 1 } });
    expect(() => inputTransformerFor({ name: 'bad', eventPattern: {}, topic: 'a b/{detail.x}' })).to.throw(/topic templates/);
  });
});

describe('topic patterns', () => {
  it('never lets an empty or missing principal stand in for {sub}', () => {
    expect(topicMatches('users/{sub}/inbox', 'users/alice/inbox', 'alice')).to.equal(true);
    expect(topicMatches('users/{sub}/inbox', 'users//inbox', '')).to.equal(false);
    expect(topicMatches('users/{sub}/inbox', 'users/{sub}/inbox')).to.equal(false);
  });
});

describe('example stack', () => {
  it('carries the direct-publish rule that `realtime publish --via events` relies on', () => {
    const rules = parse(readFileSync(`${__dirname}/../../Pulumi.dev.yaml`, 'utf8')).config['realtime:eventRules'];
    expect(rules).to.deep.include(DIRECT_PUBLISH_RULE);
  });
});
