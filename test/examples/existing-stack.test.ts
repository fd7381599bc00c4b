/**
 * examples/existing-stack: another project's Pulumi program ("shop") adding RealtimePubSub next
 * to its own SNS topic, run against Pulumi's mocks like our own program (test/infra/harness.ts):
 * the alarms notify the shop's topic, the shop's transform tags every taggable resource of the
 * component (taggable as the provider's declarations say) and nothing else, the system is
 * complete and parented under the component, and the stack exports what the shop needs.
 */
import { expect } from 'chai';
import { ACCOUNT, API_ID, REGION, functionParts, runProgram, type ProgramRun } from '../infra/harness';
import { isTaggable } from './taggable';

const PROGRAM = { program: 'examples/existing-stack/index.ts', project: 'shop' };

describe('examples/existing-stack: RealtimePubSub added to an existing stack', function () {
  // Bundles every handler unless another test file has already done it in this process.
  this.timeout(120_000);
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({ 'shop:costCenter': 'cc-42', 'shop:alertEmail': 'ops@shop.example' }, PROGRAM);
  });

  const topic = () => run.named('aws:sns/topic:Topic', 'alerts');

  it("keeps the stack's own resources: the alerts topic and its e-mail subscription", () => {
    expect(topic().inputs.tags).to.deep.equal({ team: 'shop', 'cost-center': 'cc-42' });
    const subscription = run.named('aws:sns/topicSubscription:TopicSubscription', 'alerts-email');
    expect(subscription.inputs).to.include({ protocol: 'email', endpoint: 'ops@shop.example' });
    expect(subscription.inputs.topic).to.equal(topic().state.arn);
  });

  it("sends every alarm of the realtime system to the shop's topic, when it fires and when it clears", () => {
    const alarms = run.ofType('aws:cloudwatch/metricAlarm:MetricAlarm');
    expect(alarms).to.have.length(4);
    const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:alerts-0a1b2c`;
    expect(topic().state.arn).to.equal(arn);
    for (const alarm of alarms) {
      expect(alarm.inputs.alarmActions, alarm.name).to.deep.equal([arn]);
      expect(alarm.inputs.okActions, alarm.name).to.deep.equal([arn]);
    }
  });

  it('tags every taggable resource of the component with the shop’s tags (the transform reaches all children), and no other', () => {
    const inside = run.resources.filter((r) => r.custom && r.name.startsWith('realtime-'));
    expect(inside.length).to.be.greaterThan(60);
    const taggable = inside.filter((r) => isTaggable(r.type));
    expect(new Set(taggable.map((r) => r.type)).size, 'taggable types in the stack').to.be.at.least(10);
    for (const r of taggable) expect(r.inputs.tags, `${r.type} ${r.name}`).to.include({ team: 'shop', 'cost-center': 'cc-42' });
    for (const r of inside.filter((x) => !isTaggable(x.type))) expect(r.inputs, `${r.type} ${r.name} takes no tags`).to.not.have.property('tags');
  });

  it('builds the whole system under the component, named from it, with the settings the program passed', async () => {
    const root = run.urns.filter((u) => u.endsWith('::realtime'));
    expect(root).to.have.length(1);
    expect(root[0]).to.match(/::shop::realtime:components:RealtimePubSub::realtime$/);
    // The mock monitor's URNs name the parent's type: every resource named from the component has one of ours.
    for (const urn of run.urns.filter((u) => u.split('::').pop()!.startsWith('realtime-'))) {
      expect(urn.split('::')[2], urn).to.match(/^realtime:components:[A-Za-z]+\$/);
    }
    for (const urn of run.urns.filter((u) => !u.split('::').pop()!.startsWith('realtime'))) {
      expect(urn.split('::')[2], `${urn} belongs to the shop`).to.not.match(/^realtime:/);
    }
    expect(run.ofType('aws:lambda/function:Function')).to.have.length(8); // 6 route functions (relay included), publish, deliver
    expect(run.named('aws:lambda/eventSourceMapping:EventSourceMapping', 'realtime-pipeline-source').inputs.scalingConfig).to.deep.equal({ maximumConcurrency: 20 });
    const rule = run.named('aws:cloudwatch/eventRule:EventRule', 'realtime-pipeline-rule-orders');
    expect(JSON.parse(rule.inputs.eventPattern)).to.deep.equal({ source: ['shop.orders'] });
    // The Lambda code was bundled from the package's handler sources.
    const publish = await functionParts(run, 'publish');
    expect(publish.files).to.deep.equal(['index.js', 'index.js.map']);
    expect(JSON.parse(publish.map).sources).to.include('functions/handlers/publish.ts');
  });

  it('exports what the shop needs, its dashboard named after the shop’s project and stack', () => {
    const queue = run.named('aws:sqs/queue:Queue', 'realtime-pipeline-queue');
    expect(run.outputs).to.deep.equal({
      websocketUrl: `wss://${API_ID}.execute-api.${REGION}.amazonaws.com/live`,
      publishQueueUrl: queue.state.url,
      publishQueueArn: queue.state.arn,
      dashboardUrl: `https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards/dashboard/shop-test-realtime-dashboard`,
      alertsTopicArn: topic().state.arn,
    });
  });
});
