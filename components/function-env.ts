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
  history: { tableName: pulumi.Input<string>; retentionSeconds: number; maxMessages: number };
  delivery: { queueUrl: pulumi.Input<string>; dlqUrl: pulumi.Input<string>; sliceThreshold: number; sliceSize: number; maxAttempts: number; rateBudget: number; sliceBudgetPercent: number };
  auth?: { keySource: AuthKeySource; issuer?: string; audience?: string };
  /** The publish queue: the relay sends client publishes to it, and presence announcements go on it. */
  publishQueueUrl: pulumi.Input<string>;
  clientPublishPerSecond: number;
  /** Presence topics; absent (or no patterns): no presence, and no presence variables anywhere. */
  presence?: { topics: readonly string[]; maxListed: number };
}

/** Handlers that join or leave presence topics (subscribe, unsubscribe, $disconnect, and 410 cleanup in the posting functions). */
export const PRESENCE_HANDLERS: readonly HandlerName[] = ['subscribe', 'unsubscribe', 'disconnect', 'publish', 'deliver'];

/** Is presence on for these settings? */
export function presenceOn(s: Pick<EnvironmentSettings, 'presence'>): boolean {
  return (s.presence?.topics.length ?? 0) > 0;
}

type Env = Record<string, pulumi.Input<string>>;

export function environmentFor(handler: HandlerName, s: EnvironmentSettings): Env {
  const env = baseEnvironmentFor(handler, s);
  if (!presenceOn(s) || !PRESENCE_HANDLERS.includes(handler)) return env;
  return {
    ...env,
    [ENV.publishQueueUrl]: s.publishQueueUrl,
    [ENV.presenceTopics]: JSON.stringify(s.presence!.topics),
    [ENV.presenceMaxListed]: String(s.presence!.maxListed),
  };
}

function baseEnvironmentFor(handler: HandlerName, s: EnvironmentSettings): Env {
  const table: Env = { [ENV.tableName]: s.tableName };
  const posting: Env = {
    [ENV.managementEndpoint]: s.managementEndpoint,
    [ENV.publishConcurrency]: String(s.publishConcurrency),
    [ENV.postConnectTimeoutMs]: String(s.postConnectTimeoutMs),
    [ENV.postRequestTimeoutMs]: String(s.postRequestTimeoutMs),
    [ENV.postMaxAttempts]: String(s.postMaxAttempts),
  };
  const history: Env = {
    [ENV.historyTableName]: s.history.tableName,
    [ENV.historyRetentionSeconds]: String(s.history.retentionSeconds),
    [ENV.historyMaxMessages]: String(s.history.maxMessages),
  };
  const jobs: Env = {
    [ENV.deliveryQueueUrl]: s.delivery.queueUrl,
    [ENV.deliveryDlqUrl]: s.delivery.dlqUrl,
    [ENV.sliceSize]: String(s.delivery.sliceSize),
    [ENV.deliveryMaxAttempts]: String(s.delivery.maxAttempts),
    [ENV.rateBudget]: String(s.delivery.rateBudget),
    [ENV.sliceBudgetPercent]: String(s.delivery.sliceBudgetPercent),
  };
  switch (handler) {
    case 'connect':
    case 'disconnect':
      return table;
    case 'subscribe':
      // With history: positions in the reply, and replays posted to the subscriber.
      return {
        ...table,
        ...history,
        ...posting,
        [ENV.maxSubscriptionsPerConnection]: String(s.maxSubscriptionsPerConnection),
        [ENV.maxTopicLength]: String(s.maxTopicLength),
      };
    case 'unsubscribe':
      return { ...table, [ENV.maxTopicLength]: String(s.maxTopicLength) };
    case 'default':
      return {};
    case 'relay':
      return {
        ...table,
        [ENV.publishQueueUrl]: s.publishQueueUrl,
        [ENV.clientPublishPerSecond]: String(s.clientPublishPerSecond),
        [ENV.maxTopicLength]: String(s.maxTopicLength),
        [ENV.maxPublishBytes]: String(s.maxPublishBytes),
        [ENV.maxSubscriptionsPerConnection]: String(s.maxSubscriptionsPerConnection),
      };
    case 'publish':
      return {
        ...table,
        ...posting,
        ...history,
        ...jobs,
        [ENV.sliceThreshold]: String(s.delivery.sliceThreshold),
        // An envelope names at most as many topics as a connection may subscribe to.
        [ENV.maxSubscriptionsPerConnection]: String(s.maxSubscriptionsPerConnection),
        [ENV.maxTopicLength]: String(s.maxTopicLength),
        [ENV.maxPublishBytes]: String(s.maxPublishBytes),
      };
    case 'deliver':
      return { ...table, ...posting, ...jobs };
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
