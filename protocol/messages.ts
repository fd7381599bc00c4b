/**
 * The wire protocol between clients and the gateway: JSON text frames, validated with zod.
 * Client → server: `{"action": …}`. Server → client: `{"type": …}`.
 */
import { CLIENT_MESSAGE_ID_PATTERN } from './client-message-id';
import { ERROR_CODES, type ErrorCode } from './error-codes';
import * as z from './zod';
import { DEFAULTS, TOPIC_PATTERN } from './limits';

/** The error codes live in error-codes.ts (zod-free, for the client SDK). */
export { ERROR_CODES, type ErrorCode };

/** A topic-name schema; the length limit is configurable (abuse limits), the character set is not. */
export function topicSchema(maxLength: number = DEFAULTS.maxTopicLength) {
  return z.string().check(
    z.minLength(1, 'topic names are at least 1 character'),
    z.maxLength(maxLength, `topic names are at most ${maxLength} characters`),
    z.regex(TOPIC_PATTERN, 'topic names use only A-Z a-z 0-9 _ . : / -'),
    // `orders/` is what an EventBridge topic template makes of an event missing its field:
    // refuse it rather than publish to a truncated topic.
    z.refine((t) => !t.split('/').includes(''), 'topic names have no empty segments (no leading, trailing or double /)'),
  );
}

export function isValidTopic(topic: unknown, maxLength: number = DEFAULTS.maxTopicLength): topic is string {
  return topicSchema(maxLength).safeParse(topic).success;
}

/** A place in a topic's stream: `seq` of the last message had, in the stream named `epoch`. */
export const positionSchema = z.object({ epoch: z.string().check(z.minLength(1), z.maxLength(64)), seq: z.int().check(z.minimum(0)) });
/** A resume position; without `epoch` the seq is taken in the topic's current stream. */
export const sincePositionSchema = z.object({ epoch: z.optional(z.string().check(z.minLength(1), z.maxLength(64))), seq: z.int().check(z.minimum(0)) });

/**
 * subscribe / unsubscribe bodies. Topics are checked one by one by the handlers (so every bad
 * topic is named in the error), hence plain strings here. `since` (subscribe only) resumes
 * topics from a position: what was published after it is replayed before the reply.
 */
export const topicsRequestSchema = z.object({
  action: z.enum(['subscribe', 'unsubscribe']),
  topics: z.array(z.string()).check(z.minLength(1, 'topics must name at least one topic')),
  since: z.optional(z.record(z.string(), sincePositionSchema)),
});
export type TopicsRequest = z.infer<typeof topicsRequestSchema>;

export const pingRequestSchema = z.object({ action: z.literal('ping') });

/** A client publish's own id (client-message-id.ts, zod-free for the client SDK). */
export { CLIENT_MESSAGE_ID_PATTERN };

/**
 * Client publish: `{"action":"publish","topic":"chat/1","data":…,"id":"optional"}`. Allowed by
 * the token's `publish` claim; the topic is checked by the relay (so it can name it in the error).
 */
export const publishRequestSchema = z.strictObject({
  action: z.literal('publish'),
  topic: z.string(),
  // `data` must be present (null is a value); undefined means the key was missing.
  data: z.unknown().check(z.refine((v) => v !== undefined, 'data is required (use null for no data)')),
  id: z.optional(z.string().check(z.regex(CLIENT_MESSAGE_ID_PATTERN, 'id is 1-64 characters of A-Z a-z 0-9 _ . : -'))),
});
export type PublishRequest = z.infer<typeof publishRequestSchema>;

/** Anything a client may send. */
export const clientMessageSchema = z.union([topicsRequestSchema, pingRequestSchema, publishRequestSchema]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

// ---- server → client ----

/** A member of a presence topic: its principal, and the `presence` claim of its token (if any). */
export const presenceMemberSchema = z.object({ id: z.string(), data: z.optional(z.unknown()) });
/** A presence topic as a subscriber finds it: the members up to the list cap (absent above it), and how many there are. */
export const presenceStateSchema = z.object({ members: z.optional(z.array(presenceMemberSchema)), count: z.int().check(z.minimum(0)) });

export const subscribedReplySchema = z.object({
  type: z.literal('subscribed'),
  topics: z.array(z.string()),
  /** Where each topic stands: messages after it reach the connection live (or were just replayed). */
  positions: z.optional(z.record(z.string(), positionSchema)),
  /** For each topic of `since`: was every retained message after it replayed? false: reload your state. */
  recovered: z.optional(z.record(z.string(), z.boolean())),
  /** For each presence topic subscribed: who is there (docs/presence.md). */
  presence: z.optional(z.record(z.string(), presenceStateSchema)),
});
export const unsubscribedReplySchema = z.object({ type: z.literal('unsubscribed'), topics: z.array(z.string()) });
export const pongReplySchema = z.object({ type: z.literal('pong') });
/** A client publish the publish queue accepted; `id` is the delivered message's id. */
export const publishedReplySchema = z.object({ type: z.literal('published'), topic: z.string(), id: z.string() });
/** A member joined (its first connection subscribed) or left (its last one went) a presence topic; `count` is the members after it. */
export const presenceEventSchema = z.object({
  type: z.literal('presence'),
  topic: z.string(),
  event: z.enum(['join', 'leave']),
  member: presenceMemberSchema,
  count: z.int().check(z.minimum(0)),
});
export const errorReplySchema = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  /** The topics the error is about, when it is about topics. */
  topics: z.optional(z.array(z.string())),
  /** A refused client publish: the `id` it carried (as the client sent it), so the client can tell which publish it was. */
  id: z.optional(z.string()),
});
/**
 * A published message as delivered to a subscriber. `id` is stable across retries: de-duplicate
 * on it. `seq` is its place in the topic's stream named `epoch` (1, 2, 3, …; a seq may be
 * skipped, never reused). The publish function always sets both; a frame without them (from an
 * older server) is delivered as is, without ordering or resume.
 */
export const deliveredMessageSchema = z.object({
  type: z.literal('message'),
  topic: z.string(),
  id: z.string(),
  seq: z.optional(z.int().check(z.minimum(1))),
  epoch: z.optional(z.string()),
  data: z.unknown(),
  publishedAt: z.string(),
  /** A client publish: the publisher's principal. */
  from: z.optional(z.string()),
});

export const serverMessageSchema = z.discriminatedUnion('type', [
  subscribedReplySchema,
  unsubscribedReplySchema,
  pongReplySchema,
  errorReplySchema,
  deliveredMessageSchema,
  publishedReplySchema,
  presenceEventSchema,
]);

export type SubscribedReply = z.infer<typeof subscribedReplySchema>;
export type UnsubscribedReply = z.infer<typeof unsubscribedReplySchema>;
export type ErrorReply = z.infer<typeof errorReplySchema>;
export type DeliveredMessage = z.infer<typeof deliveredMessageSchema>;
export type PublishedReply = z.infer<typeof publishedReplySchema>;
export type PresenceEvent = z.infer<typeof presenceEventSchema>;
export type PresenceMember = z.infer<typeof presenceMemberSchema>;
export type PresenceState = z.infer<typeof presenceStateSchema>;
export type Position = z.infer<typeof positionSchema>;
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/** An error reply; `id` names the client publish it refuses. */
export function errorReply(code: ErrorCode, message: string, topics?: string[], id?: string): ErrorReply {
  const reply: ErrorReply = topics && topics.length > 0 ? { type: 'error', code, message, topics } : { type: 'error', code, message };
  return id === undefined ? reply : { ...reply, id };
}
