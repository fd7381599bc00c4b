/**
 * The client's zod-free frame parser (client/frames.ts) against the protocol's zod schemas, the
 * source of truth: both accept and reject the same frames, and return the same values. Frames
 * come from a corpus of hand-picked edge cases and from fast-check (valid frames, each field
 * mutated, and arbitrary JSON). The client's frame types must equal the schemas' types too.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type * as z from 'zod';
import {
  parseServerFrame,
  type DeliveredMessage,
  type ErrorReply,
  type PresenceEvent,
  type PublishedReply,
  type ServerFrame,
  type StreamPosition,
  type SubscribedReply,
  type UnsubscribedReply,
} from '../../client/frames';
import { ERROR_CODES } from '../../protocol/error-codes';
import {
  serverMessageSchema,
  type deliveredMessageSchema,
  type errorReplySchema,
  type positionSchema,
  type presenceEventSchema,
  type publishedReplySchema,
  type subscribedReplySchema,
  type unsubscribedReplySchema,
} from '../../protocol/messages';

// Compile-time: the client's types are exactly the schemas' (a drift fails `npm run typecheck`).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const typesAgree: [
  Same<DeliveredMessage, z.infer<typeof deliveredMessageSchema>>,
  Same<SubscribedReply, z.infer<typeof subscribedReplySchema>>,
  Same<UnsubscribedReply, z.infer<typeof unsubscribedReplySchema>>,
  Same<ErrorReply, z.infer<typeof errorReplySchema>>,
  Same<StreamPosition, z.infer<typeof positionSchema>>,
  Same<ServerFrame, z.infer<typeof serverMessageSchema>>,
  Same<PublishedReply, z.infer<typeof publishedReplySchema>>,
  Same<PresenceEvent, z.infer<typeof presenceEventSchema>>,
] = [true, true, true, true, true, true, true, true];

/** Both parsers on one JSON value (as it came off the wire): same verdict, same output. */
function agree(json: unknown): void {
  const wire = JSON.parse(JSON.stringify(json)) as unknown;
  const zod = serverMessageSchema.safeParse(wire);
  const ours = parseServerFrame(wire);
  const label = JSON.stringify(wire).slice(0, 200);
  expect(ours !== undefined, `${label}: zod says ${zod.success ? 'valid' : 'invalid'}`).to.equal(zod.success);
  if (zod.success) expect(ours, label).to.deep.equal(zod.data);
}

const position = { epoch: 'E1', seq: 41 };
const VALID: unknown[] = [
  { type: 'message', topic: 'a', id: 'x', data: { n: 1 }, publishedAt: '2025-01-01T00:00:00.000Z' },
  { type: 'message', topic: 'a', id: 'x', seq: 42, epoch: 'E1', data: null, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', seq: 1, data: [1, 'two'], publishedAt: 't', extra: true },
  { type: 'message', topic: 'a', id: 'x', epoch: '', data: 0, publishedAt: 't' },
  { type: 'message', topic: '', id: '', seq: Number.MAX_SAFE_INTEGER, data: false, publishedAt: '' },
  { type: 'subscribed', topics: ['a', 'b'] },
  { type: 'subscribed', topics: [], positions: {}, recovered: {} },
  { type: 'subscribed', topics: ['a'], positions: { a: position, b: { epoch: 'x'.repeat(64), seq: 0 } }, recovered: { a: true, b: false } },
  { type: 'subscribed', topics: ['a'], positions: { a: { ...position, extra: 1 } } },
  { type: 'unsubscribed', topics: ['a'], extra: 'dropped' },
  { type: 'pong' },
  { type: 'pong', extra: 1 },
  ...ERROR_CODES.map((code) => ({ type: 'error', code, message: 'm' })),
  { type: 'error', code: 'FORBIDDEN', message: 'no', topics: ['a'] },
  { type: 'error', code: 'RATE_LIMITED', message: 'wait', topics: ['chat/1'], id: 'my-id' },
  { type: 'message', topic: 'a', id: 'c.x.1', seq: 3, epoch: 'E', data: 'hi', publishedAt: 't', from: 'alice' },
  { type: 'published', topic: 'chat/1', id: 'c.x.1' },
  { type: 'presence', topic: 'room/1', event: 'join', member: { id: 'alice', data: { name: 'A' } }, count: 2 },
  { type: 'presence', topic: 'room/1', event: 'leave', member: { id: 'bob' }, count: 0 },
  { type: 'presence', topic: 'room/1', event: 'leave', member: { id: 'bob', data: null }, count: 0 },
  { type: 'subscribed', topics: ['room/1'], presence: { 'room/1': { members: [{ id: 'a' }, { id: 'b', data: 1 }], count: 2 }, big: { count: 500 } } },
];
const INVALID: unknown[] = [
  null,
  7,
  'pong',
  [],
  {},
  { type: 'surprise' },
  { message: 'Internal server error', connectionId: 'c', requestId: 'r' },
  { type: 'message', topic: 'a', id: 'x', publishedAt: 't' }, // no data
  { type: 'message', topic: 'a', id: 'x', data: 1 },
  { type: 'message', topic: 1, id: 'x', data: 1, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', seq: 0, data: 1, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', seq: 1.5, data: 1, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', seq: 2 ** 53, data: 1, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', seq: '1', data: 1, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', seq: null, data: 1, publishedAt: 't' },
  { type: 'message', topic: 'a', id: 'x', epoch: 5, data: 1, publishedAt: 't' },
  { type: 'subscribed' },
  { type: 'subscribed', topics: 'a' },
  { type: 'subscribed', topics: [1] },
  { type: 'subscribed', topics: [], positions: [] },
  { type: 'subscribed', topics: [], positions: null },
  { type: 'subscribed', topics: [], positions: { a: { epoch: '', seq: 1 } } },
  { type: 'subscribed', topics: [], positions: { a: { epoch: 'x'.repeat(65), seq: 1 } } },
  { type: 'subscribed', topics: [], positions: { a: { epoch: 'E', seq: -1 } } },
  { type: 'subscribed', topics: [], positions: { a: { seq: 1 } } },
  { type: 'subscribed', topics: [], recovered: { a: 'yes' } },
  { type: 'unsubscribed', topics: [null] },
  { type: 'error', code: 'NOPE', message: 'm' },
  { type: 'error', code: 'INTERNAL' },
  { type: 'error', code: 'INTERNAL', message: 'm', topics: 'a' },
  { type: 'error', code: 'FORBIDDEN', message: 'm', id: 7 },
  { type: 'message', topic: 'a', id: 'x', data: 1, publishedAt: 't', from: 7 },
  { type: 'published', topic: 'a' },
  { type: 'presence', topic: 'room/1', event: 'wave', member: { id: 'a' }, count: 1 },
  { type: 'presence', topic: 'room/1', event: 'join', member: { data: 1 }, count: 1 },
  { type: 'presence', topic: 'room/1', event: 'join', member: { id: 'a' }, count: -1 },
  { type: 'presence', topic: 'room/1', event: 'join', member: 'a', count: 1 },
  { type: 'subscribed', topics: [], presence: { a: { members: [{ id: 1 }], count: 1 } } },
  { type: 'subscribed', topics: [], presence: { a: { members: [] } } },
  { type: 'subscribed', topics: [], presence: { a: { members: {}, count: 0 } } },
];

describe('client frame parser agrees with the protocol schemas', () => {
  it('types: the client frame types equal the zod-inferred ones (checked at compile time)', () => {
    expect(typesAgree.every(Boolean)).to.equal(true);
  });

  it('accepts every valid frame of the corpus with the same value as zod', () => {
    for (const frame of VALID) {
      expect(serverMessageSchema.safeParse(frame).success, JSON.stringify(frame)).to.equal(true);
      agree(frame);
    }
  });

  it('rejects every invalid frame of the corpus, as zod does', () => {
    for (const frame of INVALID) {
      expect(serverMessageSchema.safeParse(frame).success, JSON.stringify(frame)).to.equal(false);
      agree(frame);
    }
  });

  it('drops __proto__ keys from records as zod does, without touching any prototype', () => {
    agree(JSON.parse('{"type":"subscribed","topics":[],"positions":{"__proto__":{"epoch":"E","seq":1},"a":{"epoch":"E","seq":2}}}'));
    agree(JSON.parse('{"type":"subscribed","topics":[],"recovered":{"__proto__":true}}'));
    agree(JSON.parse('{"type":"subscribed","topics":[],"recovered":{"__proto__":"no"}}'));
    expect(({} as { epoch?: unknown }).epoch).to.equal(undefined);
  });

  it('agrees on generated frames: valid ones, the same with one field changed or removed, and arbitrary JSON', () => {
    const anyJson = fc.jsonValue({ maxDepth: 2 });
    const str = fc.string({ maxLength: 8 });
    const seq = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 53, -1, 1.5));
    const epoch = fc.string({ maxLength: 70 });
    const topics = fc.array(str, { maxLength: 3 });
    const pos = fc.record({ epoch, seq });
    const valid = fc.oneof(
      fc.record(
        { type: fc.constant('message'), topic: str, id: str, seq: fc.integer({ min: 1 }), epoch: str, data: anyJson, publishedAt: str },
        { requiredKeys: ['type', 'topic', 'id', 'data', 'publishedAt'] },
      ),
      fc.record(
        { type: fc.constant('subscribed'), topics, positions: fc.dictionary(str, pos, { maxKeys: 3 }), recovered: fc.dictionary(str, fc.boolean(), { maxKeys: 3 }) },
        { requiredKeys: ['type', 'topics'] },
      ),
      fc.record({ type: fc.constant('unsubscribed'), topics }),
      fc.record({ type: fc.constant('pong') }),
      fc.record({ type: fc.constant('published'), topic: str, id: str }),
      fc.record({
        type: fc.constant('presence'),
        topic: str,
        event: fc.constantFrom('join', 'leave'),
        member: fc.record({ id: str, data: anyJson }, { requiredKeys: ['id'] }),
        count: fc.integer({ min: 0, max: 1000 }),
      }),
      fc.record({ type: fc.constant('error'), code: fc.constantFrom(...ERROR_CODES), message: str, topics }, { requiredKeys: ['type', 'code', 'message'] }),
    );
    // One field replaced (by a value of another type, a near-miss, or nothing), or one added.
    const field = fc.constantFrom('type', 'topic', 'id', 'seq', 'epoch', 'data', 'publishedAt', 'topics', 'positions', 'recovered', 'presence', 'from', 'event', 'member', 'count', 'code', 'message', 'extra');
    const value = fc.oneof(anyJson, seq, epoch, fc.constant(undefined), fc.dictionary(str, fc.oneof(pos, anyJson), { maxKeys: 2 }), fc.constantFrom('NOPE', 'message', 'error'));
    const changed = fc.tuple(valid, field, value).map(([frame, key, v]) => ({ ...(frame as object), [key]: v }));
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(valid, changed, anyJson), (frame) => {
        agree(frame);
        if (serverMessageSchema.safeParse(JSON.parse(JSON.stringify(frame))).success) accepted++;
      }),
      { numRuns: 3000 },
    );
    expect(accepted, 'a fair share of valid frames').to.be.within(600, 2400);
  });
});
