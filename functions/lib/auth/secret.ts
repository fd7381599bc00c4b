/**
 * The HS256 signing secret, from SSM Parameter Store or Secrets Manager. It is read once per
 * container: concurrent cold invocations share one in-flight read, a successful read is kept for
 * the container's life, and a failed read is not kept (the next invocation tries again).
 * Rotating the secret therefore takes effect on new containers (redeploy, or wait them out).
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export type Env = Record<string, string | undefined>;

/** An authorizer must answer fast: don't let a hung SDK call eat the connect. */
const SDK_CONNECTION_TIMEOUT_MS = 1000;
const SDK_REQUEST_TIMEOUT_MS = 3000;

/** Memoises an async load; shares the in-flight promise; forgets failures. */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

function clientConfig(env: Env, endpointVariable: string) {
  const endpoint = env[endpointVariable] ?? env.AWS_ENDPOINT_URL;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  return {
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(endpoint ? { endpoint } : {}),
    // Explicit credentials when the env map carries them (local mode); else the default chain.
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: SDK_CONNECTION_TIMEOUT_MS, requestTimeout: SDK_REQUEST_TIMEOUT_MS }),
  };
}

/** Reads a SecureString (or String) parameter, decrypted. */
export function ssmSecretReader(env: Env, parameterName: string): () => Promise<string> {
  const client = new SSMClient(clientConfig(env, 'AWS_ENDPOINT_URL_SSM'));
  return async () => {
    const out = await client.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }));
    const value = out.Parameter?.Value;
    if (!value) throw new Error(`SSM parameter ${parameterName} has no value`);
    return value;
  };
}

/** Reads a Secrets Manager secret stored as plain text (SecretString) or bytes (SecretBinary). */
export function secretsManagerSecretReader(env: Env, secretId: string): () => Promise<string> {
  const client = new SecretsManagerClient(clientConfig(env, 'AWS_ENDPOINT_URL_SECRETS_MANAGER'));
  return async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const value = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
    if (!value) throw new Error(`secret ${secretId} has no value`);
    return value;
  };
}
