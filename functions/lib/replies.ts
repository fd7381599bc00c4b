/** Route responses of the two-way routes: the reply object travels back as the body. */
import { MAX_MESSAGE_BYTES } from '../../protocol/limits';
import { errorReply, type ErrorReply, type PublishedReply, type SubscribedReply, type UnsubscribedReply } from '../../protocol/messages';
import { describeJsonError } from './untrusted';

export interface RouteResponse {
  statusCode: number;
  body: string;
}

export function routeResponse(reply: SubscribedReply | UnsubscribedReply | PublishedReply | ErrorReply): RouteResponse {
  return { statusCode: 200, body: JSON.stringify(reply) };
}

/** The message event fields the two-way handlers read. */
export interface MessageEvent {
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext: { connectionId: string; routeKey?: string; messageId?: string };
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; reply: ErrorReply };

/**
 * Decode a client frame. Anything that is not a JSON text frame within API Gateway's message
 * size is refused with the code the client should see.
 */
export function parseClientFrame(event: MessageEvent): ParsedBody {
  const body = event.body;
  if (event.isBase64Encoded) return { ok: false, reply: errorReply('BAD_REQUEST', 'binary frames are not supported; send JSON text') };
  if (typeof body !== 'string' || body.trim() === '') return { ok: false, reply: errorReply('BAD_REQUEST', 'the message is empty; send a JSON object') };
  if (Buffer.byteLength(body, 'utf8') > MAX_MESSAGE_BYTES) {
    return { ok: false, reply: errorReply('PAYLOAD_TOO_LARGE', `messages are at most ${MAX_MESSAGE_BYTES} bytes`) };
  }
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    // V8's parse errors quote the input: say where it failed, not what it said.
    return { ok: false, reply: errorReply('BAD_REQUEST', `the message is ${describeJsonError(error)}`) };
  }
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
