/**
 * The WebSocket API: routes from protocol/routes.ts (Lambda proxy routes, each with its own
 * function, integration and invoke permission; MOCK routes answered by API Gateway itself), an
 * explicit Deployment re-created whenever the routes change, and a stage with throttling and
 * JSON access logs. Optional: a REQUEST authorizer on $connect, and a custom domain.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { createHash } from 'node:crypto';
import { AUTHORIZER_HANDLER, LAMBDA_ROUTES, MOCK_ROUTES, ROUTE_SELECTION_EXPRESSION, type HandlerName } from '../protocol/routes';
import { LambdaFunction, type FunctionSettings, type LogLevel } from './lambda-function';
import { apiGatewayLogsStatement } from './policies/api-gateway-logs';
import { assumeRolePolicyFor, policyDocument, type ArnContext } from './policies/document';

export type RouteHandlerName = (typeof LAMBDA_ROUTES)[number]['handler'];

export interface CustomDomainArgs {
  domainName: string;
  /** A regional ACM certificate for the domain, in the stack's region. */
  certificateArn: pulumi.Input<string>;
  /** When set, an alias A record in this Route 53 zone points the domain at the API. */
  hostedZoneId?: pulumi.Input<string>;
}

/** The API as its route functions may name it: before the stage exists (which needs them). */
export interface ApiRef {
  apiId: pulumi.Output<string>;
  stageName: string;
  /** https://{apiId}.execute-api.{region}.{dnsSuffix}/{stage} */
  managementEndpoint: pulumi.Output<string>;
}

export interface WebSocketApiArgs {
  stageName: string;
  /** One entry per Lambda route handler (LAMBDA_ROUTES); a function of the API when a route needs its id or endpoint. */
  routes: Record<RouteHandlerName, FunctionSettings> | ((api: ApiRef) => Record<RouteHandlerName, FunctionSettings>);
  /** A REQUEST authorizer on $connect; absent means anyone may connect. */
  authorizer?: FunctionSettings;
  throttlingBurstLimit: number;
  throttlingRateLimit: number;
  logRetentionDays: number;
  logLevel?: LogLevel;
  /** API Gateway execution logs: OFF, ERROR or INFO; default ERROR. */
  executionLogLevel?: 'OFF' | 'ERROR' | 'INFO';
  /**
   * Set the account's API Gateway CloudWatch role (needed once per account and region before
   * any WebSocket stage can log). Default true.
   */
  manageApiGatewayAccount?: boolean;
  arn: ArnContext;
  customDomain?: CustomDomainArgs;
}

/** Access log line: one JSON object per request, every value quoted so empty ones stay valid JSON. */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  apiId: '$context.apiId',
  stage: '$context.stage',
  requestTime: '$context.requestTime',
  requestTimeEpoch: '$context.requestTimeEpoch',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  connectionId: '$context.connectionId',
  messageId: '$context.messageId',
  sourceIp: '$context.identity.sourceIp',
  status: '$context.status',
  error: '$context.error.message',
  integrationStatus: '$context.integration.status',
  integrationError: '$context.integration.error',
  integrationLatency: '$context.integration.latency',
  authorizeError: '$context.authorize.error',
  authorizerError: '$context.authorizer.error',
  principalId: '$context.authorizer.principalId',
});

/** `\$default`: a static template key (the backslash stops `$default` being read as a variable). */
const STATIC_DEFAULT_TEMPLATE = '\\$default';

export class WebSocketApi extends pulumi.ComponentResource {
  readonly api: aws.apigatewayv2.Api;
  readonly stage: aws.apigatewayv2.Stage;
  readonly deployment: aws.apigatewayv2.Deployment;
  readonly functions: Record<RouteHandlerName, LambdaFunction>;
  readonly routes: Record<string, aws.apigatewayv2.Route>;
  readonly authorizer?: aws.apigatewayv2.Authorizer;
  readonly authorizerFunction?: LambdaFunction;
  readonly accessLogGroup: aws.cloudwatch.LogGroup;
  readonly apiId: pulumi.Output<string>;
  readonly stageName: pulumi.Output<string>;
  /** wss://…/{stage}, or wss://{custom domain} when one is set. */
  readonly websocketUrl: pulumi.Output<string>;
  /** https://{apiId}.execute-api.{region}.{dnsSuffix}/{stage}: always the execute-api host. */
  readonly managementEndpoint: pulumi.Output<string>;

  constructor(name: string, args: WebSocketApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super('realtime:components:WebSocketApi', name, {}, opts);
    const parent = { parent: this };
    const { stageName } = args;

    this.api = new aws.apigatewayv2.Api(
      `${name}-api`,
      { protocolType: 'WEBSOCKET', routeSelectionExpression: ROUTE_SELECTION_EXPRESSION, description: 'realtime pub/sub WebSocket API' },
      parent,
    );
    this.apiId = this.api.id;
    const apiId = this.api.id;
    // Invoke permissions name this API, this stage and one route: arn:…:{apiId}/{stage}/{routeKey}.
    const routeSourceArn = (routeKey: string) => pulumi.interpolate`${this.api.executionArn}/${stageName}/${routeKey}`;

    const makeFunction = (handler: HandlerName, settings: FunctionSettings) =>
      new LambdaFunction(
        `${name}-${handler}`,
        { handler, ...settings, logRetentionDays: args.logRetentionDays, logLevel: args.logLevel },
        parent,
      );

    // ---- optional $connect authorizer ----
    if (args.authorizer) {
      this.authorizerFunction = makeFunction(AUTHORIZER_HANDLER, args.authorizer);
      // No identity sources: the token may come as ?token= or in Sec-WebSocket-Protocol, and API
      // Gateway answers 401 without calling the authorizer when ANY listed source is missing.
      // WebSocket authorizers cannot cache results, so an empty list costs nothing; the
      // authorizer itself rejects a connect that carries no token.
      this.authorizer = new aws.apigatewayv2.Authorizer(
        `${name}-authorizer`,
        { apiId, authorizerType: 'REQUEST', authorizerUri: this.authorizerFunction.invokeArn, identitySources: [], name: `${name}-authorizer` },
        parent,
      );
      new aws.lambda.Permission(
        `${name}-authorizer-invoke`,
        {
          action: 'lambda:InvokeFunction',
          function: this.authorizerFunction.name,
          principal: 'apigateway.amazonaws.com',
          sourceArn: pulumi.interpolate`${this.api.executionArn}/authorizers/${this.authorizer.id}`,
        },
        parent,
      );
    } else {
      pulumi.log.warn(
        'Authentication is OFF: anyone who knows the WebSocket URL can connect and subscribe to any topic. ' +
          'Set realtime:authEnabled=true and one key source to require a token.',
        this,
      );
    }

    // ---- Lambda proxy routes ----
    // The stage name is known up front, so the endpoint does not wait for the stage (which waits for these routes).
    const managementEndpoint = pulumi.interpolate`https://${apiId}.execute-api.${args.arn.region}.${args.arn.dnsSuffix}/${stageName}`;
    const routeSettings = typeof args.routes === 'function' ? args.routes({ apiId, stageName, managementEndpoint }) : args.routes;
    const functions = {} as Record<RouteHandlerName, LambdaFunction>;
    this.routes = {};
    const deployedParts: pulumi.Output<string>[] = [];
    const dependencies: pulumi.Resource[] = [];
    if (this.authorizer && this.authorizerFunction) {
      dependencies.push(this.authorizer);
      deployedParts.push(pulumi.interpolate`authorizer:${this.authorizer.id}:${this.authorizerFunction.arn}`);
    }
    for (const route of LAMBDA_ROUTES) {
      const settings = routeSettings[route.handler];
      if (!settings) throw new Error(`WebSocketApi ${name}: no function settings for route ${route.routeKey} (${route.handler})`);
      const fn = makeFunction(route.handler, settings);
      functions[route.handler] = fn;
      const integration = new aws.apigatewayv2.Integration(
        `${name}-${route.handler}-integration`,
        { apiId, integrationType: 'AWS_PROXY', integrationMethod: 'POST', integrationUri: fn.invokeArn },
        parent,
      );
      const withAuthorizer = route.routeKey === '$connect' && this.authorizer !== undefined;
      const r = new aws.apigatewayv2.Route(
        `${name}-${route.handler}-route`,
        {
          apiId,
          routeKey: route.routeKey,
          target: pulumi.interpolate`integrations/${integration.id}`,
          authorizationType: withAuthorizer ? 'CUSTOM' : 'NONE',
          authorizerId: withAuthorizer ? this.authorizer?.id : undefined,
          routeResponseSelectionExpression: route.twoWay ? '$default' : undefined,
        },
        parent,
      );
      this.routes[route.routeKey] = r;
      dependencies.push(integration, r);
      // The function's ARN is in the integration URI: a replaced function needs a new deployment too.
      deployedParts.push(pulumi.interpolate`${route.routeKey}:${r.id}:${integration.id}:${fn.arn}:${withAuthorizer ? 'custom' : 'none'}`);
      if (route.twoWay) {
        const response = new aws.apigatewayv2.RouteResponse(
          `${name}-${route.handler}-route-response`,
          { apiId, routeId: r.id, routeResponseKey: '$default' },
          parent,
        );
        dependencies.push(response);
        deployedParts.push(pulumi.interpolate`${route.routeKey}:response:${response.id}`);
      }
      new aws.lambda.Permission(
        `${name}-${route.handler}-invoke`,
        { action: 'lambda:InvokeFunction', function: fn.name, principal: 'apigateway.amazonaws.com', sourceArn: routeSourceArn(route.routeKey) },
        parent,
      );
    }
    this.functions = functions;

    // ---- MOCK routes (ping → pong without a Lambda) ----
    for (const mock of MOCK_ROUTES) {
      const integration = new aws.apigatewayv2.Integration(
        `${name}-${mock.routeKey}-integration`,
        {
          apiId,
          integrationType: 'MOCK',
          requestTemplates: { $default: mock.requestTemplate },
          templateSelectionExpression: STATIC_DEFAULT_TEMPLATE,
        },
        parent,
      );
      const integrationResponse = new aws.apigatewayv2.IntegrationResponse(
        `${name}-${mock.routeKey}-integration-response`,
        {
          apiId,
          integrationId: integration.id,
          integrationResponseKey: '$default',
          responseTemplates: { $default: mock.responseTemplate },
          templateSelectionExpression: STATIC_DEFAULT_TEMPLATE,
        },
        parent,
      );
      const r = new aws.apigatewayv2.Route(
        `${name}-${mock.routeKey}-route`,
        {
          apiId,
          routeKey: mock.routeKey,
          target: pulumi.interpolate`integrations/${integration.id}`,
          authorizationType: 'NONE',
          routeResponseSelectionExpression: '$default',
        },
        parent,
      );
      const response = new aws.apigatewayv2.RouteResponse(
        `${name}-${mock.routeKey}-route-response`,
        { apiId, routeId: r.id, routeResponseKey: '$default' },
        parent,
      );
      this.routes[mock.routeKey] = r;
      dependencies.push(integration, integrationResponse, r, response);
      deployedParts.push(
        pulumi.interpolate`${mock.routeKey}:mock:${r.id}:${integration.id}:${integrationResponse.id}:${response.id}:${mock.requestTemplate}:${mock.responseTemplate}`,
      );
    }

    // ---- Deployment: re-created when any route, integration or response changes ----
    const redeployment = pulumi.all(deployedParts).apply((parts) => createHash('sha256').update(parts.sort().join('\n')).digest('hex'));
    this.deployment = new aws.apigatewayv2.Deployment(
      `${name}-deployment`,
      { apiId, description: 'realtime routes', triggers: { redeployment } },
      { parent: this, dependsOn: dependencies },
    );

    // ---- Stage: throttling, access logs, execution logs ----
    const executionLogLevel = args.executionLogLevel ?? 'ERROR';
    const stageDependencies: pulumi.Resource[] = [];
    if (args.manageApiGatewayAccount ?? true) stageDependencies.push(this.apiGatewayAccount(name, args.arn));
    if (executionLogLevel !== 'OFF') {
      // API Gateway would create this group itself, with no retention.
      stageDependencies.push(
        new aws.cloudwatch.LogGroup(
          `${name}-execution-logs`,
          { name: pulumi.interpolate`API-Gateway-Execution-Logs_${apiId}/${stageName}`, retentionInDays: args.logRetentionDays },
          parent,
        ),
      );
    }
    this.accessLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-access-logs`,
      { namePrefix: `/aws/apigateway/${name}-access-`, retentionInDays: args.logRetentionDays },
      parent,
    );
    this.stage = new aws.apigatewayv2.Stage(
      `${name}-stage`,
      {
        apiId,
        name: stageName,
        deploymentId: this.deployment.id,
        defaultRouteSettings: {
          throttlingBurstLimit: args.throttlingBurstLimit,
          throttlingRateLimit: args.throttlingRateLimit,
          loggingLevel: executionLogLevel,
          dataTraceEnabled: false,
          detailedMetricsEnabled: false,
        },
        accessLogSettings: { destinationArn: this.accessLogGroup.arn, format: ACCESS_LOG_FORMAT },
      },
      { parent: this, dependsOn: stageDependencies },
    );
    this.stageName = this.stage.name;

    this.managementEndpoint = managementEndpoint;
    this.websocketUrl = args.customDomain
      ? this.customDomain(name, args.customDomain)
      : pulumi.interpolate`${this.api.apiEndpoint}/${this.stage.name}`;

    this.registerOutputs({ apiId: this.apiId, websocketUrl: this.websocketUrl, managementEndpoint: this.managementEndpoint });
  }

  /** The account-wide role API Gateway logs with; kept on destroy so other APIs keep logging. */
  private apiGatewayAccount(name: string, arn: ArnContext): aws.apigateway.Account {
    const role = new aws.iam.Role(
      `${name}-apigw-logs-role`,
      {
        description: 'API Gateway writes execution and access logs to CloudWatch Logs',
        assumeRolePolicy: assumeRolePolicyFor('apigateway.amazonaws.com'),
      },
      { parent: this, retainOnDelete: true },
    );
    const policy = new aws.iam.RolePolicy(
      `${name}-apigw-logs-policy`,
      { role: role.id, policy: policyDocument([apiGatewayLogsStatement(arn)]) },
      { parent: this, retainOnDelete: true },
    );
    return new aws.apigateway.Account(`${name}-apigw-account`, { cloudwatchRoleArn: role.arn }, { parent: this, dependsOn: [policy] });
  }

  /** Custom domain at the root path (wss://domain, no stage segment); returns its URL. */
  private customDomain(name: string, domain: CustomDomainArgs): pulumi.Output<string> {
    const domainName = new aws.apigatewayv2.DomainName(
      `${name}-domain`,
      {
        domainName: domain.domainName,
        domainNameConfiguration: { certificateArn: domain.certificateArn, endpointType: 'REGIONAL', securityPolicy: 'TLS_1_2' },
      },
      { parent: this },
    );
    const mapping = new aws.apigatewayv2.ApiMapping(
      `${name}-domain-mapping`,
      { apiId: this.api.id, domainName: domainName.id, stage: this.stage.id },
      { parent: this },
    );
    if (domain.hostedZoneId) {
      new aws.route53.Record(
        `${name}-domain-record`,
        {
          zoneId: domain.hostedZoneId,
          name: domain.domainName,
          type: 'A',
          aliases: [
            {
              name: domainName.domainNameConfiguration.targetDomainName.apply((t) => t ?? ''),
              zoneId: domainName.domainNameConfiguration.hostedZoneId.apply((z) => z ?? ''),
              evaluateTargetHealth: false,
            },
          ],
        },
        { parent: this },
      );
    }
    return mapping.id.apply(() => `wss://${domain.domainName}`);
  }
}
