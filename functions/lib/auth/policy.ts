/** The IAM policies a REQUEST authorizer answers with (contract 3 of the design). */
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { AUTH_CONTEXT } from '../../../protocol/auth';
import type { VerifiedPrincipal } from './verify';

function policy(effect: 'Allow' | 'Deny', resource: string) {
  return {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
  };
}

/** Allow this $connect; the context reaches the handlers as `event.requestContext.authorizer`. */
export function allowPolicy(methodArn: string, who: VerifiedPrincipal): APIGatewayAuthorizerResult {
  return {
    principalId: who.principal,
    policyDocument: policy('Allow', methodArn),
    // Context values must be strings, numbers or booleans: the patterns travel as a JSON string.
    context: {
      [AUTH_CONTEXT.principal]: who.principal,
      [AUTH_CONTEXT.topics]: JSON.stringify(who.topics),
      ...(who.publish ? { [AUTH_CONTEXT.publish]: JSON.stringify(who.publish) } : {}),
      ...(who.presence !== undefined ? { [AUTH_CONTEXT.presence]: who.presence } : {}),
    },
  };
}

/** Deny this $connect: API Gateway answers 403 Forbidden. */
export function denyPolicy(methodArn: string, principalId: string): APIGatewayAuthorizerResult {
  return { principalId, policyDocument: policy('Deny', methodArn) };
}
