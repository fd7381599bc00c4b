/**
 * relay (route `publish`): a client publishes into a topic from its socket.
 *   {"action":"publish","topic":"chat/1","data":…,"id":"optional"} → {"type":"published","topic":"chat/1","id":"…"}
 *
 * Steps: check the frame (relay/request.ts); take a slot of the connection's per-second
 * allowance, which also reads the connection's principal and `publish` patterns (relay/rate-limit.ts);
 * check the topic against those patterns (no auth, or no `publish` claim: FORBIDDEN); put the
 * envelope, with the publisher's principal as `from` and an id namespaced per principal
 * (relay/message-id.ts), on the publish queue — the path backends' messages take, with its
 * retries, DLQ, sequencing and history. The reply comes once SQS accepted the message: delivery
 * then is the publish function's, at least once. Every refusal names the request's `id` (when it
 * carried one), so a client with several publishes in flight on a topic can tell them apart.
 */
import type { Context } from 'aws-lambda';
import { topicAllowed } from '../../protocol/auth';
import type { PublishEnvelope } from '../../protocol/envelope';
import { errorReply } from '../../protocol/messages';
import type { EnvMap } from '../lib/config';
import { lambdaEntry } from '../lib/lazy-handler';
import { prepareMessage } from '../lib/publish-input';
import { makePublishQueue, type PublishQueue } from '../lib/publish-queue';
import { clientMessageId } from '../lib/relay/message-id';
import { PublishRateLimit } from '../lib/relay/rate-limit';
import { parsePublishRequest } from '../lib/relay/request';
import { routeResponse, type MessageEvent, type RouteResponse } from '../lib/replies';
import { answerOrInternal, makeRuntime } from '../lib/runtime';

/** Test seams; production uses the defaults. */
export interface RelayHandlerOptions {
  /** Where accepted publishes go (default: the publish queue of PUBLISH_QUEUE_URL). */
  queue?: PublishQueue;
  now?: () => number;
}

export function makeHandler(env: EnvMap, options: RelayHandlerOptions = {}): (event: MessageEvent, context?: Context | unknown) => Promise<RouteResponse> {
  const runtime = makeRuntime(env, 'realtime-relay');
  const { ddb, tableName, logger, config } = runtime;
  const queue = options.queue ?? makePublishQueue(config);
  const limit = new PublishRateLimit(ddb, tableName, config.clientPublishPerSecond, options.now);

  return async (event, context) => {
    runtime.addContext(context);
    const { connectionId } = event.requestContext;
    const request = parsePublishRequest(event, config.maxTopicLength);
    if (!request.ok) {
      logger.info('publish refused', { connectionId, code: request.reply.code, reason: request.reply.message });
      return routeResponse(request.reply);
    }
    const { topic } = request;
    const refuse = (reply: ReturnType<typeof errorReply>, extra: Record<string, unknown> = {}) => {
      logger.info('publish refused', { connectionId, topic, code: reply.code, reason: reply.message, ...extra });
      return routeResponse(request.id === undefined ? reply : { ...reply, id: request.id });
    };
    return answerOrInternal(
      runtime,
      { connectionId, topic },
      async () => {
        const slot = await limit.take(connectionId);
        if (slot.kind === 'unknown') return refuse(errorReply('INTERNAL', 'this connection is not registered (its $connect record is missing); reconnect'));
        if (slot.kind === 'limited') {
          return refuse(errorReply('RATE_LIMITED', `a connection may publish at most ${config.clientPublishPerSecond} messages per second; wait and send again`, [topic]));
        }
        const { principal, allowedTopics, publishTopics } = slot.connection;
        if (allowedTopics === undefined || !principal) {
          return refuse(errorReply('FORBIDDEN', 'client publish needs an authenticated connection (a token with a "publish" claim); auth is off', [topic]));
        }
        if (!topicAllowed(publishTopics ?? [], topic, principal)) {
          return refuse(errorReply('FORBIDDEN', `the token's "publish" claim does not allow this topic`, [topic]), { principal });
        }
        const id = clientMessageId(principal, request.id);
        const envelope: PublishEnvelope = { topic, data: request.data, id, from: principal };
        // The publish function's own checks (size as delivered, nesting), answered now rather than dropped later.
        const prepared = prepareMessage({ payload: envelope, fallbackId: id }, config);
        if (!prepared.ok) {
          return refuse(errorReply(prepared.tooLarge ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', prepared.reason, [topic]));
        }
        await queue.send(envelope);
        logger.info('client publish queued', { connectionId, principal, topic, messageId: id });
        return routeResponse({ type: 'published', topic, id });
      },
      [topic],
      request.id,
    );
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
