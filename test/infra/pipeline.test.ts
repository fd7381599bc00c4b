/** Queue, DLQ, queue policies, EventBridge rules, the event source mapping and the alarms. */
import { expect } from 'chai';
import { inputTransformerFor } from '../../protocol/rule-message';
import type { EventRule } from '../../protocol/rules';
import { functionParts, runProgram, statementsOf, type ProgramRun, type Recorded } from './harness';

const RULES: EventRule[] = [
  { name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}' },
  { name: 'stock', eventPattern: { source: ['shop.stock'], 'detail-type': ['Changed'] }, topic: 'stock/{detail.sku}', dataPath: 'detail.level' },
];
const ALARM_TOPIC = 'arn:aws:sns:eu-west-3:123456789012:ops';

describe('infra: publish pipeline', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  let run: ProgramRun;
  let queue: Recorded;
  let dlq: Recorded;
  before(async () => {
    run = await runProgram({ eventRules: RULES, eventBusName: 'shop', alarmTopicArn: ALARM_TOPIC });
    queue = run.named('aws:sqs/queue:Queue', 'realtime-pipeline-queue');
    dlq = run.named('aws:sqs/queue:Queue', 'realtime-pipeline-dlq');
  });

  const policyOf = (q: Recorded) => {
    const policies = run.ofType('aws:sqs/queuePolicy:QueuePolicy').filter((p) => p.inputs.queueUrl === q.state.url);
    expect(policies, `policies of ${q.name}`).to.have.length(1);
    return statementsOf(policies[0].inputs.policy);
  };

  it('encrypts both queues and redrives to the DLQ after maxReceiveCount receives', () => {
    expect(queue.inputs.sqsManagedSseEnabled).to.equal(true);
    expect(dlq.inputs.sqsManagedSseEnabled).to.equal(true);
    expect(JSON.parse(queue.inputs.redrivePolicy)).to.deep.equal({ deadLetterTargetArn: dlq.state.arn, maxReceiveCount: 5 });
    expect(dlq.inputs.redrivePolicy).to.equal(undefined);
  });

  it('takes 1 MiB messages, so a rule message (a whole 256 KB event and the rule) always fits', () => {
    expect(queue.inputs.maxMessageSize).to.equal(1024 * 1024);
  });

  it('keeps a message invisible for at least 6x the publish function timeout', async () => {
    const { fn } = await functionParts(run, 'publish');
    expect(fn.inputs.timeout).to.equal(60);
    expect(queue.inputs.visibilityTimeoutSeconds).to.be.at.least(6 * fn.inputs.timeout);
  });

  it('denies non-TLS access to both queues', () => {
    for (const q of [queue, dlq]) {
      const deny = policyOf(q).filter((s) => s.Effect === 'Deny');
      expect(deny, q.name).to.deep.equal([
        {
          Sid: 'DenyInsecureTransport',
          Effect: 'Deny',
          Principal: '*',
          Action: ['sqs:*'],
          Resource: [q.state.arn],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ]);
    }
  });

  it("lets EventBridge send only on behalf of this stack's rules, and nobody else in", () => {
    const rules = run.ofType('aws:cloudwatch/eventRule:EventRule');
    const allow = policyOf(queue).filter((s) => s.Effect === 'Allow');
    expect(allow).to.deep.equal([
      {
        Sid: 'AllowThisStacksEventRules',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['sqs:SendMessage'],
        Resource: [queue.state.arn],
        Condition: { ArnEquals: { 'aws:SourceArn': rules.map((r) => r.state.arn) } },
      },
    ]);
    expect(policyOf(dlq).filter((s) => s.Effect === 'Allow')).to.deep.equal([]);
  });

  it('creates one rule per configured rule, on the configured bus, targeting the queue through its input transformer', () => {
    const rules = run.ofType('aws:cloudwatch/eventRule:EventRule');
    const targets = run.ofType('aws:cloudwatch/eventTarget:EventTarget');
    expect(rules.map((r) => r.name)).to.deep.equal(RULES.map((r) => `realtime-pipeline-rule-${r.name}`));
    for (const [i, r] of rules.entries()) {
      expect(r.inputs.name).to.match(new RegExp(`^realtime-pipeline-${RULES[i].name}-[0-9a-f]{8}$`));
    }
    RULES.forEach((rule, i) => {
      expect(rules[i].inputs.eventBusName).to.equal('shop');
      expect(JSON.parse(rules[i].inputs.eventPattern)).to.deep.equal(rule.eventPattern);
      const target = targets.filter((t) => t.inputs.rule === rules[i].state.name);
      expect(target.map((t) => t.inputs)).to.deep.equal([
        { rule: rules[i].state.name, eventBusName: 'shop', arn: queue.state.arn, inputTransformer: inputTransformerFor(rule) },
      ]);
    });
  });

  it("substitutes no event field into the target's input: only the whole event, which EventBridge serialises itself", () => {
    const targets = run.ofType('aws:cloudwatch/eventTarget:EventTarget');
    expect(targets).to.have.length(RULES.length);
    for (const [i, target] of targets.entries()) {
      const { inputPaths, inputTemplate } = target.inputs.inputTransformer as { inputPaths?: Record<string, string>; inputTemplate: string };
      expect(inputPaths ?? {}, 'no JSON path is extracted from the event').to.deep.equal({});
      expect([...inputTemplate.matchAll(/<([^>]*)>/g)].map((m) => m[1])).to.deep.equal(['aws.events.event.json']);
      // The rest is constant JSON from the stack config: the rule message around the event.
      const rule = RULES[i];
      expect(JSON.parse(inputTemplate.replace('<aws.events.event.json>', '{"id":"e"}'))).to.deep.equal({
        rule: rule.name,
        topic: rule.topic,
        dataPath: rule.dataPath ?? 'detail',
        event: { id: 'e' },
      });
    }
  });

  it('feeds the publish function from the queue with partial batch responses and a concurrency cap', async () => {
    const { fn } = await functionParts(run, 'publish');
    const mapping = run.named('aws:lambda/eventSourceMapping:EventSourceMapping', 'realtime-pipeline-source');
    expect(mapping.inputs).to.deep.equal({
      eventSourceArn: queue.state.arn,
      functionName: fn.state.arn,
      batchSize: 10,
      maximumBatchingWindowInSeconds: 0,
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: { maximumConcurrency: 10 },
    });
  });

  it('alarms when anything reaches the DLQ and when messages grow old, notifying the alarm topic', () => {
    const alarms = run.ofType('aws:cloudwatch/metricAlarm:MetricAlarm').filter((a) => a.name.startsWith('realtime-pipeline-'));
    const pick = ({ namespace, metricName, dimensions, statistic, threshold, comparisonOperator, alarmActions, okActions }: Record<string, unknown>) => ({
      namespace,
      metricName,
      dimensions,
      statistic,
      threshold,
      comparisonOperator,
      alarmActions,
      okActions,
    });
    expect(alarms.map((a) => pick(a.inputs))).to.have.deep.members([
      {
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: dlq.state.name },
        statistic: 'Maximum',
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        alarmActions: [ALARM_TOPIC],
        okActions: [ALARM_TOPIC],
      },
      {
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensions: { QueueName: queue.state.name },
        statistic: 'Maximum',
        threshold: 300,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        alarmActions: [ALARM_TOPIC],
        okActions: [ALARM_TOPIC],
      },
    ]);
  });

  it("keeps rule names within EventBridge's 64 characters, however long the configured name", async () => {
    const long = 'x'.repeat(40);
    const r = await runProgram({ eventRules: [{ name: long, eventPattern: { source: ['a'] }, topic: 't' }] });
    const [rule] = r.ofType('aws:cloudwatch/eventRule:EventRule');
    expect(rule.inputs.name.length).to.be.at.most(64);
    expect(rule.inputs.name).to.match(/^realtime-pipeline-x+-[0-9a-f]{8}$/);
  });

  it('exports the configured bus', () => {
    expect(run.outputs.eventBusName).to.equal('shop');
  });
});
