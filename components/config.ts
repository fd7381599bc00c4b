/**
 * Reading the stack's settings in the Pulumi program: every `realtime:*` key with the getter its
 * default's type calls for. The keys, defaults and rules live in protocol/stack-settings.ts,
 * shared with the local mode.
 */
import * as pulumi from '@pulumi/pulumi';
import { CONFIG_DEFAULTS, parseStackConfig, PROJECT, type ConfigKey, type StackConfig } from '../protocol/stack-settings';

export * from '../protocol/stack-settings';

/** Read every key with the getter its default's type calls for (Pulumi hands config over as strings). */
export function readStackConfig(config: pulumi.Config = new pulumi.Config(PROJECT)): StackConfig {
  const raw: Partial<Record<ConfigKey, unknown>> = {};
  // A misspelt key would otherwise be ignored silently and its default used.
  for (const key of Object.keys(pulumi.runtime.allConfig())) {
    const [namespace, name] = key.split(':');
    if (namespace === PROJECT && name !== undefined && !(name in CONFIG_DEFAULTS)) (raw as Record<string, unknown>)[name] = true;
  }
  for (const [key, fallback] of Object.entries(CONFIG_DEFAULTS) as [ConfigKey, unknown][]) {
    if (typeof fallback === 'number') raw[key] = config.getNumber(key);
    else if (typeof fallback === 'boolean') raw[key] = config.getBoolean(key);
    else if (Array.isArray(fallback)) raw[key] = config.getObject(key);
    else raw[key] = config.get(key);
  }
  return parseStackConfig(raw);
}
