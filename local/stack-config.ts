/**
 * The local mode is configured like the deployed stack: it reads every `realtime:*` setting of a
 * Pulumi stack file (`--stack FILE`, default Pulumi.dev.yaml), checks them with the same rules
 * and defaults as the Pulumi program (protocol/stack-settings.ts), and applies each one that has
 * a meaning locally — so a setting tried locally is the setting deployed. `--rules FILE.json`
 * can still replace the EventBridge rules alone.
 *
 * Applied locally: the handlers' limits and timeouts (publishConcurrency, maxSubscriptionsPerConnection,
 * maxTopicLength, maxPublishBytes, postConnectTimeoutMs, postRequestTimeoutMs, postMaxAttempts),
 * the delivery settings (rateBudget, sliceThreshold, sliceSize, deliveryMaxAttempts,
 * deliveryBatchSize, deliveryMaximumConcurrency), history (historyRetentionSeconds,
 * historyMaxMessages), presence and client publish (presenceTopics, presenceMaxListed,
 * clientPublishPerSecond), the queue and its event source mapping (batchSize,
 * maxBatchingWindowSeconds, maximumConcurrency, maxReceiveCount, and publishTimeoutSeconds,
 * from which the visibility timeout follows as deployed), routeTimeoutSeconds, eventRules and
 * eventBusName. The rest describe AWS resources the local mode does not have (stage name, log
 * retention and levels, throttling, memory sizes, alarms, custom domain, the auth key source:
 * locally `--auth-secret` turns auth on).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ENV } from '../protocol/env';
import type { EventRule } from '../protocol/rules';
import { CONFIG_DEFAULTS, parseStackConfig, PROJECT, type ConfigKey, type StackConfig } from '../protocol/stack-settings';

export { PROJECT };
export const DEFAULT_STACK_FILE = 'Pulumi.dev.yaml';

export interface RulesSource {
  eventRules: EventRule[];
  eventBusName?: string;
  /** Where they came from, for the banner. */
  from: string;
}

export interface StackSource {
  /** The settings with the defaults applied (all defaults when the file does not exist). */
  config: StackConfig;
  /** Where they came from, for the banner. */
  from: string;
  /** Keys the file sets. */
  set: ConfigKey[];
}

/**
 * Every `realtime:*` setting of a stack file, checked. Pulumi keeps values as YAML, or as strings
 * when set with `pulumi config set` ("25", "true", a JSON array): each is read as its default's
 * type calls for, as the Pulumi program does.
 */
export function readStackSettings(file: string = DEFAULT_STACK_FILE): StackSource {
  if (!existsSync(file)) return { config: parseStackConfig({}), from: `${file} (not found: defaults)`, set: [] };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const raw: Partial<Record<ConfigKey, unknown>> = {};
  for (const [key, value] of Object.entries(config)) {
    const [namespace, name] = key.split(':');
    if (namespace !== PROJECT || name === undefined) continue;
    raw[name as ConfigKey] = typed(name, value, `${key} in ${file}`);
  }
  try {
    return { config: parseStackConfig(raw), from: file, set: Object.keys(raw) as ConfigKey[] };
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** A value as its default's type calls for; anything unreadable is left for the schema to name. */
function typed(name: string, value: unknown, what: string): unknown {
  const fallback = (CONFIG_DEFAULTS as Record<string, unknown>)[name];
  if (typeof value !== 'string') return value;
  if (typeof fallback === 'number') return /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  if (typeof fallback === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  if (Array.isArray(fallback)) {
    try {
      return JSON.parse(value);
    } catch (err) {
      throw new Error(`${what} is a string that is not JSON: ${(err as Error).message}`);
    }
  }
  return value;
}

/** The handlers' environment variables a stack's settings make. */
export function handlerEnvFromStack(c: StackConfig): Record<string, string> {
  return {
    [ENV.publishConcurrency]: String(c.publishConcurrency),
    [ENV.maxSubscriptionsPerConnection]: String(c.maxSubscriptionsPerConnection),
    [ENV.maxTopicLength]: String(c.maxTopicLength),
    [ENV.maxPublishBytes]: String(c.maxPublishBytes),
    [ENV.postConnectTimeoutMs]: String(c.postConnectTimeoutMs),
    [ENV.postRequestTimeoutMs]: String(c.postRequestTimeoutMs),
    [ENV.postMaxAttempts]: String(c.postMaxAttempts),
    [ENV.rateBudget]: String(c.rateBudget),
    [ENV.sliceBudgetPercent]: String(c.sliceBudgetPercent),
    [ENV.sliceThreshold]: String(c.sliceThreshold),
    [ENV.sliceSize]: String(c.sliceSize),
    [ENV.deliveryMaxAttempts]: String(c.deliveryMaxAttempts),
    [ENV.historyRetentionSeconds]: String(c.historyRetentionSeconds),
    [ENV.historyMaxMessages]: String(c.historyMaxMessages),
    [ENV.presenceTopics]: JSON.stringify(c.presenceTopics),
    [ENV.presenceMaxListed]: String(c.presenceMaxListed),
    [ENV.clientPublishPerSecond]: String(c.clientPublishPerSecond),
  };
}

/** A JSON file holding an array of rules (`--rules FILE.json`). */
export function readRulesFile(file: string): RulesSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the rules file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let rules: unknown;
  try {
    rules = JSON.parse(text);
  } catch (err) {
    throw new Error(`the rules file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rules)) throw new Error(`the rules file ${file} must hold a JSON array of rules ({"name", "eventPattern", "topic", "dataPath"?})`);
  return { eventRules: rules as EventRule[], from: file };
}

/**
 * Local mode's request timeout for management API calls, unless the stack file sets one. The
 * local gateway shares its process with every function environment, and on loopback a burst of
 * new connections made in that process sees a few percent of its handshakes stall 1-3 s (kernel
 * SYN-ACK retransmits; measured: 13-108 of ~650 connections in a 200 x 200 run) after the
 * client already wrote its request. The stack's 3 s then cuts posts the gateway goes on to
 * deliver, and the retry is a duplicate frame. 10 s outlasts the 1 s + 2 s + 4 s retransmits;
 * API Gateway shows no such stalls, so the deployed stack keeps its own default.
 */
export const LOCAL_POST_REQUEST_TIMEOUT_MS = 10_000;

/** Handler variables local mode sets where the stack file is silent (see LOCAL_POST_REQUEST_TIMEOUT_MS). */
export function localEnvDefaults(stack: StackSource): Record<string, string> {
  return stack.set.includes('postRequestTimeoutMs') ? {} : { [ENV.postRequestTimeoutMs]: String(LOCAL_POST_REQUEST_TIMEOUT_MS) };
}
