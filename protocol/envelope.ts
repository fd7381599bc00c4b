/**
 * The publish envelope: the body of an SQS message on the publish queue, or the `detail` of an
 * EventBridge event sent straight to the publish function.
 *   {"topic":"orders/42","data":<any JSON>,"id":"optional"}   or   {"topics":[…],"data":…}
 */
import * as z from './zod';
import { DEFAULTS } from './limits';
import { presenceMemberSchema, topicSchema, type DeliveredMessage, type PresenceEvent } from './messages';

export const MAX_ID_LENGTH = 128;

/**
 * Deepest nesting (arrays and objects) of an envelope's `data`. JSON.stringify recurses, and at a
 * few thousand levels it throws a RangeError (call stack) that no retry can cure; many clients'
 * parsers stop far earlier (.NET 64, serde_json 128). The publish function drops deeper data as
 * invalid.
 */
export const MAX_DATA_DEPTH = 128;

export function envelopeSchema(maxTopicLength: number = DEFAULTS.maxTopicLength) {
  const topic = topicSchema(maxTopicLength);
  return z
    .strictObject({
      topic: z.optional(topic),
      topics: z.optional(z.array(topic).check(z.minLength(1, 'topics must name at least one topic'))),
      // `data` must be present (null is a value); undefined means the key was missing.
      data: z.unknown().check(z.refine((v) => v !== undefined, 'data is required (use null for no data)')),
      id: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_ID_LENGTH))),
      /**
       * Who published it, delivered as the frame's `from`: the relay sets the publisher's
       * principal on client publishes. Only this stack's backends and its relay can send to the
       * queue, so it is taken as given.
       */
      from: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_FROM_LENGTH))),
    })
    .check(z.refine((e) => (e.topic === undefined) !== (e.topics === undefined), { message: 'give exactly one of "topic" or "topics"' }));
}

export type PublishEnvelope = z.infer<ReturnType<typeof envelopeSchema>>;

/** A principal, as the authorizer accepts it (functions/lib/auth/claims.ts). */
export const MAX_FROM_LENGTH = 256;

/**
 * A presence event on its way to a topic's subscribers, put on the publish queue by the function
 * that saw the member join or leave (functions/lib/presence/). It is fanned out like a message,
 * but takes no place in the topic's stream and is not retained.
 *   {"presence":{"topic":"room/1","event":"join","member":{"id":"alice","data":{…}},"count":2}}
 */
export function presenceEnvelopeSchema(maxTopicLength: number = DEFAULTS.maxTopicLength) {
  return z.strictObject({
    presence: z.strictObject({
      topic: topicSchema(maxTopicLength),
      event: z.enum(['join', 'leave']),
      member: presenceMemberSchema,
      count: z.int().check(z.minimum(0)),
    }),
  });
}
export type PresenceEnvelope = z.infer<ReturnType<typeof presenceEnvelopeSchema>>;

/** The frame a presence envelope becomes. */
export function presenceFrame(envelope: PresenceEnvelope): PresenceEvent {
  const { topic, event, member, count } = envelope.presence;
  return { type: 'presence', topic, event, member, count };
}

/** The distinct topics an envelope addresses, in order. */
export function envelopeTopics(envelope: PublishEnvelope): string[] {
  return [...new Set(envelope.topics ?? [envelope.topic as string])];
}

/** The frame a subscriber receives for one topic of an envelope, at its place in the topic's stream. */
export function deliveredMessage(
  topic: string,
  id: string,
  data: unknown,
  publishedAt: string,
  position?: { seq: number; epoch: string },
  from?: string,
): DeliveredMessage {
  const frame: DeliveredMessage = position
    ? { type: 'message', topic, id, seq: position.seq, epoch: position.epoch, data, publishedAt }
    : { type: 'message', topic, id, data, publishedAt };
  if (from !== undefined) frame.from = from;
  return frame;
}
