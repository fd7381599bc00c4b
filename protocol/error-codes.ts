/**
 * The error codes a client can see in `{"type":"error"}` replies; documented in docs/protocol.md.
 * Kept apart from the zod schemas (messages.ts) so the client SDK can import them without zod.
 */
export const ERROR_CODES = [
  'BAD_REQUEST', // not a JSON object, or a known action with a malformed body
  'INVALID_TOPIC', // a topic name outside the allowed characters or length
  'FORBIDDEN', // the principal may not use that topic
  'TOO_MANY_TOPICS', // the request would take the connection over its subscription cap
  'PAYLOAD_TOO_LARGE', // a message over the size limit
  'UNKNOWN_ACTION', // valid JSON with an action no route handles
  'RATE_LIMITED', // the connection sent more client publishes than its per-second allowance
  'INTERNAL', // our fault; safe to retry
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
