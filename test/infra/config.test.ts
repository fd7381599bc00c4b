/**
 * Stack configuration: Pulumi.yaml declares every setting with the program's defaults, the
 * example stack is valid, overrides visibly change the resources, and bad values fail with an
 * error naming them.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS, parseStackConfig } from '../../components/config';
import { ENV } from '../../protocol/env';
import { LAMBDA_ROUTES } from '../../protocol/routes';
import { eventRuleSchema } from '../../protocol/rules';
import { API_ID, AUTH_SSM, REGION, functionParts, runProgram, type ProgramRun } from './harness';

const ROOT = path.resolve(__dirname, '../..');
const readYaml = (file: string) => parse(readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, any>;

describe('infra: stack configuration', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  describe('Pulumi.yaml', () => {
    const project = readYaml('Pulumi.yaml');

    it('is the realtime project on the nodejs runtime', () => {
      expect(project.name).to.equal('realtime');
      expect(project.runtime.name).to.equal('nodejs');
    });

    it('declares every setting, with the type, default and a description matching the program', () => {
      const declared = project.config as Record<string, { type: string; default: unknown; description: string; items?: { type: string } }>;
      expect(Object.keys(declared).sort()).to.deep.equal(Object.keys(CONFIG_DEFAULTS).sort());
      for (const [key, value] of Object.entries(CONFIG_DEFAULTS)) {
        const d = declared[key];
        const type = Array.isArray(value) ? 'array' : typeof value === 'number' ? 'integer' : typeof value;
        expect(d.type, `${key} type`).to.equal(type);
        expect(d.default, `${key} default`).to.deep.equal(value);
        expect(d.description, `${key} description`).to.be.a('string').and.have.length.above(10);
        // Arrays of objects (eventRules), except the topic patterns of presenceTopics.
        if (type === 'array') expect(d.items, `${key} items`).to.deep.equal({ type: key === 'presenceTopics' ? 'string' : 'object' });
      }
    });
  });

  describe('Pulumi.dev.yaml', () => {
    const stack = readYaml('Pulumi.dev.yaml').config as Record<string, unknown>;

    it('names a region and only settings the project declares, with valid values', () => {
      expect(stack['aws:region']).to.be.a('string');
      const settings: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(stack)) {
        const [namespace, name] = key.split(':');
        if (namespace === 'aws') continue;
        expect(namespace, key).to.equal('realtime');
        settings[name] = value;
      }
      expect(() => parseStackConfig(settings)).to.not.throw();
    });

    it('has a sample rule turning shop.orders events into orders/{detail.orderId}', () => {
      const rules = (stack['realtime:eventRules'] as unknown[]).map((r) => eventRuleSchema.parse(r));
      expect(rules).to.deep.include({ name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}', dataPath: 'detail' });
    });
  });

  describe('defaults and overrides', () => {
    const OVERRIDES = {
      stageName: 'live',
      logRetentionDays: 7,
      logLevel: 'DEBUG',
      throttlingBurstLimit: 50,
      throttlingRateLimit: 25,
      executionLogLevel: 'OFF',
      manageApiGatewayAccount: false,
      routeMemoryMb: 512,
      routeTimeoutSeconds: 5,
      publishConcurrency: 16,
      maxSubscriptionsPerConnection: 20,
      maxTopicLength: 64,
      maxPublishBytes: 32768,
      postConnectTimeoutMs: 500,
      postRequestTimeoutMs: 1500,
      postMaxAttempts: 2,
      publishMemoryMb: 2048,
      publishTimeoutSeconds: 30,
      batchSize: 50,
      maxBatchingWindowSeconds: 2,
      maximumConcurrency: 4,
      maxReceiveCount: 3,
      oldestMessageAlarmSeconds: 120,
      rateBudget: 2000,
      sliceThreshold: 300,
      sliceSize: 250,
      deliveryMaxAttempts: 3,
      deliveryBatchSize: 2,
      deliveryMaximumConcurrency: 40,
      historyRetentionSeconds: 600,
      historyMaxMessages: 50,
    };
    let base: ProgramRun;
    let changed: ProgramRun;
    before(async () => {
      base = await runProgram();
      changed = await runProgram(OVERRIDES);
    });

    const stage = (r: ProgramRun) => r.ofType('aws:apigatewayv2/stage:Stage')[0].inputs;
    const queue = (r: ProgramRun) => r.named('aws:sqs/queue:Queue', 'realtime-pipeline-queue').inputs;
    const mapping = (r: ProgramRun, name = 'realtime-pipeline-source') => r.named('aws:lambda/eventSourceMapping:EventSourceMapping', name).inputs;
    const env = async (r: ProgramRun, handler: string) => (await functionParts(r, handler)).fn.inputs.environment.variables as Record<string, string>;

    it('sets the stage name, throttling and log levels', () => {
      expect([stage(base).name, stage(changed).name]).to.deep.equal(['prod', 'live']);
      expect(base.outputs.websocketUrl).to.match(/\/prod$/);
      expect(changed.outputs.websocketUrl).to.equal(`wss://${API_ID}.execute-api.${REGION}.amazonaws.com/live`);
      expect(changed.outputs.managementEndpoint).to.equal(`https://${API_ID}.execute-api.${REGION}.amazonaws.com/live`);
      expect(stage(changed).defaultRouteSettings).to.deep.include({ throttlingBurstLimit: 50, throttlingRateLimit: 25, loggingLevel: 'OFF' });
      expect(changed.ofType('aws:cloudwatch/logGroup:LogGroup').filter((g) => String(g.inputs.name).startsWith('API-Gateway-Execution-Logs'))).to.have.length(0);
      expect(changed.ofType('aws:apigateway/account:Account')).to.have.length(0);
    });

    it('sets log retention on every log group', () => {
      const retention = (r: ProgramRun) => new Set(r.ofType('aws:cloudwatch/logGroup:LogGroup').map((g) => g.inputs.retentionInDays));
      expect(retention(base)).to.deep.equal(new Set([30]));
      expect(retention(changed)).to.deep.equal(new Set([7]));
    });

    it('sizes the functions', async () => {
      const size = async (r: ProgramRun, handler: string) => {
        const { fn } = await functionParts(r, handler);
        return [fn.inputs.memorySize, fn.inputs.timeout, fn.inputs.loggingConfig.applicationLogLevel];
      };
      expect(await size(base, 'subscribe')).to.deep.equal([256, 10, 'INFO']);
      expect(await size(changed, 'subscribe')).to.deep.equal([512, 5, 'DEBUG']);
      expect(await size(base, 'publish')).to.deep.equal([1024, 60, 'INFO']);
      expect(await size(changed, 'publish')).to.deep.equal([2048, 30, 'DEBUG']);
    });

    it('passes limits and timeouts to the handlers through their environment', async () => {
      expect(await env(base, 'publish')).to.deep.include({
        [ENV.publishConcurrency]: '64',
        // The cap on topics per envelope is the subscription cap.
        [ENV.maxSubscriptionsPerConnection]: '100',
        [ENV.maxPublishBytes]: '131072',
        [ENV.postConnectTimeoutMs]: '1000',
        [ENV.postRequestTimeoutMs]: '3000',
        [ENV.postMaxAttempts]: '4',
        [ENV.managementEndpoint]: `https://${API_ID}.execute-api.${REGION}.amazonaws.com/prod`,
        [ENV.logLevel]: 'INFO',
      });
      expect(await env(changed, 'publish')).to.deep.include({
        [ENV.publishConcurrency]: '16',
        [ENV.maxSubscriptionsPerConnection]: '20',
        [ENV.maxTopicLength]: '64',
        [ENV.maxPublishBytes]: '32768',
        [ENV.postConnectTimeoutMs]: '500',
        [ENV.postRequestTimeoutMs]: '1500',
        [ENV.postMaxAttempts]: '2',
        [ENV.managementEndpoint]: `https://${API_ID}.execute-api.${REGION}.amazonaws.com/live`,
        [ENV.logLevel]: 'DEBUG',
      });
      expect(await env(changed, 'subscribe')).to.deep.include({ [ENV.maxSubscriptionsPerConnection]: '20', [ENV.maxTopicLength]: '64' });
      const tableName = base.named('aws:dynamodb/table:Table', 'realtime-connections-table').state.name;
      for (const route of LAMBDA_ROUTES) {
        const vars = await env(base, route.handler);
        expect(vars[ENV.tableName], route.handler).to.equal(route.handler === 'default' ? undefined : tableName);
        // Only subscribe posts (a resume's replay); the others reply through route responses.
        expect(vars[ENV.managementEndpoint], route.handler).to.equal(route.handler === 'subscribe' ? `https://${API_ID}.execute-api.${REGION}.amazonaws.com/prod` : undefined);
      }
    });

    it('passes the delivery and history settings to the functions that use them, and to no other', async () => {
      const history = changed.named('aws:dynamodb/table:Table', 'realtime-history-table').state.name;
      const delivery = changed.named('aws:sqs/queue:Queue', 'realtime-delivery-queue').state.url;
      const deliveryDlq = changed.named('aws:sqs/queue:Queue', 'realtime-delivery-dlq').state.url;
      const jobs = { [ENV.deliveryQueueUrl]: delivery, [ENV.deliveryDlqUrl]: deliveryDlq, [ENV.sliceSize]: '250', [ENV.deliveryMaxAttempts]: '3', [ENV.rateBudget]: '2000' };
      const historyEnv = { [ENV.historyTableName]: history, [ENV.historyRetentionSeconds]: '600', [ENV.historyMaxMessages]: '50' };
      expect(await env(changed, 'publish')).to.deep.include({ ...jobs, ...historyEnv, [ENV.sliceThreshold]: '300' });
      expect(await env(changed, 'deliver')).to.deep.include({ ...jobs, [ENV.publishConcurrency]: '16', [ENV.postMaxAttempts]: '2' });
      expect(await env(changed, 'subscribe')).to.deep.include(historyEnv);
      for (const handler of ['connect', 'disconnect', 'unsubscribe', 'default']) {
        const vars = await env(changed, handler);
        for (const name of [...Object.keys(jobs), ...Object.keys(historyEnv)]) expect(vars[name], `${handler} ${name}`).to.equal(undefined);
      }
      expect((await env(base, 'publish'))[ENV.rateBudget]).to.equal('5000');
    });

    it('sizes the delivery function like publish, and feeds it from the delivery queue in batches, up to its concurrency', async () => {
      const { fn } = await functionParts(changed, 'deliver');
      expect([fn.inputs.memorySize, fn.inputs.timeout]).to.deep.equal([2048, 30]);
      expect(mapping(changed, 'realtime-delivery-source')).to.deep.include({ batchSize: 2, scalingConfig: { maximumConcurrency: 40 } });
      expect(mapping(base, 'realtime-delivery-source')).to.deep.include({ batchSize: 5, scalingConfig: { maximumConcurrency: 20 } });
      const delivery = (r: ProgramRun) => r.named('aws:sqs/queue:Queue', 'realtime-delivery-queue').inputs;
      expect([delivery(base).visibilityTimeoutSeconds, delivery(changed).visibilityTimeoutSeconds]).to.deep.equal([6 * 60, 6 * 30]);
      expect(JSON.parse(delivery(changed).redrivePolicy).maxReceiveCount).to.equal(3);
    });

    it('sets batching, concurrency, redrive and the visibility timeout of the queue', () => {
      expect(mapping(changed)).to.deep.include({ batchSize: 50, maximumBatchingWindowInSeconds: 2, scalingConfig: { maximumConcurrency: 4 } });
      expect(JSON.parse(queue(changed).redrivePolicy).maxReceiveCount).to.equal(3);
      expect([queue(base).visibilityTimeoutSeconds, queue(changed).visibilityTimeoutSeconds]).to.deep.equal([6 * 60, 6 * 30 + 2]);
      const age = (r: ProgramRun) => r.named('aws:cloudwatch/metricAlarm:MetricAlarm', 'realtime-pipeline-age-alarm').inputs.threshold;
      expect([age(base), age(changed)]).to.deep.equal([300, 120]);
    });
  });

  describe('authentication', () => {
    let off: ProgramRun;
    let on: ProgramRun;
    before(async () => {
      off = await runProgram();
      on = await runProgram(AUTH_SSM);
    });

    it('puts a REQUEST authorizer on $connect only, with no identity source, when enabled', async () => {
      const authorizers = on.ofType('aws:apigatewayv2/authorizer:Authorizer');
      const { fn } = await functionParts(on, 'authorizer');
      // No identity sources: a token may come in the query or in Sec-WebSocket-Protocol, and a
      // listed source that is missing makes API Gateway answer 401 without asking the authorizer.
      expect(authorizers.map((a) => a.inputs)).to.deep.equal([
        { apiId: API_ID, authorizerType: 'REQUEST', authorizerUri: fn.state.invokeArn, identitySources: [], name: 'realtime-ws-authorizer' },
      ]);
      expect(authorizers[0].inputs.authorizerResultTtlInSeconds, 'WebSocket authorizers cannot cache').to.equal(undefined);
      for (const route of on.ofType('aws:apigatewayv2/route:Route')) {
        const custom = route.inputs.routeKey === '$connect';
        expect(route.inputs.authorizationType, route.inputs.routeKey).to.equal(custom ? 'CUSTOM' : 'NONE');
        expect(route.inputs.authorizerId, route.inputs.routeKey).to.equal(custom ? authorizers[0].id : undefined);
      }
      const invoke = on.ofType('aws:lambda/permission:Permission').filter((p) => p.inputs.function === fn.state.name);
      expect(invoke.map((p) => p.inputs.sourceArn)).to.deep.equal([`arn:aws:execute-api:${REGION}:123456789012:${API_ID}/authorizers/${authorizers[0].id}`]);
      expect((await functionParts(on, 'authorizer')).fn.inputs.environment.variables).to.deep.include({
        [ENV.authSecretParameter]: '/realtime/jwt-secret',
        [ENV.authIssuer]: 'https://issuer.example',
        [ENV.authAudience]: 'realtime',
      });
    });

    it('warns only when it is off', () => {
      expect(off.warnings.some((w) => /Authentication is OFF/.test(w))).to.equal(true);
      expect(on.warnings.some((w) => /Authentication is OFF/.test(w))).to.equal(false);
      expect(off.ofType('aws:apigatewayv2/authorizer:Authorizer')).to.have.length(0);
    });

    it('re-creates the deployment when the routes change', () => {
      const trigger = (r: ProgramRun) => r.ofType('aws:apigatewayv2/deployment:Deployment')[0].inputs.triggers.redeployment;
      expect(trigger(on)).to.not.equal(trigger(off));
    });
  });

  describe('custom domain', () => {
    it('serves clients at wss://domain, while the management endpoint stays on execute-api', async () => {
      const run = await runProgram({
        customDomainName: 'ws.example.com',
        customDomainCertificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/abc`,
        customDomainZoneId: 'Z0123456789ABC',
      });
      expect(run.outputs.websocketUrl).to.equal('wss://ws.example.com');
      expect(run.outputs.managementEndpoint).to.equal(`https://${API_ID}.execute-api.${REGION}.amazonaws.com/prod`);
      expect((await env(run, 'publish'))[ENV.managementEndpoint]).to.equal(run.outputs.managementEndpoint);
      const [domain] = run.ofType('aws:apigatewayv2/domainName:DomainName');
      expect(domain.inputs.domainNameConfiguration).to.deep.include({ endpointType: 'REGIONAL', securityPolicy: 'TLS_1_2' });
      const [mapping] = run.ofType('aws:apigatewayv2/apiMapping:ApiMapping');
      expect(mapping.inputs).to.deep.include({ apiId: API_ID, domainName: domain.id, stage: 'prod' });
      const [record] = run.ofType('aws:route53/record:Record');
      expect(record.inputs).to.deep.include({ zoneId: 'Z0123456789ABC', name: 'ws.example.com', type: 'A' });
    });
    const env = async (r: ProgramRun, handler: string) => (await functionParts(r, handler)).fn.inputs.environment.variables as Record<string, string>;
  });

  describe('invalid settings', () => {
    const failure = async (settings: Record<string, unknown>) => {
      try {
        await runProgram(settings);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`the program accepted ${JSON.stringify(settings)}`);
    };

    it('names every bad key and why, in one error', async () => {
      const message = await failure({ maximumConcurrency: 1, logRetentionDays: 10, stageName: 'a b' });
      expect(message).to.match(/realtime:maximumConcurrency/);
      expect(message).to.match(/realtime:logRetentionDays must be one of 1, 3, 5/);
      expect(message).to.match(/realtime:stageName/);
    });

    it('refuses a misspelt key instead of ignoring it', async () => {
      expect(await failure({ batchsize: 20 })).to.match(/realtime:batchsize is not a setting/);
    });

    it('refuses auth without exactly one key source, a batch over 10 without a window, and a half-set domain', async () => {
      expect(await failure({ authEnabled: true })).to.match(/exactly one of authSecretParameter, authSecretArn or authJwksUrl/);
      expect(await failure({ authEnabled: true, authSecretParameter: '/a', authJwksUrl: 'https://x.example/jwks' })).to.match(/exactly one/);
      expect(await failure({ batchSize: 20 })).to.match(/maxBatchingWindowSeconds must be at least 1/);
      expect(await failure({ customDomainName: 'ws.example.com' })).to.match(/customDomainCertificateArn/);
    });

    it('refuses an invalid event rule, naming it', async () => {
      expect(await failure({ eventRules: [{ name: 'bad name!', eventPattern: {}, topic: 'x' }] })).to.match(/realtime:eventRules\.0\.name/);
    });
  });
});
