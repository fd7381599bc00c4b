/**
 * The stack's CloudWatch dashboard, read from the body the program registers: it parses and
 * fits CloudWatch's grid; every metric is either one AWS documents for that service
 * (components/cloudwatch-metrics.ts, with exactly its dimensions) or one the handler behind its
 * `service` dimension really emits (read from the code of that handler's bundle); every dimension
 * names a resource of this stack; nothing the operator needs is missing. And the handlers, run
 * with the stack's own environment, write exactly those namespaces, names and dimensions.
 */
import { expect } from 'chai';
import { AWS_METRICS, EMF_METRICS } from '../../components/cloudwatch-metrics';
import { FAN_OUT_METRICS } from '../../components/dashboard';
import { makeHandler as makeDeliverHandler } from '../../functions/handlers/deliver';
import { makeHandler as makePublishHandler } from '../../functions/handlers/publish';
import { ENV } from '../../protocol/env';
import { HANDLER_NAMES, type HandlerName } from '../../protocol/routes';
import { FakePoster } from '../functions/fake-poster';
import { withFakeDeliveryQueue } from '../functions/fake-queue';
import { withFakeTable } from '../functions/fake-table';
import { captureOutput, sqsEvent, sqsRecord, testEnv } from '../functions/helpers';
import { emittedMetrics, metricsInSource } from './emitted-metrics';
import { ACCOUNT, API_ID, AUTH_SSM, REGION, runProgram, type ProgramRun, type Recorded } from './harness';

interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, any>;
}

/** One metric line of a widget, decoded. */
interface Line {
  widget: string;
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  options: Record<string, unknown>;
}

interface Dashboard {
  resource: Recorded;
  body: { widgets: Widget[] } & Record<string, unknown>;
  lines: Line[];
}

function decodeLine(widget: string, raw: unknown): Line {
  if (!Array.isArray(raw) || raw.length < 2) throw new Error(`${widget}: a metric line must be an array [namespace, name, …]: ${JSON.stringify(raw)}`);
  const last = raw[raw.length - 1];
  const options = typeof last === 'object' && last !== null && !Array.isArray(last) ? (last as Record<string, unknown>) : {};
  const parts = options === last ? raw.slice(0, -1) : raw;
  if (!parts.every((p) => typeof p === 'string' && p !== '' && p !== '...')) throw new Error(`${widget}: every part of ${JSON.stringify(raw)} must be a full, non-empty string`);
  const [namespace, name, ...pairs] = parts as string[];
  if (pairs.length % 2 !== 0) throw new Error(`${widget}: dimensions come in name/value pairs: ${JSON.stringify(raw)}`);
  const dimensions: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) dimensions[pairs[i]] = pairs[i + 1];
  return { widget, namespace, name, dimensions, options };
}

function readDashboard(run: ProgramRun): Dashboard {
  const found = run.ofType('aws:cloudwatch/dashboard:Dashboard');
  expect(found, 'dashboards').to.have.length(1);
  const body = JSON.parse(found[0].inputs.dashboardBody as string);
  const lines = (body.widgets as Widget[])
    .filter((w) => w.type === 'metric')
    .flatMap((w) => (w.properties.metrics as unknown[]).map((raw) => decodeLine(w.properties.title, raw)));
  return { resource: found[0], body, lines };
}

const handlerOf = (fn: Recorded): HandlerName => {
  const handler = HANDLER_NAMES.find((h) => fn.name.endsWith(`-${h}-fn`));
  if (!handler) throw new Error(`${fn.name} is no handler's function`);
  return handler;
};

const AWS_FAMILIES = Object.values(AWS_METRICS);

describe('infra: the CloudWatch dashboard', function () {
  // Runs the program (shared with the other infra tests) and bundles each handler once.
  this.timeout(120_000);
  let run: ProgramRun;
  let dash: Dashboard;
  before(async () => {
    run = await runProgram();
    dash = readDashboard(run);
  });

  const functions = () => run.ofType('aws:lambda/function:Function');
  const queueNamed = (logical: string) => run.named('aws:sqs/queue:Queue', logical).state.name as string;

  it('is one dashboard, named after the project, stack and component, and the dashboardUrl output opens it in the console', () => {
    expect(dash.resource.inputs.dashboardName).to.equal('realtime-test-realtime-dashboard');
    expect(run.outputs.dashboardUrl).to.equal(
      `https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards/dashboard/realtime-test-realtime-dashboard`,
    );
  });

  it('has a body CloudWatch accepts: widgets on the 24-column grid without overlaps, each metric widget with its region and well-formed metric lines', () => {
    const widgets = dash.body.widgets;
    expect(widgets.length).to.be.within(1, 500);
    const cells = new Set<string>();
    for (const w of widgets) {
      expect(['metric', 'text', 'alarm'], `widget type of ${JSON.stringify(w).slice(0, 80)}`).to.include(w.type);
      expect(w.x + w.width, `${w.properties.title} fits 24 columns`).to.be.at.most(24);
      expect(Number.isInteger(w.x) && Number.isInteger(w.y) && w.width > 0 && w.height > 0).to.equal(true);
      for (let x = w.x; x < w.x + w.width; x++) {
        for (let y = w.y; y < w.y + w.height; y++) {
          expect(cells.has(`${x},${y}`), `${w.properties.title ?? w.type} overlaps another widget at ${x},${y}`).to.equal(false);
          cells.add(`${x},${y}`);
        }
      }
      if (w.type === 'metric') {
        expect(w.properties, w.properties.title).to.include({ region: REGION, view: 'timeSeries' });
        expect(w.properties.title).to.be.a('string').and.not.equal('');
        expect(w.properties.metrics, w.properties.title).to.be.an('array').that.is.not.empty;
        expect(w.properties.period).to.equal(60);
      }
    }
    // Every line decoded (readDashboard throws on a malformed one), and there are many.
    expect(dash.lines.length).to.be.greaterThan(30);
  });

  it('names only AWS metrics of the documented catalogue (components/cloudwatch-metrics.ts), each with exactly its dimensions', () => {
    for (const family of AWS_FAMILIES) expect(family.docs.every((url) => url.startsWith('https://docs.aws.amazon.com/')), family.namespace).to.equal(true);
    const awsLines = dash.lines.filter((l) => l.namespace !== EMF_METRICS.namespace);
    expect(awsLines).to.not.be.empty;
    for (const line of awsLines) {
      const family = AWS_FAMILIES.find((f) => f.namespace === line.namespace);
      expect(family, `${line.widget}: namespace ${line.namespace}`).to.not.equal(undefined);
      expect(family!.metrics as readonly string[], `${line.widget}: ${line.namespace} ${line.name}`).to.include(line.name);
      expect(Object.keys(line.dimensions).sort(), `${line.widget}: dimensions of ${line.name}`).to.deep.equal([...family!.dimensions].sort());
    }
  });

  it("names only EMF metrics that the bundle of the function behind the line's service dimension emits", () => {
    const emfLines = dash.lines.filter((l) => l.namespace === EMF_METRICS.namespace);
    expect(emfLines).to.not.be.empty;
    const byService = new Map(functions().map((fn) => [fn.inputs.environment.variables[ENV.serviceName] as string, fn]));
    for (const line of emfLines) {
      expect(Object.keys(line.dimensions), `${line.widget}: ${line.name}`).to.deep.equal([...EMF_METRICS.dimensions]);
      const fn = byService.get(line.dimensions.service);
      expect(fn, `${line.widget}: no function of the stack has the service name ${line.dimensions.service}`).to.not.equal(undefined);
      expect(fn!.inputs.environment.variables[ENV.metricsNamespace], `${fn!.name}'s metrics namespace`).to.equal(line.namespace);
      const handler = handlerOf(fn!);
      expect([...emittedMetrics(handler).keys()], `${line.widget}: ${handler} never emits ${line.name}`).to.include(line.name);
    }
  });

  it('reads metric names from the handler source, literal or looped, and refuses a name it cannot read', () => {
    const source = [
      "metrics.addMetric('single', MetricUnit.Count, 1);",
      "const KEPT = 'kept';",
      'metrics.addMetric(KEPT, MetricUnit.Count, 1);',
      "for (const name of ['a', 'b'] as const) metrics.addMetric(name, MetricUnit.Count, c[name]);",
    ].join('\n');
    expect(metricsInSource('x.ts', source)).to.deep.equal(['single', 'kept', 'a', 'b']);
    expect(() => metricsInSource('y.ts', 'metrics.addMetric(`${prefix}Count`, MetricUnit.Count, 1);')).to.throw(/y\.ts:1: cannot tell which metric/);
    expect(() => metricsInSource('z.ts', 'for (const n of names) metrics.addMetric(n, MetricUnit.Count, 1);')).to.throw(/z\.ts:1/);
  });

  it("filters by this stack's resources: its queues, its functions, its API and stage", () => {
    const queues = new Set(run.ofType('aws:sqs/queue:Queue').map((q) => q.state.name as string));
    const fnNames = new Set(functions().map((f) => f.state.name as string));
    const api = run.ofType('aws:apigatewayv2/api:Api')[0];
    const stage = run.ofType('aws:apigatewayv2/stage:Stage')[0];
    for (const line of dash.lines) {
      const where = `${line.widget}: ${line.name}`;
      if (line.dimensions.QueueName !== undefined) expect([...queues], where).to.include(line.dimensions.QueueName);
      if (line.dimensions.FunctionName !== undefined) expect([...fnNames], where).to.include(line.dimensions.FunctionName);
      if (line.dimensions.ApiId !== undefined) {
        expect(line.dimensions.ApiId, where).to.equal(api.id).and.equal(API_ID);
        expect(line.dimensions.Stage, where).to.equal(stage.inputs.name).and.equal('prod');
      }
    }
  });

  it("shows what an operator needs: fan-out counts, queues, DLQs, the API's traffic and errors, and every function's health", () => {
    const has = (namespace: string, name: string, dimensions: Record<string, string>) =>
      dash.lines.some((l) => l.namespace === namespace && l.name === name && Object.entries(dimensions).every(([k, v]) => l.dimensions[k] === v));
    const service = (handler: string) => `realtime-${handler}`;
    for (const handler of ['publish', 'deliver']) {
      for (const metric of [FAN_OUT_METRICS.delivered, FAN_OUT_METRICS.gone, FAN_OUT_METRICS.throttled, FAN_OUT_METRICS.failed]) {
        expect(has(EMF_METRICS.namespace, metric, { service: service(handler) }), `${metric} of ${handler}`).to.equal(true);
      }
    }
    expect(has(EMF_METRICS.namespace, FAN_OUT_METRICS.fanOutDuration, { service: service('publish') }), 'fanOutDuration').to.equal(true);
    for (const queue of ['realtime-pipeline-queue', 'realtime-delivery-queue']) {
      for (const metric of ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage']) {
        expect(has('AWS/SQS', metric, { QueueName: queueNamed(queue) }), `${metric} of ${queue}`).to.equal(true);
      }
    }
    for (const dlq of ['realtime-pipeline-dlq', 'realtime-delivery-dlq']) {
      expect(has('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: queueNamed(dlq) }), dlq).to.equal(true);
    }
    for (const metric of ['ConnectCount', 'MessageCount', 'ClientError', 'IntegrationError', 'ExecutionError', 'IntegrationLatency']) {
      expect(has('AWS/ApiGateway', metric, { ApiId: API_ID, Stage: 'prod' }), metric).to.equal(true);
    }
    expect(functions()).to.have.length.greaterThan(5);
    for (const fn of functions()) {
      for (const metric of ['Errors', 'Throttles', 'ConcurrentExecutions', 'Duration']) {
        expect(has('AWS/Lambda', metric, { FunctionName: fn.state.name }), `${metric} of ${fn.name}`).to.equal(true);
      }
    }
  });

  it("shows the state of every alarm of the stack, by ARN", () => {
    const alarms = dash.body.widgets.filter((w) => w.type === 'alarm');
    expect(alarms).to.have.length(1);
    const arns = run.ofType('aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => a.state.arn as string);
    expect(arns).to.have.length(4);
    expect([...alarms[0].properties.alarms].sort()).to.deep.equal(arns.sort());
    for (const arn of arns) expect(arn).to.match(new RegExp(`^arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:`));
  });

  it('follows the settings: a custom stage and the authorizer function appear on it', async () => {
    const other = readDashboard(await runProgram({ ...AUTH_SSM, stageName: 'live' }));
    const stages = new Set(other.lines.filter((l) => l.dimensions.Stage !== undefined).map((l) => l.dimensions.Stage));
    expect([...stages]).to.deep.equal(['live']);
    const authorizerErrors = other.lines.filter((l) => l.name === 'Errors' && l.options.label === 'authorizer');
    expect(authorizerErrors).to.have.length(1);
    expect(authorizerErrors[0].dimensions.FunctionName).to.match(/authorizer/);
  });

  describe('what the handlers write, run with the stack’s own environment (EMF on stdout)', () => {
    const db = withFakeTable();
    withFakeDeliveryQueue();
    const poster = new FakePoster();

    /** Namespace, metric name, dimension keys and values of every metric in EMF lines of output. */
    function emfOf(lines: string[]): { namespace: string; name: string; dimensions: Record<string, string> }[] {
      const out = [];
      for (const line of lines) {
        const record = JSON.parse(line) as Record<string, any>;
        for (const directive of record._aws?.CloudWatchMetrics ?? []) {
          for (const keys of directive.Dimensions as string[][]) {
            for (const metric of directive.Metrics as { Name: string }[]) {
              out.push({ namespace: directive.Namespace, name: metric.Name, dimensions: Object.fromEntries(keys.map((k) => [k, String(record[k])])) });
            }
          }
        }
      }
      return out;
    }

    /** The env of a handler's function in the stack, for Powertools (namespace and service name), over the quiet test env. */
    const stackEnv = (handler: HandlerName) => {
      const fn = functions().find((f) => handlerOf(f) === handler)!;
      const variables = fn.inputs.environment.variables as Record<string, string>;
      return testEnv({
        POWERTOOLS_METRICS_DISABLED: 'false',
        [ENV.serviceName]: variables[ENV.serviceName],
        [ENV.metricsNamespace]: variables[ENV.metricsNamespace],
      });
    };

    function expectDashboardMetricsIn(handler: HandlerName, emitted: ReturnType<typeof emfOf>) {
      const service = stackEnv(handler)[ENV.serviceName];
      const read = dash.lines.filter((l) => l.namespace === EMF_METRICS.namespace && l.dimensions.service === service);
      expect(read, `the dashboard reads metrics of ${service}`).to.not.be.empty;
      for (const line of read) {
        const match = emitted.find((e) => e.namespace === line.namespace && e.name === line.name);
        expect(match, `${handler} wrote no ${line.namespace}/${line.name}`).to.not.equal(undefined);
        expect(match!.dimensions, `dimensions of ${line.name} as ${handler} writes them`).to.deep.equal(line.dimensions);
      }
    }

    it('publish (one envelope delivered, one rejected) writes every metric the dashboard reads of it, with the same dimensions', async () => {
      poster.reset();
      db.table.subscribe('a=', 't');
      const { lines } = await captureOutput(() =>
        makePublishHandler(stackEnv('publish'), { poster })(sqsEvent(sqsRecord('m1', { topic: 't', data: 1 }), sqsRecord('m2', '{ not json')), undefined),
      );
      expect(poster.calls).to.have.length(1);
      expectDashboardMetricsIn('publish', emfOf(lines));
    });

    it('deliver (one slice job) writes every metric the dashboard reads of it, with the same dimensions', async () => {
      poster.reset();
      const frame = JSON.stringify({ type: 'message', topic: 't', id: 'm1', seq: 1, epoch: 'e1', data: 1, publishedAt: '2026-01-01T00:00:00.000Z' });
      const job = { kind: 'slice', messageId: 'm1', topic: 't', frame, connectionIds: ['a=', 'b='], attempt: 0 };
      const { lines } = await captureOutput(() => makeDeliverHandler(stackEnv('deliver'), { poster })(sqsEvent(sqsRecord('q1', job)), undefined));
      expect(poster.calls).to.have.length(2);
      expectDashboardMetricsIn('deliver', emfOf(lines));
    });
  });
});
