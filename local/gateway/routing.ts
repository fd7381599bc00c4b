/** Route selection (`$request.body.action`) and the frames API Gateway itself sends. */

/**
 * The route key a text message selects: the string `action` of a JSON object body, when a route
 * (Lambda or mock) has that key; `$default` otherwise (non-JSON, no action, unknown action).
 * Reserved `$` keys are never selected by a message.
 */
export function selectRouteKey(body: string, hasRoute: (key: string) => boolean): string {
  // Cheap pre-check: only a JSON object can carry an action.
  if (body.length === 0 || body.charCodeAt(skipSpace(body)) !== 0x7b /* { */) return '$default';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return '$default';
  }
  const action = (parsed as { action?: unknown } | null)?.action;
  if (typeof action !== 'string' || action.startsWith('$') || !hasRoute(action)) return '$default';
  return action;
}

function skipSpace(s: string): number {
  let i = 0;
  while (i < s.length && /\s/.test(s[i])) i++;
  return i;
}

/** API Gateway's own error frame, byte for byte (note the spacing): `{"message": "…", "connectionId":"…", "requestId":"…"}`. */
export function gatewayErrorFrame(message: string, connectionId: string, requestId: string): string {
  return `{"message": ${JSON.stringify(message)}, "connectionId":${JSON.stringify(connectionId)}, "requestId":${JSON.stringify(requestId)}}`;
}

/** Sent when no route matches and there is no $default route. */
export const NO_ROUTE_MESSAGE = 'Forbidden';
/** Sent when the route's handler throws. */
export const HANDLER_FAILED_MESSAGE = 'Internal server error';
