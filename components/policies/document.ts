/**
 * IAM policy documents as plain data. Every statement builder in this folder returns
 * `PolicyStatement`s; `policyDocument` resolves their Inputs and serialises them, so a test can
 * parse the exact JSON a role gets.
 */
import * as pulumi from '@pulumi/pulumi';

export type ConditionBlock = Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: pulumi.Input<string>[];
  Condition?: ConditionBlock;
}

/** Statements of a resource policy (queue policy, …) also name who they apply to. */
export interface ResourcePolicyStatement extends PolicyStatement {
  Principal: '*' | { Service: string } | { AWS: pulumi.Input<string> };
}

/** Our rules for any statement: it names resources, and never `*`. Throws naming the statement. */
export function checkStatement(s: { Sid?: string; Action: string[]; Resource: string[] }): void {
  const name = s.Sid ?? s.Action.join(',');
  // A statement with no resource would make AWS reject the whole policy at deploy time.
  if (s.Resource.length === 0) throw new Error(`IAM statement ${name} names no resource`);
  if (s.Resource.some((r) => r === '*')) throw new Error(`IAM statement ${name} uses "*" as a resource`);
}

export function policyDocument(statements: readonly pulumi.Input<PolicyStatement | ResourcePolicyStatement>[]): pulumi.Output<string> {
  return pulumi.output(statements).apply((resolved) => {
    resolved.forEach(checkStatement);
    return JSON.stringify({ Version: '2012-10-17', Statement: resolved });
  });
}

/** A role's trust policy: only this AWS service may assume it. */
export function assumeRolePolicyFor(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });
}

/** The identity of the account and region a stack deploys into, for building ARNs. */
export interface ArnContext {
  partition: pulumi.Input<string>;
  region: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  /** `amazonaws.com` (or `amazonaws.com.cn`, …): service endpoints are `<service>.<region>.<dnsSuffix>`. */
  dnsSuffix: pulumi.Input<string>;
}
