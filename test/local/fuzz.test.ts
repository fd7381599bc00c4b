/**
 * Throws generated malformed frames at every route over one real connection. Each frame must get
 * exactly one clear reply (a protocol reply or an error with a documented code, never API
 * Gateway's "Internal server error"), the connection must stay open, no forbidden topic may ever
 * be accepted, and another connection's subscriptions must keep delivering. Among the frames:
 * actions named after built-in object properties (`toString`, `__proto__`…), which must be
 * unknown actions, and actions nested thousands of levels deep, which must be bad requests.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import WebSocket from 'ws';
import { mintToken } from '../../local/auth-token';
import { startLocal, type LocalSystem } from '../../local/system';
import { topicAllowed } from '../../protocol/auth';
import { MAX_MESSAGE_BYTES } from '../../protocol/limits';
import { serverMessageSchema, type ErrorCode } from '../../protocol/messages';
import { openSocket, publish, withToken, type Client } from './auth-fixtures';
import { expectSubscribed } from './system-helpers';

const SECRET = 'fuzz-secret';
const PRINCIPAL = 'fuzzer';
const PATTERNS = ['orders/*', 'users/{sub}/inbox', 'news'];
const RUNS = 600;
/** API Gateway closes a connection on a frame over 32 KB: keep generated frames below it. */
const MAX_FUZZ_FRAME_BYTES = 30_000;

const allowedTopics = ['orders/1', 'orders/abc', 'users/fuzzer/inbox', 'news'];
const forbiddenTopics = ['payments/1', 'orders/1/items', 'users/other/inbox', 'orders', 'canary/1'];
const badTopics = ['', '$connection', '$x', 'a b', 'ü', '☃/snow', 'orders/*', 'tab\there', 'nul\u0000', 'x'.repeat(300), '😀'];

const json = fc.jsonValue({ maxDepth: 3 });
const topic = fc.oneof(
  fc.constantFrom(...allowedTopics),
  fc.constantFrom(...forbiddenTopics),
  fc.constantFrom(...badTopics),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const topics = fc.oneof(
  fc.array(topic, { maxLength: 8 }),
  // Huge arrays: over the subscription cap, with and without duplicates.
  fc.array(fc.constantFrom(...allowedTopics, 'a', 'b.c'), { minLength: 101, maxLength: 1500 }),
  fc.integer({ min: 101, max: 400 }).map((n) => Array.from({ length: n }, (_, i) => `orders/${i}`)),
  json, // wrong types: a number, a string, an object, null...
  fc.array(json, { minLength: 1, maxLength: 4 }),
);
/** Names every JS object inherits: a route table indexed with them must not find a "route". */
const PROPERTY_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupSetter__'];
const action = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('subscribe', 'unsubscribe', 'ping') },
  { weight: 2, arbitrary: fc.constantFrom('publish', 'unknown', '$connect', '$disconnect', '$default', 'SUBSCRIBE', '', ' subscribe') },
  { weight: 2, arbitrary: fc.constantFrom(...PROPERTY_NAMES) },
  { weight: 1, arbitrary: json },
);
const actionFrame = fc
  .record({ action, topics, extra: fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 3 }) }, { requiredKeys: ['action'] })
  .map(({ extra, ...known }) => JSON.stringify({ ...(extra ?? {}), ...known }));
/** Requests that are valid or one topic away from it, so the success paths get exercised too. */
const someOrders = Array.from({ length: 30 }, (_, i) => `orders/${i}`);
const nearValid = fc
  .record({
    action: fc.constantFrom('subscribe', 'unsubscribe'),
    topics: fc.oneof(
      { weight: 3, arbitrary: fc.uniqueArray(fc.constantFrom(...allowedTopics, ...someOrders), { minLength: 1, maxLength: 6 }) },
      { weight: 2, arbitrary: fc.tuple(fc.array(fc.constantFrom(...allowedTopics), { maxLength: 3 }), topic).map(([ok, odd]) => [...ok, odd]) },
      // More distinct allowed topics than the subscription cap.
      { weight: 1, arbitrary: fc.integer({ min: 101, max: 150 }).map((n) => Array.from({ length: n }, (_, i) => `orders/n${i}`)) },
    ),
  })
  .map((request) => JSON.stringify(request));
/** Deeply nested topics, closed (valid JSON of the wrong shape) or not (invalid JSON). */
const nestedGarbage = fc
  .tuple(fc.integer({ min: 1, max: 2000 }), fc.constantFrom(['[', ']'], ['{"a":', '}']), fc.boolean(), fc.constantFrom('subscribe', 'unsubscribe'))
  .map(([depth, [open, close], closed, verb]) => `{"action":"${verb}","topics":${open.repeat(depth)}${closed ? `1${close.repeat(depth)}}` : ''}`);
/** An action nested thousands of levels deep (JSON.stringify of it overflows the stack), closed or not. */
const nestedAction = fc
  .tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(['[', ']'], ['{"":', '}']), fc.boolean())
  .map(([depth, [open, close], closed]) => `{"action":${open.repeat(depth)}${closed ? `1${close.repeat(depth)}}` : ''}`);
const frame = fc
  .oneof(
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 5, arbitrary: actionFrame },
    { weight: 5, arbitrary: nearValid },
    { weight: 1, arbitrary: actionFrame.chain((f) => fc.integer({ min: 0, max: f.length }).map((n) => f.slice(0, n))) },
    { weight: 1, arbitrary: nestedGarbage },
    { weight: 1, arbitrary: nestedAction },
  )
  .filter((f) => Buffer.byteLength(f, 'utf8') < MAX_FUZZ_FRAME_BYTES);

/** What the sender meant, as API Gateway routes it: a JSON object and its `action`, or not an object at all. */
function intended(text: string): { object: false } | { object: true; action: unknown } {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { object: true, action: (value as { action?: unknown }).action };
  } catch {
    // not JSON
  }
  return { object: false };
}
function intendedAction(text: string): unknown {
  const sent = intended(text);
  return sent.object ? sent.action : undefined;
}

const EXPECTED_CODES: Record<string, readonly ErrorCode[]> = {
  subscribe: ['BAD_REQUEST', 'INVALID_TOPIC', 'FORBIDDEN', 'TOO_MANY_TOPICS', 'PAYLOAD_TOO_LARGE'],
  // A request may name at most the subscription cap of topics, for unsubscribe too.
  unsubscribe: ['BAD_REQUEST', 'INVALID_TOPIC', 'TOO_MANY_TOPICS', 'PAYLOAD_TOO_LARGE'],
};

/** The one code $default answers (frames stay far below the 128 KB limit). */
function defaultRouteCode(text: string): ErrorCode {
  const sent = intended(text);
  if (!sent.object) return 'BAD_REQUEST'; // not JSON, or not an object
  if (sent.action === undefined || typeof sent.action === 'string') return 'UNKNOWN_ACTION';
  return 'BAD_REQUEST'; // an action that is not a string, nested or not
}

describe('fuzz: malformed frames at every route (local mode, auth on)', () => {
  let system: LocalSystem;
  let fuzzer: Client;
  let canary: Client;

  before(async () => {
    system = await startLocal({ authSecret: SECRET, quiet: true });
    const url = system.outputs.websocketUrl;
    fuzzer = await openSocket(withToken(url, await mintToken({ secret: SECRET, sub: PRINCIPAL, topics: PATTERNS })));
    canary = await openSocket(withToken(url, await mintToken({ secret: SECRET, sub: 'canary', topics: ['canary/*'] })));
    expectSubscribed(await canary.request({ action: 'subscribe', topics: ['canary/1'] }), ['canary/1']);
  });

  after(async () => {
    await Promise.all([fuzzer?.close(), canary?.close()]);
    await system?.stop();
  });

  it(`answers ${RUNS} generated frames each with one clear reply, and never accepts a forbidden topic`, async () => {
    const seen: Record<string, number> = {};
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        const reply = await fuzzer.request(text);
        const parsed = serverMessageSchema.safeParse(reply);
        expect(parsed.success, `reply ${JSON.stringify(reply).slice(0, 200)} is not a protocol message`).to.equal(true);
        const action = intendedAction(text);
        const kind = action === 'subscribe' || action === 'unsubscribe' || action === 'ping' ? action : 'other';
        seen[kind] = (seen[kind] ?? 0) + 1;
        const outcome = reply.type === 'error' ? String(reply.code) : String(reply.type);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (kind === 'ping') {
          expect(reply).to.deep.equal({ type: 'pong' });
          return;
        }
        if (action === 'publish') {
          // The client publish route (relay): a fuzzed frame is never a valid publish (no `topic` with `data`).
          expect(reply.type, JSON.stringify(reply)).to.equal('error');
          expect(['BAD_REQUEST', 'INVALID_TOPIC', 'FORBIDDEN', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE'], String(reply.message)).to.include(reply.code);
          return;
        }
        if (kind === 'other') {
          const action = intendedAction(text);
          if (typeof action === 'string' && PROPERTY_NAMES.includes(action)) seen.propertyName = (seen.propertyName ?? 0) + 1;
          if (typeof action === 'object' && action !== null) seen.nestedAction = (seen.nestedAction ?? 0) + 1;
          expect(reply).to.include({ type: 'error', code: defaultRouteCode(text) });
          expect(String(reply.message).length, 'a short message, never the frame repeated').to.be.below(200);
          return;
        }
        if (reply.type === 'error') {
          expect(EXPECTED_CODES[kind], `code ${String(reply.code)} for a ${kind} frame: ${String(reply.message)}`).to.include(reply.code);
          return;
        }
        const requested = (JSON.parse(text) as { topics: string[] }).topics;
        expect(reply.type).to.equal(kind === 'subscribe' ? 'subscribed' : 'unsubscribed');
        expect([...new Set(reply.topics as string[])].sort()).to.deep.equal([...new Set(requested)].sort());
        if (kind === 'subscribe') {
          for (const t of requested) expect(topicAllowed(PATTERNS, t, PRINCIPAL), `accepted forbidden topic ${t}`).to.equal(true);
        }
      }),
      { numRuns: RUNS },
    );
    expect(['subscribe', 'unsubscribe', 'ping', 'other'].reduce((n, kind) => n + (seen[kind] ?? 0), 0)).to.be.at.least(RUNS);
    for (const kind of ['subscribe', 'unsubscribe', 'ping', 'other', 'propertyName', 'nestedAction']) expect(seen[kind] ?? 0, kind).to.be.at.least(10);
    // Every path was taken: successes and each kind of refusal.
    for (const outcome of ['subscribed', 'unsubscribed', 'pong', 'BAD_REQUEST', 'UNKNOWN_ACTION', 'INVALID_TOPIC', 'FORBIDDEN', 'TOO_MANY_TOPICS']) {
      expect(outcomes[outcome] ?? 0, `${outcome} in ${JSON.stringify(outcomes)}`).to.be.at.least(1);
    }

    // The connection survived and still works; the other connection's subscription still delivers.
    expect(fuzzer.ws.readyState).to.equal(WebSocket.OPEN);
    expect(await fuzzer.request({ action: 'ping' })).to.deep.equal({ type: 'pong' });
    await publish(system.outputs, 'canary/1', { after: 'fuzz' });
    expect(await canary.next((f) => f.type === 'message', 'the canary message')).to.deep.include({ topic: 'canary/1', data: { after: 'fuzz' } });
  });

  it('closes only the offending connection for frames API Gateway itself refuses (binary 1003, over 128 KB 1009)', async () => {
    const url = system.outputs.websocketUrl;
    const token = await mintToken({ secret: SECRET, sub: PRINCIPAL, topics: PATTERNS });
    const binary = await openSocket(withToken(url, token));
    binary.ws.send(Buffer.from([0x7b, 0x7d]), { binary: true });
    expect(await binary.closed()).to.equal(1003);
    const oversize = await openSocket(withToken(url, token));
    oversize.ws.send(JSON.stringify({ action: 'subscribe', topics: ['news'], pad: 'x'.repeat(MAX_MESSAGE_BYTES) }));
    expect(await oversize.closed()).to.equal(1009);

    expect(fuzzer.ws.readyState).to.equal(WebSocket.OPEN);
    await publish(system.outputs, 'canary/1', { after: 'closes' });
    expect(await canary.next((f) => f.type === 'message', 'the canary message')).to.deep.include({ data: { after: 'closes' } });
  });
});
