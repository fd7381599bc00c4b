/** Routes, integrations, permissions, deployment and stage of the WebSocket API. */
import { expect } from 'chai';
import { bundleHandler } from '../../components/bundle';
import { LAMBDA_ROUTES, MOCK_ROUTES, ROUTE_SELECTION_EXPRESSION } from '../../protocol/routes';
import { ACCOUNT, API_ID, REGION, functionParts, runProgram, type ProgramRun, type Recorded } from './harness';

const EXECUTION_ARN = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}`;

describe('infra: WebSocket API', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  let run: ProgramRun;
  let routes: Recorded[];
  let integrations: Recorded[];
  before(async () => {
    run = await runProgram();
    routes = run.ofType('aws:apigatewayv2/route:Route');
    integrations = run.ofType('aws:apigatewayv2/integration:Integration');
  });

  const routeByKey = (key: string) => {
    const found = routes.filter((r) => r.inputs.routeKey === key);
    expect(found, `routes with key ${key}`).to.have.length(1);
    return found[0];
  };
  const integrationOf = (route: Recorded) => {
    const id = String(route.inputs.target).replace(/^integrations\//, '');
    const found = integrations.find((i) => i.id === id);
    expect(found, `integration ${route.inputs.target} of route ${route.inputs.routeKey}`).to.not.equal(undefined);
    return found as Recorded;
  };
  const routeResponsesOf = (route: Recorded) => run.ofType('aws:apigatewayv2/routeResponse:RouteResponse').filter((r) => r.inputs.routeId === route.id);

  it('is a WebSocket API selecting routes by $request.body.action', () => {
    const api = run.ofType('aws:apigatewayv2/api:Api')[0];
    expect(api.inputs.protocolType).to.equal('WEBSOCKET');
    expect(api.inputs.routeSelectionExpression).to.equal(ROUTE_SELECTION_EXPRESSION);
  });

  for (const route of LAMBDA_ROUTES) {
    it(`wires ${route.routeKey} through a Lambda proxy integration to the ${route.handler} bundle`, async () => {
      const r = routeByKey(route.routeKey);
      const integration = integrationOf(r);
      const { fn, code } = await functionParts(run, route.handler);
      expect(integration.inputs).to.deep.include({ apiId: API_ID, integrationType: 'AWS_PROXY', integrationMethod: 'POST', integrationUri: fn.state.invokeArn });
      expect(code, 'the function ships the bundle of its own handler').to.equal(bundleHandler(route.handler).code);
      expect(r.inputs.authorizationType).to.equal('NONE');
    });

    it(`${route.twoWay ? 'answers' : 'does not answer'} ${route.routeKey} with a route response`, () => {
      const r = routeByKey(route.routeKey);
      const responses = routeResponsesOf(r);
      if (route.twoWay) {
        expect(r.inputs.routeResponseSelectionExpression).to.equal('$default');
        expect(responses.map((x) => x.inputs)).to.deep.equal([{ apiId: API_ID, routeId: r.id, routeResponseKey: '$default' }]);
      } else {
        expect(r.inputs.routeResponseSelectionExpression).to.equal(undefined);
        expect(responses).to.have.length(0);
      }
    });

    it(`lets API Gateway invoke the ${route.handler} function only for this API, stage and route`, async () => {
      const { fn } = await functionParts(run, route.handler);
      const permissions = run.ofType('aws:lambda/permission:Permission').filter((p) => p.inputs.function === fn.state.name);
      expect(permissions.map((p) => p.inputs)).to.deep.equal([
        { action: 'lambda:InvokeFunction', function: fn.state.name, principal: 'apigateway.amazonaws.com', sourceArn: `${EXECUTION_ARN}/prod/${route.routeKey}` },
      ]);
    });
  }

  for (const mock of MOCK_ROUTES) {
    it(`answers ${mock.routeKey} with a MOCK integration and a route response (no Lambda)`, () => {
      const r = routeByKey(mock.routeKey);
      const integration = integrationOf(r);
      expect(integration.inputs).to.deep.equal({
        apiId: API_ID,
        integrationType: 'MOCK',
        requestTemplates: { $default: mock.requestTemplate },
        templateSelectionExpression: '\\$default',
      });
      const responses = run.ofType('aws:apigatewayv2/integrationResponse:IntegrationResponse').filter((x) => x.inputs.integrationId === integration.id);
      expect(responses.map((x) => x.inputs)).to.deep.equal([
        {
          apiId: API_ID,
          integrationId: integration.id,
          integrationResponseKey: '$default',
          responseTemplates: { $default: mock.responseTemplate },
          templateSelectionExpression: '\\$default',
        },
      ]);
      expect(r.inputs.routeResponseSelectionExpression).to.equal('$default');
      expect(routeResponsesOf(r).map((x) => x.inputs.routeResponseKey)).to.deep.equal(['$default']);
      expect(JSON.parse(mock.responseTemplate)).to.deep.equal({ type: 'pong' });
    });
  }

  it('deploys explicitly: one Deployment with a content trigger, the stage pointing at it', () => {
    const [deployment] = run.ofType('aws:apigatewayv2/deployment:Deployment');
    expect(deployment.inputs.apiId).to.equal(API_ID);
    expect(deployment.inputs.triggers.redeployment).to.match(/^[0-9a-f]{64}$/);
    const [stage] = run.ofType('aws:apigatewayv2/stage:Stage');
    expect(stage.inputs.deploymentId).to.equal(deployment.id);
    expect(stage.inputs.autoDeploy, 'autoDeploy is for HTTP APIs').to.equal(undefined);
  });

  it('throttles the stage and logs every request as JSON to a log group with retention', () => {
    const [stage] = run.ofType('aws:apigatewayv2/stage:Stage');
    expect(stage.inputs.name).to.equal('prod');
    expect(stage.inputs.defaultRouteSettings).to.deep.include({ throttlingBurstLimit: 500, throttlingRateLimit: 1000, loggingLevel: 'ERROR' });
    const accessLogs = run.ofType('aws:cloudwatch/logGroup:LogGroup').find((g) => g.state.arn === stage.inputs.accessLogSettings.destinationArn);
    expect(accessLogs, 'the access log destination is a log group of the stack').to.not.equal(undefined);
    expect(accessLogs?.inputs.retentionInDays).to.equal(30);
    const format = JSON.parse(stage.inputs.accessLogSettings.format) as Record<string, string>;
    expect(format).to.include({ requestId: '$context.requestId', routeKey: '$context.routeKey', connectionId: '$context.connectionId', status: '$context.status' });
    const execution = run.ofType('aws:cloudwatch/logGroup:LogGroup').filter((g) => g.inputs.name === `API-Gateway-Execution-Logs_${API_ID}/prod`);
    expect(execution.map((g) => g.inputs.retentionInDays)).to.deep.equal([30]);
  });

  it('gives API Gateway a logging role limited to this account and region', () => {
    const [account] = run.ofType('aws:apigateway/account:Account');
    const role = run.ofType('aws:iam/role:Role').find((r) => r.state.arn === account.inputs.cloudwatchRoleArn);
    expect(JSON.parse(role?.inputs.assumeRolePolicy).Statement[0].Principal).to.deep.equal({ Service: 'apigateway.amazonaws.com' });
    const policy = run.ofType('aws:iam/rolePolicy:RolePolicy').find((p) => p.inputs.role === role?.id);
    const resources = JSON.parse(policy?.inputs.policy).Statement.flatMap((s: { Resource: string[] }) => s.Resource);
    expect(resources).to.deep.equal([`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:*`]);
  });
});
