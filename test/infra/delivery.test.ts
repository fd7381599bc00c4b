/** The history table and the delivery pipeline: keys, durability, encryption, TLS-only queues, redrive, the mapping, alarms. */
import { expect } from 'chai';
import { HISTORY } from '../../protocol/history';
import { functionParts, runProgram, statementsOf, type ProgramRun, type Recorded } from './harness';

const ALARM_TOPIC = 'arn:aws:sns:eu-west-3:123456789012:ops';

describe('infra: history table and delivery pipeline', function () {
  // Each run of the program bundles and registers ~80 resources: slow on a loaded machine.
  this.timeout(120_000);
  let run: ProgramRun;
  let history: Recorded;
  let queue: Recorded;
  let dlq: Recorded;
  before(async () => {
    run = await runProgram({ alarmTopicArn: ALARM_TOPIC });
    history = run.named('aws:dynamodb/table:Table', 'realtime-history-table');
    queue = run.named('aws:sqs/queue:Queue', 'realtime-delivery-queue');
    dlq = run.named('aws:sqs/queue:Queue', 'realtime-delivery-dlq');
  });

  it('history: on-demand, keyed topic (string) / seq (number), no index, TTL on expiresAt, PITR, encrypted', () => {
    expect(history.inputs).to.deep.include({ billingMode: 'PAY_PER_REQUEST', hashKey: HISTORY.partitionKey, rangeKey: HISTORY.sortKey });
    expect(history.inputs.attributes).to.have.deep.members([
      { name: 'topic', type: 'S' },
      { name: 'seq', type: 'N' },
    ]);
    expect(history.inputs.globalSecondaryIndexes ?? []).to.deep.equal([]);
    expect(history.inputs.ttl).to.deep.equal({ attributeName: 'expiresAt', enabled: true });
    expect(history.inputs.pointInTimeRecovery).to.deep.equal({ enabled: true });
    expect(history.inputs.serverSideEncryption).to.deep.include({ enabled: true });
  });

  it('delivery queue: encrypted, 1 MiB messages (a frame and its connection ids), redrive to its DLQ, visibility ≥ 6× the function timeout', async () => {
    const { fn } = await functionParts(run, 'deliver');
    expect(queue.inputs).to.deep.include({ sqsManagedSseEnabled: true, maxMessageSize: 1024 * 1024 });
    expect(dlq.inputs).to.deep.include({ sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600 });
    expect(JSON.parse(queue.inputs.redrivePolicy)).to.deep.equal({ deadLetterTargetArn: dlq.state.arn, maxReceiveCount: 5 });
    expect(queue.inputs.visibilityTimeoutSeconds).to.be.at.least(6 * fn.inputs.timeout);
  });

  it('delivery queues: TLS only, and no one is allowed in by a resource policy (the functions send through their roles)', () => {
    for (const q of [queue, dlq]) {
      const policies = run.ofType('aws:sqs/queuePolicy:QueuePolicy').filter((p) => p.inputs.queueUrl === q.state.url);
      expect(policies, q.name).to.have.length(1);
      expect(statementsOf(policies[0].inputs.policy)).to.deep.equal([
        { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: ['sqs:*'], Resource: [q.state.arn], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      ]);
    }
  });

  it('feeds the delivery function from the delivery queue with partial batch responses and a concurrency cap', async () => {
    const { fn } = await functionParts(run, 'deliver');
    expect(run.named('aws:lambda/eventSourceMapping:EventSourceMapping', 'realtime-delivery-source').inputs).to.deep.equal({
      eventSourceArn: queue.state.arn,
      functionName: fn.state.arn,
      batchSize: 5,
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: { maximumConcurrency: 20 },
    });
  });

  it('alarms on anything in the delivery DLQ and on old delivery jobs, notifying the alarm topic', () => {
    const alarms = run.ofType('aws:cloudwatch/metricAlarm:MetricAlarm').filter((a) => a.name.startsWith('realtime-delivery-'));
    expect(alarms.map((a) => [a.inputs.metricName, a.inputs.dimensions, a.inputs.threshold, a.inputs.comparisonOperator, a.inputs.alarmActions, a.inputs.okActions])).to.have.deep.members([
      ['ApproximateNumberOfMessagesVisible', { QueueName: dlq.state.name }, 0, 'GreaterThanThreshold', [ALARM_TOPIC], [ALARM_TOPIC]],
      ['ApproximateAgeOfOldestMessage', { QueueName: queue.state.name }, 300, 'GreaterThanOrEqualToThreshold', [ALARM_TOPIC], [ALARM_TOPIC]],
    ]);
  });
});
