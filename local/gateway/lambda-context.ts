/** A Lambda-like `context` for handlers invoked locally. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export interface LambdaContextOptions {
  functionName: string;
  /** The function's timeout: getRemainingTimeInMillis counts down from it. */
  timeoutMs: number;
  region: string;
  accountId: string;
  memoryLimitInMB?: number;
}

function logStreamName(now: Date): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

/** One context per invocation, like Lambda: a fresh awsRequestId and deadline each time. */
export function lambdaContext(options: LambdaContextOptions): Context {
  const now = Date.now();
  const deadline = now + options.timeoutMs;
  const unsupported = (what: string) => () => {
    throw new Error(`context.${what}() is the callback-era API; return a promise instead`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 128),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: logStreamName(new Date(now)),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
