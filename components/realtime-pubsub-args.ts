/**
 * What a Pulumi program passes to RealtimePubSub: any of the stack settings (rules and defaults
 * in protocol/stack-settings.ts), where the settings that name another resource may be that
 * resource's output in the same program — an SNS topic's ARN for the alarms, an ACM certificate
 * and a Route 53 zone for the custom domain. Plain values are checked by the settings' rules;
 * outputs are known only at deployment and pass through as they are.
 */
import type * as pulumi from '@pulumi/pulumi';
import type { EventRule } from '../protocol/rules';
import { parseStackConfig, type StackConfig } from './config';

/** Settings that name a resource, and so may be given as an output. */
export const RESOURCE_REFERENCE_KEYS = ['alarmTopicArn', 'customDomainCertificateArn', 'customDomainZoneId'] as const;
export type ResourceReferenceKey = (typeof RESOURCE_REFERENCE_KEYS)[number];

/** Every setting is optional; defaults are CONFIG_DEFAULTS (protocol/stack-settings.ts). */
export type RealtimePubSubArgs = Omit<Partial<StackConfig>, ResourceReferenceKey | 'eventRules'> & {
  /** EventBridge rules forwarding domain events to the publish queue (`dataPath` optional, as in the stack file). */
  eventRules?: EventRule[];
  /** SNS topic notified when an alarm fires or clears. */
  alarmTopicArn?: pulumi.Input<string>;
  /** A regional ACM certificate for customDomainName, in the stack's region. */
  customDomainCertificateArn?: pulumi.Input<string>;
  /** When set, an alias record in this Route 53 zone points customDomainName at the API. */
  customDomainZoneId?: pulumi.Input<string>;
};

export interface ResolvedArgs {
  /** The settings with defaults applied; a reference given as an output reads '' here. */
  config: StackConfig;
  /** The references as given (plain or output); undefined when not set. */
  references: Partial<Record<ResourceReferenceKey, pulumi.Input<string>>>;
}

/** Stand-ins that pass the rules, for references whose value is known only at deployment. */
const PENDING: Record<ResourceReferenceKey, string> = {
  alarmTopicArn: 'arn:aws:sns:pending',
  customDomainCertificateArn: 'arn:aws:acm:pending',
  customDomainZoneId: 'ZPENDING',
};

/** Apply the defaults and rules; throws one error listing every bad setting. */
export function resolveArgs(args: RealtimePubSubArgs): ResolvedArgs {
  const raw: Record<string, unknown> = { ...args };
  const deferred = RESOURCE_REFERENCE_KEYS.filter((key) => args[key] !== undefined && typeof args[key] !== 'string');
  for (const key of deferred) raw[key] = PENDING[key];
  const config = parseStackConfig(raw);
  const references: ResolvedArgs['references'] = {};
  for (const key of RESOURCE_REFERENCE_KEYS) {
    if (deferred.includes(key)) {
      references[key] = args[key];
      config[key] = '';
    } else if (config[key] !== '') {
      references[key] = config[key];
    }
  }
  return { config, references };
}
