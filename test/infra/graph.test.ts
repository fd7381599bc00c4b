/**
 * The resource graph of the default stack: what exists, how many, who parents what, and the
 * stack outputs.
 */
import { expect } from 'chai';
import { STACK_OUTPUT_KEYS } from '../../protocol/outputs';
import { LAMBDA_ROUTES, MOCK_ROUTES } from '../../protocol/routes';
import { API_ID, REGION, runProgram, type ProgramRun } from './harness';

const COMPONENTS = {
  root: 'realtime:components:RealtimePubSub',
  table: 'realtime:components:ConnectionsTable',
  history: 'realtime:components:HistoryTable',
  delivery: 'realtime:components:DeliveryPipeline',
  api: 'realtime:components:WebSocketApi',
  pipeline: 'realtime:components:PublishPipeline',
  fn: 'realtime:components:LambdaFunction',
  dashboard: 'realtime:components:Dashboard',
};

describe('infra: resource graph (default config)', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  let run: ProgramRun;
  before(async () => {
    run = await runProgram();
  });

  it('creates each kind of resource the expected number of times', () => {
    const count = (type: string) => run.ofType(type).length;
    const twoWay = LAMBDA_ROUTES.filter((r) => r.twoWay).length;
    const functions = LAMBDA_ROUTES.length + 2; // + publish, deliver; no authorizer with auth off
    expect({
      table: count('aws:dynamodb/table:Table'),
      api: count('aws:apigatewayv2/api:Api'),
      routes: count('aws:apigatewayv2/route:Route'),
      integrations: count('aws:apigatewayv2/integration:Integration'),
      integrationResponses: count('aws:apigatewayv2/integrationResponse:IntegrationResponse'),
      routeResponses: count('aws:apigatewayv2/routeResponse:RouteResponse'),
      authorizers: count('aws:apigatewayv2/authorizer:Authorizer'),
      deployments: count('aws:apigatewayv2/deployment:Deployment'),
      stages: count('aws:apigatewayv2/stage:Stage'),
      permissions: count('aws:lambda/permission:Permission'),
      functions: count('aws:lambda/function:Function'),
      functionComponents: count(COMPONENTS.fn),
      // One role per function, plus API Gateway's logging role.
      roles: count('aws:iam/role:Role'),
      inlinePolicies: count('aws:iam/rolePolicy:RolePolicy'),
      managedPolicyAttachments: count('aws:iam/rolePolicyAttachment:RolePolicyAttachment'),
      // One per function, the access logs, the execution logs.
      logGroups: count('aws:cloudwatch/logGroup:LogGroup'),
      queues: count('aws:sqs/queue:Queue'),
      queuePolicies: count('aws:sqs/queuePolicy:QueuePolicy'),
      eventSourceMappings: count('aws:lambda/eventSourceMapping:EventSourceMapping'),
      alarms: count('aws:cloudwatch/metricAlarm:MetricAlarm'),
      dashboards: count('aws:cloudwatch/dashboard:Dashboard'),
      eventRules: count('aws:cloudwatch/eventRule:EventRule'),
      apiGatewayAccount: count('aws:apigateway/account:Account'),
      domains: count('aws:apigatewayv2/domainName:DomainName'),
    }).to.deep.equal({
      table: 2,
      api: 1,
      routes: LAMBDA_ROUTES.length + MOCK_ROUTES.length,
      integrations: LAMBDA_ROUTES.length + MOCK_ROUTES.length,
      integrationResponses: MOCK_ROUTES.length,
      routeResponses: twoWay + MOCK_ROUTES.length,
      authorizers: 0,
      deployments: 1,
      stages: 1,
      permissions: LAMBDA_ROUTES.length,
      functions,
      functionComponents: functions,
      roles: functions + 1,
      inlinePolicies: functions + 1,
      managedPolicyAttachments: 0,
      logGroups: functions + 2,
      // publish queue and DLQ, delivery queue and DLQ
      queues: 4,
      queuePolicies: 4,
      eventSourceMappings: 2,
      alarms: 4,
      dashboards: 1,
      eventRules: 0,
      apiGatewayAccount: 1,
      domains: 0,
    });
  });

  it('parents every resource to a component of ours, and names it after that component', () => {
    // The mock monitor's URN carries the parent's type: `…::<parent type>$<type>::<name>`.
    const parentOf = (urn: string) => {
      const qualified = urn.split('::')[2];
      return qualified.includes('$') ? qualified.split('$')[0] : undefined;
    };
    const byType = new Map<string, string[]>();
    for (const urn of run.urns) {
      const name = urn.split('::')[3];
      const type = urn.split('::')[2].split('$').pop() as string;
      if (type === COMPONENTS.root) {
        expect(parentOf(urn), 'the root component has no parent').to.equal(undefined);
        continue;
      }
      const parent = parentOf(urn);
      expect(Object.values(COMPONENTS), `${name} (${type}) is parented to ${parent}`).to.include(parent);
      expect(name, `${name} is named from the stack's component`).to.match(/^realtime-/);
      byType.set(type, [...(byType.get(type) ?? []), parent as string]);
    }
    expect(new Set(byType.get('aws:dynamodb/table:Table'))).to.deep.equal(new Set([COMPONENTS.table, COMPONENTS.history]));
    expect(new Set(byType.get('aws:lambda/function:Function'))).to.deep.equal(new Set([COMPONENTS.fn]));
    expect(new Set(byType.get('aws:apigatewayv2/route:Route'))).to.deep.equal(new Set([COMPONENTS.api]));
    expect(new Set(byType.get('aws:sqs/queue:Queue'))).to.deep.equal(new Set([COMPONENTS.pipeline, COMPONENTS.delivery]));
    expect(new Set(byType.get(COMPONENTS.fn))).to.deep.equal(new Set([COMPONENTS.api, COMPONENTS.pipeline, COMPONENTS.delivery]));
    expect(run.urns.length).to.equal(run.resources.length);
  });

  it('exports exactly the stack outputs of protocol/outputs.ts, shaped as documented', () => {
    expect(Object.keys(run.outputs).sort()).to.deep.equal([...STACK_OUTPUT_KEYS].sort());
    const [table, history] = ['realtime-connections-table', 'realtime-history-table'].map((n) => run.named('aws:dynamodb/table:Table', n));
    const [queue, dlq, delivery, deliveryDlq] = ['realtime-pipeline-queue', 'realtime-pipeline-dlq', 'realtime-delivery-queue', 'realtime-delivery-dlq'].map((n) =>
      run.named('aws:sqs/queue:Queue', n),
    );
    expect(run.outputs).to.deep.equal({
      websocketUrl: `wss://${API_ID}.execute-api.${REGION}.amazonaws.com/prod`,
      managementEndpoint: `https://${API_ID}.execute-api.${REGION}.amazonaws.com/prod`,
      queueUrl: queue.state.url,
      queueArn: queue.state.arn,
      dlqUrl: dlq.state.url,
      eventBusName: 'default',
      tableName: table.state.name,
      historyTableName: history.state.name,
      deliveryQueueUrl: delivery.state.url,
      deliveryDlqUrl: deliveryDlq.state.url,
      dashboardUrl: `https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards/dashboard/realtime-test-realtime-dashboard`,
    });
  });

  it('warns that authentication is off', () => {
    expect(run.warnings.join('\n')).to.match(/Authentication is OFF/);
  });
});
