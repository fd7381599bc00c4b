/**
 * Where the CLI points: the local mode (its demo server's /config.json, the default), a deployed
 * stack's outputs file (`pulumi stack output --json > outputs.json`), or individual flags.
 * Flags override the file or the local config, key by key.
 */
import { readFile } from 'node:fs/promises';
import { stackOutputsSchema, type StackOutputs } from '../protocol/outputs';
import { DEFAULT_PORTS } from '../local/cli-options';
import { LOCAL_CREDENTIALS, LOCAL_HOST, LOCAL_REGION } from '../local/constants';
import { CliError, describeError } from './errors';

/** The demo server when `npm start` runs with its default ports. */
export const DEFAULT_LOCAL_URL = `http://${LOCAL_HOST}:${DEFAULT_PORTS.demo}`;
export const LOCAL_ENV = 'REALTIME_LOCAL';

export interface TargetFlags {
  localUrl?: string;
  stackOutputs?: string;
  url?: string;
  queueUrl?: string;
  dlqUrl?: string;
  table?: string;
  historyTable?: string;
  eventBus?: string;
  region?: string;
}

export type OutputKey = keyof StackOutputs;

export interface Target {
  outputs: Partial<StackOutputs>;
  /** Where the outputs came from, for messages. */
  source: string;
  /** Local mode: fixed region and dummy credentials, endpoints from the outputs. */
  local: boolean;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const FLAG_FOR: Partial<Record<OutputKey, string>> = {
  websocketUrl: '--url',
  queueUrl: '--queue-url',
  dlqUrl: '--dlq-url',
  tableName: '--table',
  historyTableName: '--history-table',
  eventBusName: '--event-bus',
};

function fromFlags(flags: TargetFlags): Partial<StackOutputs> {
  const outputs: Partial<StackOutputs> = {};
  if (flags.url) outputs.websocketUrl = flags.url;
  if (flags.queueUrl) outputs.queueUrl = flags.queueUrl;
  if (flags.dlqUrl) outputs.dlqUrl = flags.dlqUrl;
  if (flags.table) outputs.tableName = flags.table;
  if (flags.historyTable) outputs.historyTableName = flags.historyTable;
  if (flags.eventBus) outputs.eventBusName = flags.eventBus;
  return outputs;
}

/** Resolves the target, making sure the outputs named in `needs` are known. */
export async function resolveTarget(flags: TargetFlags, needs: readonly OutputKey[]): Promise<Target> {
  const overrides = fromFlags(flags);
  let base: Partial<StackOutputs> = {};
  let source = 'flags';
  if (flags.stackOutputs) {
    base = await readStackOutputs(flags.stackOutputs);
    source = flags.stackOutputs;
  } else if (flags.localUrl || process.env[LOCAL_ENV] || !needs.every((k) => overrides[k] !== undefined)) {
    const url = configUrl(flags.localUrl || process.env[LOCAL_ENV] || DEFAULT_LOCAL_URL);
    base = await fetchLocalConfig(url);
    source = url;
  }
  const outputs = { ...base, ...overrides };
  const missing = needs.filter((k) => outputs[k] === undefined || outputs[k] === '');
  if (missing.length > 0) {
    const how = missing.map((k) => (FLAG_FOR[k] ? `${k} (${FLAG_FOR[k]})` : k)).join(', ');
    throw new CliError(`${source} does not give ${how}`);
  }
  // Only the local mode's outputs carry the local SQS endpoint; that is what makes a target local.
  const local = outputs.sqsEndpoint !== undefined;
  const region = flags.region ?? outputs.region ?? (local ? LOCAL_REGION : process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? regionOf(outputs));
  return { outputs, source, local, region, credentials: local ? { ...LOCAL_CREDENTIALS } : undefined };
}

/** `http://host:port` → `http://host:port/config.json`; a URL ending in .json is used as is. */
export function configUrl(localUrl: string): string {
  let url: URL;
  try {
    url = new URL(localUrl);
  } catch {
    throw new CliError(`--local-url / ${LOCAL_ENV}: "${localUrl}" is not a URL`, 2);
  }
  if (!url.pathname.endsWith('.json')) url.pathname = `${url.pathname.replace(/\/$/, '')}/config.json`;
  return url.toString();
}

async function fetchLocalConfig(url: string): Promise<Partial<StackOutputs>> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new CliError(`cannot reach the local mode at ${url} (${describeError(err)}); start it with \`npm start\`; if it runs on other ports, give its demo URL with --local-url URL or ${LOCAL_ENV}; or target a stack with --stack-outputs FILE`);
  }
  if (!response.ok) throw new CliError(`${url} answered ${response.status} ${response.statusText}`);
  return parseOutputs(await response.text(), url);
}

async function readStackOutputs(file: string): Promise<Partial<StackOutputs>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read stack outputs ${file}: ${describeError(err)}`);
  }
  return parseOutputs(text, file);
}

function parseOutputs(text: string, where: string): Partial<StackOutputs> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where} is not JSON (${describeError(err)}); expected the output of \`pulumi stack output --json\``);
  }
  const parsed = stackOutputsSchema.partial().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${where}: ${issue.path.join('.') || 'outputs'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The region in an SQS URL (https://sqs.eu-west-1.amazonaws.com/…) or an execute-api URL. */
function regionOf(outputs: Partial<StackOutputs>): string | undefined {
  for (const url of [outputs.queueUrl, outputs.websocketUrl, outputs.dlqUrl]) {
    const match = url && /\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com/.exec(url);
    if (match) return match[1];
  }
  return undefined;
}
