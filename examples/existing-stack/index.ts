/**
 * An existing Pulumi program — a shop's stack, which already has an SNS topic for its alerts —
 * adds the realtime system next to what it had:
 * - the realtime alarms notify the shop's own topic (`alarmTopicArn` takes its output);
 * - a transform on the component tags every taggable resource it creates with the shop's tags
 *   (transforms reach all of a component's children, however deep);
 * - order events the shop puts on EventBridge reach subscribers of `orders/<id>`;
 * - the stack exports what the shop's backends and web app need, the dashboard's URL included.
 * See README.md next to this file for how to install the package and run `pulumi up`.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { RealtimePubSub } from 'aws-realtime-pubsub/components';

const config = new pulumi.Config();

/** The shop's tags, on everything it owns. */
export const SHOP_TAGS = { team: 'shop', 'cost-center': config.get('costCenter') ?? 'cc-1234' };

// ---- what the stack had before ----
const alerts = new aws.sns.Topic('alerts', { tags: SHOP_TAGS });
const alertEmail = config.get('alertEmail');
if (alertEmail) new aws.sns.TopicSubscription('alerts-email', { topic: alerts.arn, protocol: 'email', endpoint: alertEmail });

// ---- the realtime system ----

/** AWS resource types the components create that take `tags` (test/examples checks the list is complete). */
const TAGGABLE = new Set([
  'aws:apigatewayv2/api:Api',
  'aws:apigatewayv2/domainName:DomainName',
  'aws:apigatewayv2/stage:Stage',
  'aws:cloudwatch/eventRule:EventRule',
  'aws:cloudwatch/logGroup:LogGroup',
  'aws:cloudwatch/metricAlarm:MetricAlarm',
  'aws:dynamodb/table:Table',
  'aws:iam/role:Role',
  'aws:lambda/eventSourceMapping:EventSourceMapping',
  'aws:lambda/function:Function',
  'aws:sqs/queue:Queue',
]);

/** Merge the shop's tags into every taggable resource (keeping tags a resource sets itself). */
const tagWithShopTags: pulumi.ResourceTransform = (args) =>
  TAGGABLE.has(args.type) ? { props: { ...args.props, tags: { ...SHOP_TAGS, ...args.props.tags } }, opts: args.opts } : undefined;

const realtime = new RealtimePubSub(
  'realtime',
  {
    stageName: 'live',
    alarmTopicArn: alerts.arn,
    maximumConcurrency: 20,
    eventRules: [{ name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}', dataPath: 'detail' }],
  },
  { transforms: [tagWithShopTags] },
);

export const websocketUrl = realtime.outputs.websocketUrl;
/** Where the shop's backends send publish envelopes (sqs:SendMessage). */
export const publishQueueUrl = realtime.outputs.queueUrl;
export const publishQueueArn = realtime.outputs.queueArn;
export const dashboardUrl = realtime.outputs.dashboardUrl;
export const alertsTopicArn = alerts.arn;
