/**
 * A client publish, `{"action":"publish","topic":"chat/1","data":…,"id":"optional"}`, checked
 * before anything is read or written: the frame, its fields, the topic name. The reason names
 * what is wrong without quoting the input (untrusted.ts). A refusal echoes the request's `id`
 * when it is a well-formed one, so the client can tell which of its publishes was refused.
 */
import { CLIENT_MESSAGE_ID_PATTERN, errorReply, publishRequestSchema, topicSchema, type ErrorReply } from '../../../protocol/messages';
import { parseClientFrame, type MessageEvent } from '../replies';
import { describeIssues } from '../untrusted';

export type PublishRequestResult = { ok: true; topic: string; data: unknown; id?: string } | { ok: false; reply: ErrorReply };

const topicSchemas = new Map<number, ReturnType<typeof topicSchema>>();

export function parsePublishRequest(event: MessageEvent, maxTopicLength: number): PublishRequestResult {
  const frame = parseClientFrame(event);
  if (!frame.ok) return frame;
  const parsed = publishRequestSchema.safeParse(frame.value);
  if (!parsed.success) return { ok: false, reply: errorReply('BAD_REQUEST', `malformed publish request: ${describeIssues(parsed.error)}`, undefined, wellFormedId(frame.value)) };
  const { topic, data, id } = parsed.data;
  let schema = topicSchemas.get(maxTopicLength);
  if (!schema) topicSchemas.set(maxTopicLength, (schema = topicSchema(maxTopicLength)));
  const check = schema.safeParse(topic);
  if (!check.success) {
    // Name the topic only when it is a short string (it is echoed back to the client).
    const named = topic.length <= maxTopicLength ? [topic] : undefined;
    return { ok: false, reply: errorReply('INVALID_TOPIC', `invalid topic name: ${check.error.issues.map((i) => i.message).join('; ')}`, named, id) };
  }
  return id === undefined ? { ok: true, topic, data } : { ok: true, topic, data, id };
}

/** The frame's `id` when it is a well-formed client id (safe to echo), else undefined. */
function wellFormedId(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' && CLIENT_MESSAGE_ID_PATTERN.test(id) ? id : undefined;
}
