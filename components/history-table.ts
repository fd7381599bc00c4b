/**
 * The history table (protocol/history.ts): every topic's stream of messages, kept for
 * subscribers that resume. Mapped from the same CreateTable request the local mode uses:
 * on-demand, keys topic/seq, TTL on expiresAt (retention), point-in-time recovery, server-side
 * encryption.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { createHistoryTableInput, HISTORY } from '../protocol/history';

export interface HistoryTableArgs {
  /** Keep the table when the stack is destroyed or the resource replaced; default false. */
  deletionProtection?: boolean;
}

export class HistoryTable extends pulumi.ComponentResource {
  readonly table: aws.dynamodb.Table;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: HistoryTableArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:HistoryTable', name, {}, opts);
    const spec = createHistoryTableInput('unused');
    this.table = new aws.dynamodb.Table(
      `${name}-table`,
      {
        billingMode: spec.BillingMode,
        hashKey: spec.KeySchema.find((k) => k.KeyType === 'HASH')?.AttributeName,
        rangeKey: spec.KeySchema.find((k) => k.KeyType === 'RANGE')?.AttributeName,
        attributes: spec.AttributeDefinitions.map((a) => ({ name: a.AttributeName, type: a.AttributeType })),
        ttl: { attributeName: HISTORY.ttlAttribute, enabled: true },
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
        deletionProtectionEnabled: args.deletionProtection ?? false,
      },
      { parent: this },
    );
    this.name = this.table.name;
    this.arn = this.table.arn;
    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
