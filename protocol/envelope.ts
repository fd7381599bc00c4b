/**
 * The publish envelope: the body of an SQS message on the publish queue, or the `detail` of an
 * EventBridge event sent straight to the publish function.
 *   {"topic":"orders/42","data":<any JSON>,"id":"optional"}   or   {"topics":[…],"data":…}
 */
import * as z from './zod';
import { DEFAULTS } from './limits';
import { topicSchema, type DeliveredMessage } from './messages';

export const MAX_ID_LENGTH = 128;

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

/** The frame a subscriber receives for one topic of an envelope. */
export function deliveredMessage(topic: string, id: string, data: unknown, publishedAt: string): DeliveredMessage {
  return { type: 'message', topic, id, data, publishedAt };
}
