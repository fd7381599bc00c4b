/**
 * The server → client frames as plain TypeScript types, and a tiny hand-written validator for
 * them. The zod schemas in protocol/messages.ts stay the source of truth; the client does not
 * import them because zod would be most of its browser bundle. A test checks that this parser
 * and `serverMessageSchema` accept and reject the same frames and return the same values.
 */
import { ERROR_CODES, type ErrorCode } from '../protocol/error-codes.js';

/** A place in a topic's stream: the `seq` of the last message had, in the stream named `epoch`. */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

/** A position to resume from; without `epoch` the seq is taken in the topic's current stream. */
export interface SincePosition {
  epoch?: string;
  seq: number;
}

/**
 * A published message as delivered. `id` is stable across retries. `seq` is its place in the
 * topic's stream named `epoch` (absent from an older server's frames).
 */
export interface DeliveredMessage {
  type: 'message';
  topic: string;
  id: string;
  seq?: number;
  epoch?: string;
  data: unknown;
  publishedAt: string;
  /** A client publish: the publisher's principal. */
  from?: string;
}

/** A member of a presence topic: its principal, and its token's `presence` claim. */
export interface PresenceMember {
  id: string;
  data?: unknown;
}

/** Who is in a presence topic: the members (absent above the server's list cap) and how many. */
export interface PresenceState {
  members?: PresenceMember[];
  count: number;
}

/** A member joined (first connection) or left (last connection) a presence topic; `count` is after it. */
export interface PresenceEvent {
  type: 'presence';
  topic: string;
  event: 'join' | 'leave';
  member: PresenceMember;
  count: number;
}

/** A client publish the server's queue accepted; `id` is the delivered message's id. */
export interface PublishedReply {
  type: 'published';
  topic: string;
  id: string;
}

export interface SubscribedReply {
  type: 'subscribed';
  topics: string[];
  /** Where each topic stands: its head, or the last message replayed. */
  positions?: Record<string, StreamPosition>;
  /** For each topic resumed with `since`: was everything after it replayed? */
  recovered?: Record<string, boolean>;
  /** For each presence topic: who is there. */
  presence?: Record<string, PresenceState>;
}

export interface UnsubscribedReply {
  type: 'unsubscribed';
  topics: string[];
}

export interface PongReply {
  type: 'pong';
}

export interface ErrorReply {
  type: 'error';
  code: ErrorCode;
  message: string;
  topics?: string[];
  /** A refused client publish: the `id` it carried. */
  id?: string;
}

export type ServerFrame = SubscribedReply | UnsubscribedReply | PongReply | ErrorReply | DeliveredMessage | PublishedReply | PresenceEvent;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isEpoch = (v: unknown): v is string => isString(v) && v.length >= 1 && v.length <= 64;
const codes: readonly string[] = ERROR_CODES;

/** A record of `check`ed values; undefined when any value fails. `__proto__` keys are skipped unchecked, as zod skips them. */
function record<T>(v: unknown, check: (value: unknown) => T | undefined): Record<string, T> | undefined {
  if (!isObject(v)) return undefined;
  const entries: [string, T][] = [];
  for (const key of Object.keys(v)) {
    if (key === '__proto__') continue;
    const value = check(v[key]);
    if (value === undefined) return undefined;
    entries.push([key, value]);
  }
  return Object.fromEntries(entries);
}

const position = (v: unknown): StreamPosition | undefined => (isObject(v) && isEpoch(v.epoch) && isInt(v.seq, 0) ? { epoch: v.epoch, seq: v.seq } : undefined);
const boolean = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const member = (v: unknown): PresenceMember | undefined => {
  if (!isObject(v) || !isString(v.id)) return undefined;
  return v.data === undefined ? { id: v.id } : { id: v.id, data: v.data };
};
const presenceState = (v: unknown): PresenceState | undefined => {
  if (!isObject(v) || !isInt(v.count, 0)) return undefined;
  if (v.members === undefined) return { count: v.count };
  if (!Array.isArray(v.members)) return undefined;
  const members = v.members.map(member);
  return members.every((m) => m !== undefined) ? { members: members as PresenceMember[], count: v.count } : undefined;
};

/** Fails the whole frame when an optional field is present but malformed. */
const FAIL = Symbol('fail');
function optional<T>(v: unknown, parse: (value: unknown) => T | undefined): T | undefined | typeof FAIL {
  if (v === undefined) return undefined;
  const parsed = parse(v);
  return parsed === undefined ? FAIL : parsed;
}

/** A parsed JSON value as a server frame, with unknown fields dropped; undefined when it is not one. */
export function parseServerFrame(json: unknown): ServerFrame | undefined {
  if (!isObject(json)) return undefined;
  switch (json.type) {
    case 'message': {
      const { topic, id, seq, epoch, data, publishedAt, from } = json;
      if (!isString(topic) || !isString(id) || !isString(publishedAt) || data === undefined) return undefined;
      if (seq !== undefined && !isInt(seq, 1)) return undefined;
      if ((epoch !== undefined && !isString(epoch)) || (from !== undefined && !isString(from))) return undefined;
      const frame: DeliveredMessage = { type: 'message', topic, id, data, publishedAt };
      if (seq !== undefined) frame.seq = seq;
      if (epoch !== undefined) frame.epoch = epoch;
      if (from !== undefined) frame.from = from;
      return frame;
    }
    case 'subscribed': {
      if (!isStringArray(json.topics)) return undefined;
      const positions = optional(json.positions, (v) => record(v, position));
      const recovered = optional(json.recovered, (v) => record(v, boolean));
      const presence = optional(json.presence, (v) => record(v, presenceState));
      if (positions === FAIL || recovered === FAIL || presence === FAIL) return undefined;
      const frame: SubscribedReply = { type: 'subscribed', topics: [...json.topics] };
      if (positions) frame.positions = positions;
      if (recovered) frame.recovered = recovered;
      if (presence) frame.presence = presence;
      return frame;
    }
    case 'published':
      return isString(json.topic) && isString(json.id) ? { type: 'published', topic: json.topic, id: json.id } : undefined;
    case 'presence': {
      const { topic, event, count } = json;
      const who = member(json.member);
      if (!isString(topic) || (event !== 'join' && event !== 'leave') || !who || !isInt(count, 0)) return undefined;
      return { type: 'presence', topic, event, member: who, count };
    }
    case 'unsubscribed':
      return isStringArray(json.topics) ? { type: 'unsubscribed', topics: [...json.topics] } : undefined;
    case 'pong':
      return { type: 'pong' };
    case 'error': {
      const { code, message, topics, id } = json;
      if (!isString(code) || !codes.includes(code) || !isString(message)) return undefined;
      if ((topics !== undefined && !isStringArray(topics)) || (id !== undefined && !isString(id))) return undefined;
      const frame: ErrorReply = { type: 'error', code: code as ErrorCode, message };
      if (topics !== undefined) frame.topics = [...topics];
      if (id !== undefined) frame.id = id;
      return frame;
    }
    default:
      return undefined;
  }
}
