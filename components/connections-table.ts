/**
 * The connections table, mapped from protocol/table.ts's CreateTable request so the local mode
 * and AWS build the same keys and index: on-demand, GSI byTopic (KEYS_ONLY) declared with
 * `keySchemas`, TTL on expiresAt, point-in-time recovery, server-side encryption.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { TABLE, createTableInput } from '../protocol/table';

export interface ConnectionsTableArgs {
  /** Keep the table when the stack is destroyed or the resource replaced; default false. */
  deletionProtection?: boolean;
  /** A customer-managed KMS key; default: DynamoDB's AWS-managed key (SSE on either way). */
  kmsKeyArn?: pulumi.Input<string>;
}

export class ConnectionsTable extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: ConnectionsTableArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:ConnectionsTable', name, {}, opts);
    // The physical name is Pulumi's; only the shape comes from the shared CreateTable input.
    const spec = createTableInput('unused');
    const hash = spec.KeySchema.find((k) => k.KeyType === 'HASH');
    const range = spec.KeySchema.find((k) => k.KeyType === 'RANGE');

    this.table = new aws.dynamodb.Table(
      `${name}-table`,
      {
        billingMode: spec.BillingMode,
        hashKey: hash?.AttributeName,
        rangeKey: range?.AttributeName,
        attributes: spec.AttributeDefinitions.map((a) => ({ name: a.AttributeName, type: a.AttributeType })),
        globalSecondaryIndexes: spec.GlobalSecondaryIndexes.map((index) => ({
          name: index.IndexName,
          keySchemas: index.KeySchema.map((k) => ({ attributeName: k.AttributeName, keyType: k.KeyType })),
          projectionType: index.Projection.ProjectionType,
        })),
        ttl: { attributeName: TABLE.ttlAttribute, enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: args.kmsKeyArn ? { enabled: true, kmsKeyArn: args.kmsKeyArn } : { enabled: true },
        deletionProtectionEnabled: args.deletionProtection ?? false,
      },
      { parent: this },
    );

    this.name = this.table.name;
    this.arn = this.table.arn;
    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
