/**
 * The publish envelope: the body of an SQS message on the publish queue, or the `detail` of an
 * EventBridge event sent straight to the publish function.
 *   {"topic":"orders/42","data":<any JSON>,"id":"optional"}   or   {"topics":[…],"data":…}
 */
import * as z from './zod';
import { DEFAULTS } from './limits';
import { topicSchema, type DeliveredMessage } from './messages';

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
    })
    .check(z.refine((e) => (e.topic === undefined) !== (e.topics === undefined), { message: 'give exactly one of "topic" or "topics"' }));
}

export type PublishEnvelope = z.infer<ReturnType<typeof envelopeSchema>>;

/** The distinct topics an envelope addresses, in order. */
export function envelopeTopics(envelope: PublishEnvelope): string[] {
  return [...new Set(envelope.topics ?? [envelope.topic as string])];
}

/** The frame a subscriber receives for one topic of an envelope, at its place in the topic's stream. */
export function deliveredMessage(topic: string, id: string, data: unknown, publishedAt: string, position?: { seq: number; epoch: string }): DeliveredMessage {
  return position ? { type: 'message', topic, id, seq: position.seq, epoch: position.epoch, data, publishedAt } : { type: 'message', topic, id, data, publishedAt };
}
