import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { topicMatches } from '../../protocol/auth';
import { DIRECT_PUBLISH_RULE } from '../../protocol/direct-publish';
import { envelopeSchema, envelopeTopics } from '../../protocol/envelope';
import { isValidTopic } from '../../protocol/messages';
import { inputTransformerFor, looksLikeRuleMessage, ruleMessageSchema, WHOLE_EVENT_VARIABLE } from '../../protocol/rule-message';

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

  it('builds an input transformer that substitutes no event field: the rule message with the whole event', () => {
    const t = inputTransformerFor({ name: 'orders', eventPattern: { source: ['shop'] }, topic: 'orders/{detail.orderId}/{detail.orderId}' });
    expect(t.inputPaths).to.equal(undefined);
    // The only placeholder is the whole event, which EventBridge serialises itself.
    expect([...t.inputTemplate.matchAll(/<([^>]*)>/g)].map((m) => m[1])).to.deep.equal([WHOLE_EVENT_VARIABLE]);
    const event = { id: 'ev-1', detail: { orderId: 'x","topic":"users/bob/inbox' } };
    const filled = t.inputTemplate.replace(`<${WHOLE_EVENT_VARIABLE}>`, JSON.stringify(event));
    const message = ruleMessageSchema.parse(JSON.parse(filled));
    expect(message).to.deep.equal({ rule: 'orders', topic: 'orders/{detail.orderId}/{detail.orderId}', dataPath: 'detail', event });
    expect(looksLikeRuleMessage(message)).to.equal(true);
    expect(looksLikeRuleMessage({ topic: 'a', data: 1 })).to.equal(false);
    expect(envelopeSchema().safeParse(message).success, 'a rule message is never mistaken for an envelope').to.equal(false);
    expect(() => inputTransformerFor({ name: 'bad', eventPattern: {}, topic: 'a b/{detail.x}' })).to.throw(/topic templates/);
    expect(() => inputTransformerFor({ name: 'bad', eventPattern: {}, topic: 'a/<x>' })).to.throw(/topic templates/);
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
