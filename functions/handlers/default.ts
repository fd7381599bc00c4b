/**
 * $default: every message no route matched. API Gateway routes by `$request.body.action`, so
 * this sees non-JSON frames and JSON whose action is missing, unknown or not a string. (A
 * malformed body with a known action goes to that action's route, which answers BAD_REQUEST
 * itself.) The reply never repeats more than a short prefix of what the client sent.
 */
import type { Context } from 'aws-lambda';
import { errorReply } from '../../protocol/messages';
import { LAMBDA_ROUTES, MOCK_ROUTES } from '../../protocol/routes';
import { type EnvMap, loadConfig } from '../lib/config';
import { lambdaEntry } from '../lib/lazy-handler';
import { isJsonObject, parseClientFrame, routeResponse, type MessageEvent, type RouteResponse } from '../lib/replies';
import { makeTelemetry } from '../lib/telemetry';
import { jsonKind, preview } from '../lib/untrusted';

/** Actions a client may send: every route key that is not one of API Gateway's `$` routes. */
export const KNOWN_ACTIONS = [...LAMBDA_ROUTES, ...MOCK_ROUTES].map((r) => r.routeKey).filter((k) => !k.startsWith('$'));

export function makeHandler(env: EnvMap): (event: MessageEvent, context?: Context | unknown) => Promise<RouteResponse> {
  const telemetry = makeTelemetry(loadConfig(env, 'realtime-default'));
  const { logger } = telemetry;

  return async (event, context) => {
    telemetry.addContext(context);
    const { connectionId } = event.requestContext;
    const frame = parseClientFrame(event);
    let reply;
    if (!frame.ok) reply = frame.reply;
    else if (!isJsonObject(frame.value)) reply = errorReply('BAD_REQUEST', 'messages are JSON objects with an "action" field');
    else {
      const action = frame.value.action;
      const known = KNOWN_ACTIONS.join(', ');
      // Never JSON.stringify the action: a client can nest it thousands of levels deep.
      if (action === undefined) reply = errorReply('UNKNOWN_ACTION', `the message has no "action"; known actions: ${known}`);
      else if (typeof action !== 'string') reply = errorReply('BAD_REQUEST', `"action" must be a string, not ${jsonKind(action)}; known actions: ${known}`);
      else reply = errorReply('UNKNOWN_ACTION', `unknown action ${preview(action)}; known actions: ${known}`);
    }
    logger.info('message refused', { connectionId, code: reply.code, reason: reply.message });
    return routeResponse(reply);
  };
}

export const handler = lambdaEntry(() => makeHandler(process.env));
