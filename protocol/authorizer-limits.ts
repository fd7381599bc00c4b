/**
 * The size limit on a Lambda authorizer's answer, shared by the authorizer (which must stay under
 * it) and the local gateway (which enforces it as API Gateway does).
 *
 * API Gateway's WebSocket quotas list "AWS Lambda authorizer result size: 8 KB", not raisable
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html).
 * An Allow over it still fails the handshake, with a 500, after the authorizer said yes.
 */

/** API Gateway's limit on the authorizer result (the policy, principalId and context), in bytes. */
export const AUTHORIZER_RESULT_LIMIT_BYTES = 8 * 1024;

/**
 * The most our authorizer answers with. AWS does not say exactly how it counts the result, so
 * we keep 512 bytes of margin below the limit rather than answer an Allow that may fail.
 */
export const AUTHORIZER_RESULT_SAFE_BYTES = 7680;

/** The size of an authorizer result as serialised JSON, in UTF-8 bytes. */
export function authorizerResultBytes(result: unknown): number {
  return new TextEncoder().encode(JSON.stringify(result) ?? '').length;
}
