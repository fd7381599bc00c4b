/**
 * What happened in the local system, one event per connect, refusal, disconnect, subscribe,
 * unsubscribe, refused request, published message and delivery job: what `npm start` prints as
 * its terminal lines (format.ts). Built from what the local components observe — the gateway's
 * onActivity (connections and the route functions' replies) and the publish and delivery
 * functions' outcomes — never from parsing logs.
 *
 * Clients send what they like: every string that came from one (a close reason, a principal) is
 * cut to a short prefix and stripped of control characters before it reaches an event, and
 * error replies are reduced to their code (an INVALID_TOPIC reply names the bad topics).
 */
import type { DeliverOutcome } from '../../functions/handlers/deliver';
import type { PublishOutcome } from '../../functions/handlers/publish';
import type { StreamPosition } from '../../protocol/history';
import type { GatewayActivity } from '../gateway';

export type ActivityEvent =
  | { event: 'connect'; connectionId: string; sourceIp: string; principal?: string }
  /** A handshake refused: by the origin check (403), the authorizer (401/403) or $connect. */
  | { event: 'connect-refused'; status: number; sourceIp: string; by: 'origin' | 'authorizer' | '$connect' }
  | { event: 'disconnect'; connectionId: string; code: number; reason: string; seconds: number }
  /** Subscribed: each topic's position; `resumed` for the topics the request gave a `since`. */
  | {
      event: 'subscribe';
      connectionId: string;
      topics: string[];
      positions?: Record<string, StreamPosition>;
      resumed?: Record<string, { from?: number; recovered: boolean }>;
    }
  | { event: 'unsubscribe'; connectionId: string; topics: string[] }
  /** A request answered with an error (its code), or whose function failed (FUNCTION_FAILED). */
  | { event: 'error'; connectionId: string; action: 'subscribe' | 'unsubscribe' | 'message'; code: string }
  /** One envelope through the publish function: where it went and what its fan-out did. */
  | {
      event: 'publish';
      id: string;
      status: PublishOutcome['status'];
      topics: string[];
      positions?: Record<string, StreamPosition>;
      subscribers: number;
      delivered: number;
      gone: number;
      /** Connections handed to delivery jobs (slices of a big topic, retries, the rest after the deadline). */
      queued: number;
      reason?: string;
    }
  /** One delivery job (a slice, a retry or a rest) through the delivery function. */
  | {
      event: 'deliver';
      id: string;
      topic: string;
      kind: DeliverOutcome['kind'];
      attempt: number;
      connections: number;
      delivered: number;
      gone: number;
      /** Connections handed on to another job. */
      queued: number;
    };

export type ActivityKind = ActivityEvent['event'];

/** Longest prefix kept of a string a client chose. */
const UNTRUSTED_CHARS = 64;

/** A short, printable prefix: control characters (a terminal's escape sequences) become U+FFFD. */
export function printable(text: string, max = UNTRUSTED_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function jsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** What a gateway observation comes to, if anything worth a line. */
export function fromGateway(a: GatewayActivity): ActivityEvent | undefined {
  switch (a.type) {
    case 'connect': {
      const principal = a.authorizer?.principalId;
      return { event: 'connect', connectionId: a.connectionId, sourceIp: printable(a.sourceIp), ...(principal ? { principal: printable(principal) } : {}) };
    }
    case 'refused':
      return { event: 'connect-refused', status: a.status, sourceIp: printable(a.sourceIp), by: a.by };
    case 'disconnect':
      return { event: 'disconnect', connectionId: a.connectionId, code: a.code, reason: printable(a.reason), seconds: Math.max(0, (Date.now() - a.connectedAt) / 1000) };
    case 'route':
      return fromRoute(a);
  }
}

function fromRoute(a: Extract<GatewayActivity, { type: 'route' }>): ActivityEvent | undefined {
  const action = a.routeKey === 'subscribe' || a.routeKey === 'unsubscribe' ? a.routeKey : 'message';
  const reply = jsonObject(a.reply);
  if (a.failed || !reply) return { event: 'error', connectionId: a.connectionId, action, code: 'FUNCTION_FAILED' };
  if (reply.type === 'error') return { event: 'error', connectionId: a.connectionId, action, code: typeof reply.code === 'string' ? printable(reply.code, 32) : 'ERROR' };
  // Replies of our own functions: their topics passed the handler's checks.
  const topics = strings(reply.topics);
  if (reply.type === 'unsubscribed') return { event: 'unsubscribe', connectionId: a.connectionId, topics };
  if (reply.type !== 'subscribed') return undefined;
  const event: Extract<ActivityEvent, { event: 'subscribe' }> = { event: 'subscribe', connectionId: a.connectionId, topics };
  const positions = positionsOf(reply.positions);
  if (positions) event.positions = positions;
  if (reply.recovered && typeof reply.recovered === 'object') {
    // The request's `since` says where each resumed topic started from.
    const since = jsonObject(a.body)?.since as Record<string, { seq?: unknown }> | undefined;
    event.resumed = {};
    for (const [topic, recovered] of Object.entries(reply.recovered as Record<string, unknown>)) {
      if (!topics.includes(topic) || typeof recovered !== 'boolean') continue;
      const from = since && typeof since === 'object' ? since[topic]?.seq : undefined;
      event.resumed[topic] = { ...(typeof from === 'number' && Number.isSafeInteger(from) ? { from } : {}), recovered };
    }
  }
  return event;
}

function positionsOf(value: unknown): Record<string, StreamPosition> | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const out: Record<string, StreamPosition> = {};
  for (const [topic, p] of Object.entries(value as Record<string, { epoch?: unknown; seq?: unknown }>)) {
    if (typeof p?.epoch === 'string' && typeof p.seq === 'number') out[topic] = { epoch: p.epoch, seq: p.seq };
  }
  return out;
}

/** What the publish function made of one envelope. */
export function fromPublish(outcome: PublishOutcome, topics: readonly string[]): ActivityEvent {
  return {
    event: 'publish',
    id: printable(outcome.id),
    status: outcome.status,
    topics: [...topics],
    ...(outcome.positions ? { positions: outcome.positions } : {}),
    subscribers: outcome.subscribers,
    delivered: outcome.delivered,
    gone: outcome.gone,
    queued: outcome.sliced + outcome.retrying + outcome.rest,
    ...(outcome.reason ? { reason: printable(outcome.reason, 200) } : {}),
  };
}

/** What the delivery function made of one job. */
export function fromDeliver(outcome: DeliverOutcome): ActivityEvent {
  return {
    event: 'deliver',
    id: printable(outcome.messageId),
    topic: outcome.topic,
    kind: outcome.kind,
    attempt: outcome.attempt,
    connections: outcome.connections,
    delivered: outcome.delivered,
    gone: outcome.gone,
    queued: outcome.retrying + outcome.rest,
  };
}
