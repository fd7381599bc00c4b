/**
 * The authorizer reads exactly one signing secret: one SSM parameter (GetParameter, decrypted) or
 * one Secrets Manager secret. kms:Decrypt is added only for a customer-managed key: the AWS
 * managed keys (aws/ssm, aws/secretsmanager) grant their service's callers through the key policy.
 * A JWKS URL needs no IAM at all (it is fetched over HTTPS).
 */
import * as pulumi from '@pulumi/pulumi';
import type { ArnContext, PolicyStatement } from './document';

export type AuthKeySource =
  | { kind: 'ssm-parameter'; name: string; kmsKeyArn?: string }
  | { kind: 'secrets-manager'; secretArn: string; kmsKeyArn?: string }
  | { kind: 'jwks'; url: string };

/** `/realtime/jwt` → `arn:…:parameter/realtime/jwt`; `jwt` → `arn:…:parameter/jwt`. */
export function ssmParameterArn(arn: ArnContext, name: string): pulumi.Output<string> {
  const path = name.startsWith('/') ? name.slice(1) : name;
  return pulumi.interpolate`arn:${arn.partition}:ssm:${arn.region}:${arn.accountId}:parameter/${path}`;
}

export function authSecretStatements(arn: ArnContext, source: AuthKeySource): PolicyStatement[] {
  if (source.kind === 'jwks') return [];
  const statements: PolicyStatement[] =
    source.kind === 'ssm-parameter'
      ? [{ Sid: 'ReadSigningSecret', Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [ssmParameterArn(arn, source.name)] }]
      : [{ Sid: 'ReadSigningSecret', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [source.secretArn] }];
  if (source.kmsKeyArn) {
    const service = source.kind === 'ssm-parameter' ? 'ssm' : 'secretsmanager';
    statements.push({
      Sid: 'DecryptSigningSecret',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [source.kmsKeyArn],
      // Only when the call comes through that service on our behalf.
      Condition: { StringEquals: { 'kms:ViaService': pulumi.interpolate`${service}.${arn.region}.${arn.dnsSuffix}` } },
    });
  }
  return statements;
}
