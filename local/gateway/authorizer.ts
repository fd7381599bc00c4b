/**
 * The $connect REQUEST authorizer, judged as API Gateway judges it: a thrown "Unauthorized" is
 * 401, an explicit Deny (or no Allow) for the method ARN is 403, anything malformed or over the
 * 8 KB authorizer result quota is 500. The policy's context (strings, numbers, booleans only)
 * reaches every later event of the connection as `requestContext.authorizer = { principalId,
 * ...context }`, values as strings.
 */
import { AUTHORIZER_RESULT_LIMIT_BYTES, authorizerResultBytes } from '../../protocol/authorizer-limits';

export type AuthorizerVerdict =
  | { allowed: true; authorizer: Record<string, string> }
  | { allowed: false; status: 401 | 403 | 500; message: string; problem?: string };

interface Statement {
  Effect?: unknown;
  Action?: unknown;
  Resource?: unknown;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** IAM-style wildcards: `*` any run of characters, `?` exactly one. */
function globMatches(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(value);
}

function statementApplies(s: Statement, methodArn: string): boolean {
  const actions = asList(s.Action).filter((a): a is string => typeof a === 'string');
  const resources = asList(s.Resource).filter((r): r is string => typeof r === 'string');
  const actionOk = actions.some((a) => globMatches(a.toLowerCase(), 'execute-api:invoke'));
  return actionOk && resources.some((r) => globMatches(r, methodArn));
}

const serverError = (problem: string): AuthorizerVerdict => ({ allowed: false, status: 500, message: 'Internal server error', problem });

/** Judges what the authorizer returned (or threw) for `methodArn`. */
export function judgeAuthorizerResult(outcome: { result?: unknown; error?: unknown }, methodArn: string): AuthorizerVerdict {
  if (outcome.error !== undefined) {
    const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    if (message === 'Unauthorized') return { allowed: false, status: 401, message: 'Unauthorized' };
    return serverError(`authorizer threw: ${message}`);
  }
  const result = outcome.result as { principalId?: unknown; policyDocument?: { Statement?: unknown }; context?: unknown } | undefined;
  if (!result || typeof result !== 'object') return serverError('authorizer returned no policy');
  // WebSocket quota "Lambda authorizer result size: 8 KB", not raisable: even an Allow over it is a 500.
  const bytes = authorizerResultBytes(result);
  if (bytes > AUTHORIZER_RESULT_LIMIT_BYTES) {
    return serverError(`authorizer result is ${bytes} bytes; API Gateway accepts at most ${AUTHORIZER_RESULT_LIMIT_BYTES} (8 KB)`);
  }
  if (typeof result.principalId !== 'string') return serverError('authorizer policy has no string principalId');
  const statements = asList(result.policyDocument?.Statement) as Statement[];
  if (statements.length === 0) return serverError('authorizer policy has no policyDocument.Statement');

  const applying = statements.filter((s) => s && typeof s === 'object' && statementApplies(s, methodArn));
  const effect = (s: Statement) => String(s.Effect).toLowerCase();
  if (applying.some((s) => effect(s) === 'deny') || !applying.some((s) => effect(s) === 'allow')) {
    return { allowed: false, status: 403, message: 'Forbidden' };
  }

  const authorizer: Record<string, string> = { principalId: result.principalId };
  if (result.context !== undefined && result.context !== null) {
    if (typeof result.context !== 'object' || Array.isArray(result.context)) return serverError('authorizer context is not an object');
    for (const [key, value] of Object.entries(result.context)) {
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        return serverError(`authorizer context value "${key}" is a ${Array.isArray(value) ? 'array' : typeof value}; API Gateway accepts only strings, numbers and booleans`);
      }
      authorizer[key] = String(value);
    }
  }
  return { allowed: true, authorizer };
}
