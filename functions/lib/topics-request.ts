/**
 * What subscribe and unsubscribe share: decode the frame, check it against
 * `topicsRequestSchema`, de-duplicate the topics, and check every name and the count, before
 * anything is read or written (contract 4: all or nothing).
 */
import type { Context } from 'aws-lambda';
import { errorReply, topicSchema, topicsRequestSchema, type ErrorReply, type TopicsRequest } from '../../protocol/messages';
import type { EnvMap } from './config';
import { parseClientFrame, routeResponse, type MessageEvent, type RouteResponse } from './replies';
import { answerOrInternal, makeRuntime, type Runtime } from './runtime';
import type { Since } from './history/replay';
import { describeIssues, preview } from './untrusted';

/** A valid request: its distinct topics, and (subscribe) where to resume some of them from. */
export interface ValidTopicsRequest {
  topics: string[];
  since?: Record<string, Since>;
}

export type TopicsRequestResult = ({ ok: true } & ValidTopicsRequest) | { ok: false; reply: ErrorReply };

export function parseTopicsRequest(
  event: MessageEvent,
  action: TopicsRequest['action'],
  limits: { maxTopicLength: number; maxSubscriptionsPerConnection: number },
): TopicsRequestResult {
  const frame = parseClientFrame(event);
  if (!frame.ok) return frame;
  const parsed = topicsRequestSchema.safeParse(frame.value);
  if (!parsed.success) {
    return { ok: false, reply: errorReply('BAD_REQUEST', `malformed ${action} request: ${describeIssues(parsed.error)}`) };
  }
  if (parsed.data.action !== action) {
    return { ok: false, reply: errorReply('BAD_REQUEST', `this route handles "${action}", not "${parsed.data.action}"`) };
  }
  const topics = [...new Set(parsed.data.topics)];
  const since = parsed.data.since;
  if (since !== undefined) {
    if (action !== 'subscribe') return { ok: false, reply: errorReply('BAD_REQUEST', `"since" belongs to subscribe requests, not ${action}`) };
    const stray = Object.keys(since).filter((t) => !topics.includes(t));
    if (stray.length > 0) return { ok: false, reply: errorReply('BAD_REQUEST', `"since" names ${stray.length} topic(s) the request does not subscribe to (first: ${preview(stray[0])})`) };
  }

  const schema = topicSchema(limits.maxTopicLength);
  const invalid: string[] = [];
  const reasons = new Set<string>();
  for (const topic of topics) {
    const check = schema.safeParse(topic);
    if (!check.success) {
      invalid.push(topic);
      for (const issue of check.error.issues) reasons.add(issue.message);
    }
  }
  if (invalid.length > 0) {
    return { ok: false, reply: errorReply('INVALID_TOPIC', `invalid topic name(s): ${[...reasons].join('; ')}`, invalid) };
  }
  if (topics.length > limits.maxSubscriptionsPerConnection) {
    return {
      ok: false,
      reply: errorReply(
        'TOO_MANY_TOPICS',
        `a request names at most ${limits.maxSubscriptionsPerConnection} topics (a connection's subscription cap); this one names ${topics.length}`,
      ),
    };
  }
  return since === undefined ? { ok: true, topics } : { ok: true, topics, since };
}

/**
 * A subscribe/unsubscribe handler: decode and check the request, answer refusals at once, and
 * run `work` for a valid one (an unexpected failure there is answered with INTERNAL).
 */
export function makeTopicsRoute(
  env: EnvMap,
  action: TopicsRequest['action'],
  build: (runtime: Runtime) => (connectionId: string, request: ValidTopicsRequest, context: unknown) => Promise<RouteResponse>,
): (event: MessageEvent, context?: Context | unknown) => Promise<RouteResponse> {
  const runtime = makeRuntime(env, `realtime-${action}`);
  const work = build(runtime);
  return async (event, context) => {
    runtime.addContext(context);
    const { connectionId } = event.requestContext;
    const request = parseTopicsRequest(event, action, runtime.config);
    if (!request.ok) {
      runtime.logger.info(`${action} refused`, { connectionId, code: request.reply.code, reason: request.reply.message });
      return routeResponse(request.reply);
    }
    const valid: ValidTopicsRequest = request.since ? { topics: request.topics, since: request.since } : { topics: request.topics };
    // An INTERNAL answer names the request's topics, so a client can tell which request it answers.
    return answerOrInternal(runtime, { connectionId, topics: request.topics }, () => work(connectionId, valid, context), request.topics);
  };
}
