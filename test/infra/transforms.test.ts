/**
 * Pulumi's `transforms` option on RealtimePubSub reaches every resource the component creates,
 * custom or component, however deep, and nothing outside it: the program of
 * programs/marked-stack.ts marks whatever its transform is applied to, and the mock monitor runs
 * transforms as the engine does (transforms.ts).
 */
import { expect } from 'chai';
import { runProgram, type ProgramRun } from './harness';

describe('infra: transforms on RealtimePubSub reach every child', function () {
  this.timeout(120_000);
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({}, { program: 'test/infra/programs/marked-stack.ts' });
  });

  it('marks every resource of the component — each custom resource and each component below it — with its own name', () => {
    const inside = run.resources.filter((r) => r.name.startsWith('marked'));
    // Every kind of child is there: the optional parts are on.
    const types = new Set(inside.map((r) => r.type));
    for (const type of [
      'realtime:components:RealtimePubSub',
      'realtime:components:LambdaFunction',
      'realtime:components:Dashboard',
      'aws:apigatewayv2/authorizer:Authorizer',
      'aws:apigatewayv2/domainName:DomainName',
      'aws:route53/record:Record',
      'aws:cloudwatch/eventRule:EventRule',
      'aws:cloudwatch/dashboard:Dashboard',
      'aws:lambda/function:Function',
    ]) {
      expect([...types], type).to.include(type);
    }
    expect(inside.length).to.be.greaterThan(80);
    const unmarked = inside.filter((r) => r.inputs.transformedBy !== `marked:${r.name}`).map((r) => `${r.type} ${r.name}`);
    expect(unmarked, 'resources the transform did not reach').to.deep.equal([]);
  });

  it('leaves the program’s other resources alone, and the component still works with the topic as alarmTopicArn', () => {
    const outside = run.named('aws:sns/topic:Topic', 'outside');
    expect(outside.inputs).to.not.have.property('transformedBy');
    const alarms = run.ofType('aws:cloudwatch/metricAlarm:MetricAlarm');
    expect(alarms).to.have.length(4);
    for (const alarm of alarms) expect(alarm.inputs.alarmActions, alarm.name).to.deep.equal([outside.state.arn]);
    expect(run.outputs.websocketUrl).to.equal('wss://realtime.example.com');
  });
});
