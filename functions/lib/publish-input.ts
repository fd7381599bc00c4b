/**
 * Turning what the publish function receives (an SQS record's body, or an EventBridge event's
 * `detail`) into the frames to deliver, or into the reason it must be dropped. The body is a
 * publish envelope, or a rule message from an EventBridge rule (rule-message.ts builds the
 * envelope from it). A dropped input is logged and never retried: no number of retries would
 * make it valid. Reasons say what is wrong without quoting the input (untrusted.ts).
 */
import {
  envelopeSchema,
  envelopeTopics,
  deliveredMessage,
  MAX_DATA_DEPTH,
  presenceEnvelopeSchema,
  presenceFrame,
  type PresenceEnvelope,
  type PublishEnvelope,
} from '../../protocol/envelope';
import { looksLikeRuleMessage } from '../../protocol/rule-message';
import type { StreamPosition } from '../../protocol/history';
import { envelopeFromRuleMessage } from './rule-message';
import { describeIssues, describeJsonError, nestsDeeperThan } from './untrusted';

export interface PublishInput {
  /** The envelope, already JSON-parsed (or the raw text when it came as a string). */
  payload: unknown;
  /** Used when the envelope has no `id`: the SQS message id or the EventBridge event id. */
  fallbackId: string;
  /** A time that stays the same across retries (SQS SentTimestamp, event `time`), if known. */
  publishedAt?: string;
  /** The payload may be a rule message (an SQS body: rules target the queue); a raw EventBridge `detail` is an envelope. */
  ruleMessages?: boolean;
}

/**
 * The largest place in a stream a frame may carry: its size is checked with it, so a message
 * accepted now is never refused later for the digits of its seq.
 */
const LARGEST_POSITION: StreamPosition = { seq: Number.MAX_SAFE_INTEGER, epoch: 'x'.repeat(16) };

export interface PublishLimits {
  maxTopicLength: number;
  maxFrameBytes: number;
  /**
   * Distinct topics one envelope may name: the subscription cap. Each topic costs a query and a
   * fan-out, and every retry repeats them all, so an envelope far over it could never succeed.
   */
  maxSubscriptionsPerConnection: number;
}

export interface PreparedMessage {
  ok: true;
  id: string;
  topics: string[];
  /** A message takes its place in each topic's stream and is retained; a presence event does not. */
  sequenced: boolean;
  envelope: PublishEnvelope | PresenceEnvelope;
  /** The frame subscribers of `topic` receive, at `position` in its stream (none without history). */
  frameFor(topic: string, position?: StreamPosition): string;
}

/** A refusal; `tooLarge` tells a size refusal from a malformed message (the relay answers PAYLOAD_TOO_LARGE for it). */
export type Prepared = PreparedMessage | { ok: false; id: string; reason: string; tooLarge?: true };

/** Epoch milliseconds (as SQS gives SentTimestamp) or an ISO string → ISO-8601, else undefined. */
export function toIsoTime(value: string | number | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const asNumber = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  const date = Number.isFinite(asNumber) ? new Date(asNumber) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Building a zod schema costs about a millisecond, parsing with one some microseconds: one per topic length limit. */
const envelopeSchemas = new Map<number, ReturnType<typeof envelopeSchema>>();
function envelopeSchemaFor(maxTopicLength: number) {
  let schema = envelopeSchemas.get(maxTopicLength);
  if (!schema) envelopeSchemas.set(maxTopicLength, (schema = envelopeSchema(maxTopicLength)));
  return schema;
}
const presenceSchemas = new Map<number, ReturnType<typeof presenceEnvelopeSchema>>();
function presenceSchemaFor(maxTopicLength: number) {
  let schema = presenceSchemas.get(maxTopicLength);
  if (!schema) presenceSchemas.set(maxTopicLength, (schema = presenceEnvelopeSchema(maxTopicLength)));
  return schema;
}

/** A presence event put on the queue by the presence module (presence/): fanned out as is, never sequenced. */
function preparePresence(payload: unknown, id: string, limits: PublishLimits): Prepared {
  const parsed = presenceSchemaFor(limits.maxTopicLength).safeParse(payload);
  if (!parsed.success) return { ok: false, id, reason: `invalid presence event: ${describeIssues(parsed.error)}` };
  const envelope = parsed.data;
  if (nestsDeeperThan(envelope.presence.member.data, MAX_DATA_DEPTH)) return { ok: false, id, reason: `member data nests deeper than ${MAX_DATA_DEPTH} levels` };
  const frame = JSON.stringify(presenceFrame(envelope));
  if (Buffer.byteLength(frame) > limits.maxFrameBytes) return { ok: false, id, reason: `presence event too large: ${Buffer.byteLength(frame)} bytes` };
  return { ok: true, id, topics: [envelope.presence.topic], sequenced: false, envelope, frameFor: () => frame };
}

export function prepareMessage(input: PublishInput, limits: PublishLimits): Prepared {
  let payload = input.payload;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload);
    } catch (error) {
      return { ok: false, id: input.fallbackId, reason: `the envelope is ${describeJsonError(error)}` };
    }
  }
  if (typeof payload === 'object' && payload !== null && 'presence' in payload) return preparePresence(payload, input.fallbackId, limits);
  let envelope: PublishEnvelope;
  if (input.ruleMessages && looksLikeRuleMessage(payload)) {
    const built = envelopeFromRuleMessage(payload, limits);
    if (!built.ok) return { ok: false, id: built.id ?? input.fallbackId, reason: built.reason };
    envelope = built.envelope;
  } else {
    const parsed = envelopeSchemaFor(limits.maxTopicLength).safeParse(payload);
    if (!parsed.success) return { ok: false, id: input.fallbackId, reason: `invalid envelope: ${describeIssues(parsed.error)}` };
    envelope = parsed.data;
  }

  const id = envelope.id ?? input.fallbackId;
  const topics = envelopeTopics(envelope);
  if (topics.length > limits.maxSubscriptionsPerConnection) {
    return {
      ok: false,
      id,
      reason: `too many topics: an envelope names at most ${limits.maxSubscriptionsPerConnection} distinct topics (MAX_SUBSCRIPTIONS_PER_CONNECTION); this one names ${topics.length}`,
    };
  }
  // Checked before anything serialises it: JSON.stringify overflows the stack on deep nesting.
  if (nestsDeeperThan(envelope.data, MAX_DATA_DEPTH)) return { ok: false, id, reason: `data nests deeper than ${MAX_DATA_DEPTH} levels of arrays and objects` };

  const publishedAt = input.publishedAt ?? new Date().toISOString();
  const frameFor = (topic: string, position?: StreamPosition) => JSON.stringify(deliveredMessage(topic, id, envelope.data, publishedAt, position, envelope.from));
  for (const topic of topics) {
    const bytes = Buffer.byteLength(frameFor(topic, LARGEST_POSITION));
    if (bytes > limits.maxFrameBytes) {
      return { ok: false, id, tooLarge: true, reason: `payload too large: the message delivered on "${topic}" would be ${bytes} bytes; the limit is ${limits.maxFrameBytes}` };
    }
  }
  return { ok: true, id, topics, sequenced: true, envelope, frameFor };
}
