/**
 * A program for test/infra/transforms.test.ts: the whole system with every optional part on
 * (authorizer, custom domain with its DNS record, an EventBridge rule), built through the
 * package's entry point with one transform that marks whatever it is applied to, next to a
 * topic of the program's own that the transform must not reach.
 */
import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';
import { RealtimePubSub } from 'aws-realtime-pubsub/components';

export const MARK = 'transformedBy';

const mark: pulumi.ResourceTransform = (args) => ({ props: { ...args.props, [MARK]: `marked:${args.name}` }, opts: args.opts });

const outside = new aws.sns.Topic('outside');

const system = new RealtimePubSub(
  'marked',
  {
    authEnabled: true,
    authJwksUrl: 'https://id.example/.well-known/jwks.json',
    customDomainName: 'realtime.example.com',
    customDomainCertificateArn: 'arn:aws:acm:eu-west-3:123456789012:certificate/abc',
    customDomainZoneId: 'Z0123456789ABC',
    alarmTopicArn: outside.arn,
    eventRules: [{ name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}' }],
  },
  { transforms: [mark] },
);

export const websocketUrl = system.outputs.websocketUrl;
export const dashboardUrl = system.outputs.dashboardUrl;
