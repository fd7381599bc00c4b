/**
 * A client publish, `{"action":"publish","topic":"chat/1","data":…,"id":"optional"}`, checked
 * before anything is read or written: the frame, its fields, the topic name. The reason names
 * what is wrong without quoting the input (untrusted.ts).
 */
import { errorReply, publishRequestSchema, topicSchema, type ErrorReply } from '../../../protocol/messages';
import { parseClientFrame, type MessageEvent } from '../replies';
import { describeIssues } from '../untrusted';

export type PublishRequestResult = { ok: true; topic: string; data: unknown; id?: string } | { ok: false; reply: ErrorReply };

const topicSchemas = new Map<number, ReturnType<typeof topicSchema>>();

export function parsePublishRequest(event: MessageEvent, maxTopicLength: number): PublishRequestResult {
  const frame = parseClientFrame(event);
  if (!frame.ok) return frame;
  const parsed = publishRequestSchema.safeParse(frame.value);
  if (!parsed.success) return { ok: false, reply: errorReply('BAD_REQUEST', `malformed publish request: ${describeIssues(parsed.error)}`) };
  const { topic, data, id } = parsed.data;
  let schema = topicSchemas.get(maxTopicLength);
  if (!schema) topicSchemas.set(maxTopicLength, (schema = topicSchema(maxTopicLength)));
  const check = schema.safeParse(topic);
  if (!check.success) {
    const reply = errorReply('INVALID_TOPIC', `invalid topic name: ${check.error.issues.map((i) => i.message).join('; ')}`);
    // Name the topic only when it is a short string (it is echoed back to the client).
    return { ok: false, reply: topic.length <= maxTopicLength ? { ...reply, topics: [topic] } : reply };
  }
  return id === undefined ? { ok: true, topic, data } : { ok: true, topic, data, id };
}
