/**
 * Runs the real Pulumi program (index.ts, or another program such as an example's) against
 * Pulumi's mocks and records every resource it registers, with its inputs. Each run sets the
 * stack config first, then imports the program afresh, so one mocha process can run it with
 * several configurations. Transforms run as the engine runs them (transforms.ts).
 */
import * as pulumi from '@pulumi/pulumi';
import * as path from 'node:path';
import { runTransformsLikeTheEngine } from './transforms';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-3';
export const API_ID = 'a1b2c3d4e5';

/** Auth settings of the three key sources, shared by the test files. */
export const AUTH_SSM = { authEnabled: true, authSecretParameter: '/realtime/jwt-secret', authIssuer: 'https://issuer.example', authAudience: 'realtime' };
export const AUTH_SECRETS_MANAGER = {
  authEnabled: true,
  authSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:realtime-jwt-AbCdEf`,
  authKmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/0f1e2d3c`,
};
/** Presence topics (they need auth: members are principals). */
export const PRESENCE = { ...AUTH_SSM, presenceTopics: ['room/*'] };
export const AUTH_JWKS = { authEnabled: true, authJwksUrl: 'https://id.example/.well-known/jwks.json' };

export interface Recorded {
  type: string;
  name: string;
  custom: boolean;
  id: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

export interface ProgramRun {
  resources: Recorded[];
  /** The program's exports, resolved. */
  outputs: Record<string, unknown>;
  /** URNs as the mock monitor built them (they carry the parent chain of types). */
  urns: string[];
  /** pulumi.log.warn messages. */
  warnings: string[];
  ofType(type: string): Recorded[];
  /** The one resource of this type whose logical name is `name`. */
  named(type: string, name: string): Recorded;
}

/** Outputs of the provider that the program reads, computed the way AWS would shape them. */
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  const physical = inputs.name ?? (inputs.namePrefix ? `${inputs.namePrefix}0a1b2c` : `${name}-0a1b2c`);
  switch (type) {
    case 'aws:dynamodb/table:Table':
      return { name: physical, arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${physical}` };
    case 'aws:apigatewayv2/api:Api':
      return {
        apiEndpoint: `wss://${API_ID}.execute-api.${REGION}.amazonaws.com`,
        executionArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}`,
      };
    case 'aws:lambda/function:Function': {
      const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${physical}`;
      return { name: physical, arn, invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${arn}/invocations` };
    }
    case 'aws:iam/role:Role':
      return { name: physical, arn: `arn:aws:iam::${ACCOUNT}:role/${physical}` };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { name: physical, arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${physical}` };
    case 'aws:sqs/queue:Queue':
      return { name: physical, arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${physical}`, url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${physical}` };
    case 'aws:cloudwatch/eventRule:EventRule': {
      const bus = inputs.eventBusName && inputs.eventBusName !== 'default' ? `${inputs.eventBusName}/` : '';
      return { name: physical, arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/${bus}${physical}` };
    }
    case 'aws:sns/topic:Topic':
      return { name: physical, arn: `arn:aws:sns:${REGION}:${ACCOUNT}:${physical}` };
    case 'aws:cloudwatch/metricAlarm:MetricAlarm':
      return { name: physical, arn: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${physical}` };
    case 'aws:cloudwatch/dashboard:Dashboard':
      return { dashboardArn: `arn:aws:cloudwatch::${ACCOUNT}:dashboard/${inputs.dashboardName}` };
    case 'aws:apigatewayv2/domainName:DomainName':
      return { domainNameConfiguration: { ...inputs.domainNameConfiguration, targetDomainName: 'd-abc.execute-api.example', hostedZoneId: 'Z2ZZZZZZZZZZZZ' } };
    default:
      return {};
  }
}

function idFor(type: string, name: string, inputs: Record<string, any>): string {
  if (type === 'aws:apigatewayv2/api:Api') return API_ID;
  if (type === 'aws:apigatewayv2/stage:Stage') return inputs.name;
  if (type === 'aws:apigatewayv2/domainName:DomainName') return inputs.domainName;
  if (type === 'aws:sqs/queue:Queue') return computed(type, name, inputs).url;
  return `${name}-id`;
}

class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: Recorded[] = [];
  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
    const id = idFor(args.type, args.name, args.inputs);
    const state = { ...args.inputs, ...computed(args.type, args.name, args.inputs) };
    this.resources.push({ type: args.type, name: args.name, custom: args.custom ?? true, id, inputs: args.inputs, state });
    return { id, state };
  }
  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    switch (args.token) {
      case 'aws:index/getCallerIdentity:getCallerIdentity':
        return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: 'AIDTEST', id: ACCOUNT };
      case 'aws:index/getRegion:getRegion':
        return { region: REGION, name: REGION, id: REGION, endpoint: `ec2.${REGION}.amazonaws.com`, description: 'test' };
      case 'aws:index/getPartition:getPartition':
        return { partition: 'aws', dnsSuffix: 'amazonaws.com', reverseDnsPrefix: 'com.amazonaws', id: 'aws' };
      default:
        throw new Error(`the program called ${args.token}, which these mocks do not know`);
    }
  }
}

/** Stack config as `pulumi config set` stores it: strings, JSON for structured values. */
function toStackConfig(settings: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = { 'aws:region': REGION };
  for (const [key, value] of Object.entries(settings)) {
    out[key.includes(':') ? key : `realtime:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

function resolve<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((done) => output.apply((v) => done(v)));
}

const runs = new Map<string, Promise<ProgramRun>>();

export interface ProgramOptions {
  /** The program's entry module: absolute, or relative to the repository root; default index.ts. */
  program?: string;
  /** The Pulumi project name; default realtime (this project's). */
  project?: string;
}

const REPO_ROOT = path.resolve(__dirname, '../..');

/**
 * Run index.ts (or `options.program`) with these settings: short keys are `realtime:*` settings,
 * keys with a colon are taken as they are; values typed. Rejects with the program's own error
 * when it throws (e.g. invalid config). Runs are shared per settings and program, so test files
 * that look at the same stack do not run it twice; runs never overlap.
 */
export function runProgram(settings: Record<string, unknown> = {}, options: ProgramOptions = {}): Promise<ProgramRun> {
  const key = JSON.stringify([settings, options.program ?? 'index.ts', options.project ?? 'realtime']);
  let run = runs.get(key);
  if (!run) {
    // One run at a time: the mocks and the config are process-wide.
    const previous = Promise.all([...runs.values()].map((r) => r.catch(() => undefined)));
    run = previous.then(() => runOnce(settings, options));
    runs.set(key, run);
  }
  return run;
}

async function runOnce(settings: Record<string, unknown>, options: ProgramOptions): Promise<ProgramRun> {
  const mocks = new RecordingMocks();
  pulumi.runtime.setAllConfig(toStackConfig(settings));
  await pulumi.runtime.setMocks(mocks, options.project ?? 'realtime', 'test', false);
  runTransformsLikeTheEngine();

  const warnings: string[] = [];
  const consoleWarn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  let program: Record<string, unknown>;
  try {
    // A fresh namespace evaluates index.ts again: its top level is the program.
    const { tsImport } = await import('tsx/esm/api');
    program = (await tsImport(path.resolve(REPO_ROOT, options.program ?? 'index.ts'), { parentURL: __filename })) as Record<string, unknown>;
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(program)) {
      if (pulumi.Output.isInstance(value)) outputs[key] = await resolve(value);
    }
    await waitForRPCs();
    const monitor = pulumi.runtime.getMonitor() as unknown as { resources: Map<string, unknown> };
    const urns = [...monitor.resources.keys()];
    const resources = mocks.resources;
    return {
      resources,
      outputs,
      urns,
      warnings,
      ofType: (type) => resources.filter((r) => r.type === type),
      named(type, name) {
        const found = resources.filter((r) => r.type === type && r.name === name);
        if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
        return found[0];
      },
    };
  } finally {
    console.warn = consoleWarn;
  }
}

export interface ParsedStatement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function statementsOf(policyJson: string): ParsedStatement[] {
  const doc = JSON.parse(policyJson) as { Version: string; Statement: ParsedStatement[] };
  if (doc.Version !== '2012-10-17') throw new Error(`unexpected policy version ${doc.Version}`);
  return doc.Statement;
}

/** A function's resources, found through the wiring (function → role → inline policy). */
export interface FunctionParts {
  fn: Recorded;
  role: Recorded;
  policy: Recorded;
  logGroup: Recorded;
  /** The archive's files: the bundle (index.js) and its source map (index.js.map). */
  files: string[];
  code: string;
  map: string;
}

/** The function of a handler: the one whose logical name is `…-<handler>-fn`. */
export async function functionParts(run: ProgramRun, handler: string): Promise<FunctionParts> {
  const fns = run.ofType('aws:lambda/function:Function').filter((r) => r.name.endsWith(`-${handler}-fn`));
  if (fns.length !== 1) throw new Error(`expected one function for ${handler}, found ${fns.length}`);
  const fn = fns[0];
  const role = run.ofType('aws:iam/role:Role').find((r) => r.state.arn === fn.inputs.role);
  if (!role) throw new Error(`the ${handler} function's role ${fn.inputs.role} is not in the stack`);
  const policies = run.ofType('aws:iam/rolePolicy:RolePolicy').filter((p) => p.inputs.role === role.id);
  if (policies.length !== 1) throw new Error(`expected one inline policy on ${role.name}, found ${policies.length}`);
  const logGroup = run.ofType('aws:cloudwatch/logGroup:LogGroup').find((g) => g.state.name === fn.inputs.loggingConfig?.logGroup);
  if (!logGroup) throw new Error(`the ${handler} function logs to ${fn.inputs.loggingConfig?.logGroup}, which is not in the stack`);
  const assets = await fn.inputs.code.assets;
  const code = (await assets['index.js'].text) as string;
  const map = (await assets['index.js.map']?.text) as string;
  return { fn, role, policy: policies[0], logGroup, files: Object.keys(assets).sort(), code, map };
}

export const asList = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

/** Every Allow action of a policy, as `action on resource` pairs. */
export function grants(policyJson: string): string[] {
  return statementsOf(policyJson)
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => asList(s.Action).flatMap((a) => asList(s.Resource).map((r) => `${a} on ${r}`)))
    .sort();
}
