/**
 * One Lambda function from one handler module: the esbuild bundle and its source map, Node.js 22
 * on arm64 with source maps on, a log group with retention (the function logs there and nowhere
 * else), and a role whose inline policy is exactly the statements passed in plus writing to that
 * log group.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { ENV, METRICS_NAMESPACE } from '../protocol/env';
import type { HandlerName } from '../protocol/routes';
import { BUNDLE_FILE, SOURCE_MAP_FILE, bundleHandler } from './bundle';
import { assumeRolePolicyFor, policyDocument, type PolicyStatement } from './policies/document';
import { logGroupWriteStatement } from './policies/logs';

export const LAMBDA_RUNTIME = 'nodejs22.x';
export const LAMBDA_ARCHITECTURE = 'arm64';
/**
 * Node resolves stack traces through the shipped source map (what AWS SAM sets for esbuild
 * builds with source maps). The map covers our own code only (components/bundle.ts), so Node's
 * work, reading it at load and decoding it the first time a stack trace is formatted, is small.
 */
export const NODE_OPTIONS = '--enable-source-maps';

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** A handler's Powertools service name: its logs' `service` key and its EMF metrics' `service` dimension. */
export function serviceNameFor(handler: HandlerName): string {
  return `realtime-${handler}`;
}

/** What a function needs besides its code: its permissions and settings. */
export interface FunctionSettings {
  /** Exactly what the function may do, besides writing its own logs. */
  statements: pulumi.Input<PolicyStatement>[];
  environment?: Record<string, pulumi.Input<string>>;
  /** Default 256 MB. */
  memorySize?: number;
  /** Seconds; default 10. */
  timeout?: number;
}

export interface LambdaFunctionArgs extends FunctionSettings {
  /** Which `functions/handlers/<name>.ts` to bundle. */
  handler: HandlerName;
  /** Default 30 days. */
  logRetentionDays?: number;
  /** Powertools and Lambda application log level; default INFO. */
  logLevel?: LogLevel;
  description?: string;
}

export class LambdaFunction extends pulumi.ComponentResource {
  readonly handler: HandlerName;
  /** POWERTOOLS_SERVICE_NAME: the `service` dimension of the function's EMF metrics. */
  readonly serviceName: string;
  readonly function: aws.lambda.Function;
  readonly role: aws.iam.Role;
  readonly rolePolicy: aws.iam.RolePolicy;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly arn: pulumi.Output<string>;
  readonly name: pulumi.Output<string>;
  readonly invokeArn: pulumi.Output<string>;
  /** The exact policy JSON the role gets. */
  readonly policy: pulumi.Output<string>;

  constructor(name: string, args: LambdaFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:LambdaFunction', name, {}, opts);
    const logLevel = args.logLevel ?? 'INFO';
    this.handler = args.handler;
    this.serviceName = serviceNameFor(args.handler);
    const bundle = bundleHandler(args.handler);

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { namePrefix: `/aws/lambda/${name}-`, retentionInDays: args.logRetentionDays ?? 30 },
      { parent: this },
    );

    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `Runs the ${args.handler} handler`,
        assumeRolePolicy: assumeRolePolicyFor('lambda.amazonaws.com'),
      },
      { parent: this },
    );

    this.policy = policyDocument([logGroupWriteStatement(this.logGroup.arn), ...args.statements]);
    this.rolePolicy = new aws.iam.RolePolicy(`${name}-policy`, { role: this.role.id, policy: this.policy }, { parent: this });

    this.function = new aws.lambda.Function(
      `${name}-fn`,
      {
        description: args.description ?? `realtime ${args.handler} handler`,
        runtime: LAMBDA_RUNTIME,
        architectures: [LAMBDA_ARCHITECTURE],
        handler: `${BUNDLE_FILE.replace(/\.js$/, '')}.handler`,
        code: new pulumi.asset.AssetArchive({
          [BUNDLE_FILE]: new pulumi.asset.StringAsset(bundle.code),
          [SOURCE_MAP_FILE]: new pulumi.asset.StringAsset(bundle.map),
        }),
        role: this.role.arn,
        memorySize: args.memorySize ?? 256,
        timeout: args.timeout ?? 10,
        loggingConfig: { logFormat: 'JSON', logGroup: this.logGroup.name, applicationLogLevel: logLevel },
        environment: {
          variables: {
            NODE_OPTIONS,
            [ENV.serviceName]: this.serviceName,
            [ENV.metricsNamespace]: METRICS_NAMESPACE,
            [ENV.logLevel]: logLevel,
            ...args.environment,
          },
        },
      },
      // The role must be able to write logs (and, for the queue consumer, poll) before the first call.
      { parent: this, dependsOn: [this.rolePolicy] },
    );

    this.arn = this.function.arn;
    this.name = this.function.name;
    this.invokeArn = this.function.invokeArn;
    this.registerOutputs({ arn: this.arn, name: this.name, roleArn: this.role.arn, logGroupName: this.logGroup.name });
  }
}
