/**
 * The environment of each function: only the variables (names from protocol/env.ts) that its
 * handler reads, so a setting change redeploys only the functions it concerns.
 */
import * as pulumi from '@pulumi/pulumi';
import { ENV } from '../protocol/env';
import type { HandlerName } from '../protocol/routes';
import type { AuthKeySource } from './policies/auth-secret';

export interface EnvironmentSettings {
  tableName: pulumi.Input<string>;
  managementEndpoint: pulumi.Input<string>;
  publishConcurrency: number;
  maxSubscriptionsPerConnection: number;
  maxTopicLength: number;
  maxPublishBytes: number;
  postConnectTimeoutMs: number;
  postRequestTimeoutMs: number;
  postMaxAttempts: number;
  auth?: { keySource: AuthKeySource; issuer?: string; audience?: string };
}

type Env = Record<string, pulumi.Input<string>>;

export function environmentFor(handler: HandlerName, s: EnvironmentSettings): Env {
  const table: Env = { [ENV.tableName]: s.tableName };
  switch (handler) {
    case 'connect':
    case 'disconnect':
      return table;
    case 'subscribe':
      return {
        ...table,
        [ENV.maxSubscriptionsPerConnection]: String(s.maxSubscriptionsPerConnection),
        [ENV.maxTopicLength]: String(s.maxTopicLength),
      };
    case 'unsubscribe':
      return { ...table, [ENV.maxTopicLength]: String(s.maxTopicLength) };
    case 'default':
      return {};
    case 'publish':
      return {
        ...table,
        [ENV.managementEndpoint]: s.managementEndpoint,
        [ENV.publishConcurrency]: String(s.publishConcurrency),
        // An envelope names at most as many topics as a connection may subscribe to.
        [ENV.maxSubscriptionsPerConnection]: String(s.maxSubscriptionsPerConnection),
        [ENV.maxTopicLength]: String(s.maxTopicLength),
        [ENV.maxPublishBytes]: String(s.maxPublishBytes),
        [ENV.postConnectTimeoutMs]: String(s.postConnectTimeoutMs),
        [ENV.postRequestTimeoutMs]: String(s.postRequestTimeoutMs),
        [ENV.postMaxAttempts]: String(s.postMaxAttempts),
      };
    case 'authorizer':
      return authorizerEnvironment(s.auth);
  }
}

function authorizerEnvironment(auth: EnvironmentSettings['auth']): Env {
  if (!auth) throw new Error('the authorizer needs auth settings (a key source)');
  const env: Env = {};
  const source = auth.keySource;
  if (source.kind === 'ssm-parameter') env[ENV.authSecretParameter] = source.name;
  else if (source.kind === 'secrets-manager') env[ENV.authSecretArn] = source.secretArn;
  else env[ENV.authJwksUrl] = source.url;
  if (auth.issuer) env[ENV.authIssuer] = auth.issuer;
  if (auth.audience) env[ENV.authAudience] = auth.audience;
  return env;
}
