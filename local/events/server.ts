/**
 * An EventBridge `PutEvents` endpoint (AWS JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`) that
 * builds each event as EventBridge does, runs it through the configured rules (event pattern →
 * input transformer, built by protocol/rule-message.ts like the Pulumi component) and hands each result
 * to `deliver` — the local publish queue. Events no rule matches are accepted and counted, as on AWS.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { inputTransformerFor, type InputTransformer } from '../../protocol/rule-message';
import { eventRuleSchema, type EventRule } from '../../protocol/rules';
import { AwsServiceError, createJsonRpcServer } from '../aws-json';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../constants';
import { closeServer, listen } from '../http-server';
import { compilePattern, type CompiledPattern } from './pattern';
import { applyInputTransformer, checkTransformer } from './transform';

export interface LocalRule {
  name: string;
  arn: string;
  matches: CompiledPattern;
  transformer: InputTransformer;
}

export interface EventsStats {
  /** Entries accepted (given an EventId). */
  accepted: number;
  /** Entries refused (FailedEntryCount). */
  failed: number;
  /** Accepted events that matched at least one rule / none. */
  matched: number;
  unmatched: number;
  /** Rule targets delivered to the queue / refused by it. */
  delivered: number;
  deliveryErrors: number;
}

export interface EventsOptions {
  rules: readonly EventRule[];
  /** The bus the rules live on; `default` unless the stack says otherwise. */
  eventBusName?: string;
  /** Send one transformed event to the rule's target (the publish queue). */
  deliver(body: string, rule: LocalRule): void;
  onDeliveryError?(err: unknown, rule: LocalRule): void;
  port?: number;
  host?: string;
  region?: string;
  account?: string;
}

export interface EventsEndpoint {
  /** `http://127.0.0.1:PORT`: AWS_ENDPOINT_URL_EVENTBRIDGE for backends. */
  endpoint: string;
  eventBusName: string;
  rules: readonly LocalRule[];
  stats(): EventsStats;
  close(): Promise<void>;
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

/** Validate and compile rules; throws one error naming the rule and what is wrong with it. */
export function compileRules(rules: readonly EventRule[], eventBusName: string, region = LOCAL_REGION, account = LOCAL_ACCOUNT): LocalRule[] {
  const seen = new Set<string>();
  return rules.map((rule, i) => {
    const label = `event rule #${i + 1}${isNamed(rule) ? ` (${rule.name})` : ''}`;
    const parsed = eventRuleSchema.safeParse(rule);
    if (!parsed.success) throw new Error(`${label}: ${parsed.error.issues.map((x) => `${x.path.join('.') || 'rule'}: ${x.message}`).join('; ')}`);
    if (seen.has(parsed.data.name)) throw new Error(`${label}: another rule has the same name`);
    seen.add(parsed.data.name);
    try {
      const transformer = inputTransformerFor(parsed.data);
      checkTransformer(transformer);
      const busPart = eventBusName === 'default' ? '' : `${eventBusName}/`;
      return {
        name: parsed.data.name,
        arn: `arn:aws:events:${region}:${account}:rule/${busPart}${parsed.data.name}`,
        matches: compilePattern(parsed.data.eventPattern),
        transformer,
      };
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
  });
}

function isNamed(rule: unknown): rule is { name: string } {
  return typeof rule === 'object' && rule !== null && typeof (rule as { name?: unknown }).name === 'string';
}

export async function startEvents(options: EventsOptions): Promise<EventsEndpoint> {
  const region = options.region ?? LOCAL_REGION;
  const account = options.account ?? LOCAL_ACCOUNT;
  const eventBusName = options.eventBusName ?? 'default';
  const rules = compileRules(options.rules, eventBusName, region, account);
  const stats: EventsStats = { accepted: 0, failed: 0, matched: 0, unmatched: 0, delivered: 0, deliveryErrors: 0 };
  const busArn = (name: string) => `arn:aws:events:${region}:${account}:event-bus/${name}`;
  const knownBuses = new Set(['default', eventBusName]);

  const route = (event: Record<string, unknown>, ingestionTime: string) => {
    const matching = rules.filter((rule) => rule.matches(event));
    if (matching.length === 0) stats.unmatched++;
    else stats.matched++;
    for (const rule of matching) {
      try {
        options.deliver(applyInputTransformer(rule.transformer, event, { ruleArn: rule.arn, ruleName: rule.name, ingestionTime }), rule);
        stats.delivered++;
      } catch (err) {
        stats.deliveryErrors++;
        options.onDeliveryError?.(err, rule);
      }
    }
  };

  const server: Server = createJsonRpcServer({
    targetPrefix: 'AWSEvents',
    contentType: 'application/x-amz-json-1.1',
    maxBodyBytes: 4 * MAX_REQUEST_BYTES,
    unsupported: { code: 'UnknownOperationException' },
    operations: {
      PutEvents(input) {
        const entries = input.Entries;
        if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
          throw new AwsServiceError('ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES}`);
        }
        const size = entries.reduce((sum: number, e) => sum + entrySize(e), 0);
        if (size > MAX_REQUEST_BYTES) throw new AwsServiceError('ValidationException', `Total size of the entries in the request is over the limit (${size} > ${MAX_REQUEST_BYTES} bytes).`);
        const ingestionTime = isoSeconds(new Date());
        let failed = 0;
        const results = entries.map((entry: unknown) => {
          const built = buildEvent(entry, { region, account, knownBuses, busArn });
          if ('ErrorCode' in built) {
            failed++;
            return built;
          }
          route(built, ingestionTime);
          return { EventId: built.id as string };
        });
        stats.accepted += entries.length - failed;
        stats.failed += failed;
        return { FailedEntryCount: failed, Entries: results };
      },
    },
  });
  const endpoint = await listen(server, options.port ?? 0, options.host);
  return {
    endpoint,
    eventBusName,
    rules,
    stats: () => ({ ...stats }),
    close: () => closeServer(server),
  };
}

interface BuildContext {
  region: string;
  account: string;
  knownBuses: Set<string>;
  busArn(name: string): string;
}

type EntryError = { ErrorCode: string; ErrorMessage: string };

/** The event EventBridge makes of one PutEvents entry, or the entry's error. */
export function buildEvent(entry: unknown, ctx: BuildContext): Record<string, unknown> | EntryError {
  const invalid = (message: string): EntryError => ({ ErrorCode: 'InvalidArgument', ErrorMessage: message });
  if (typeof entry !== 'object' || entry === null) return invalid('An entry must be an object.');
  const e = entry as Record<string, unknown>;
  for (const name of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof e[name] !== 'string' || (e[name] as string).length === 0) return invalid(`Parameter ${name} is not valid. Reason: ${name} is a required argument.`);
  }
  const source = e.Source as string;
  if (source.toLowerCase().startsWith('aws.')) return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: `Not authorized for the source ${source}.` };
  let detail: unknown;
  try {
    detail = JSON.parse(e.Detail as string);
  } catch {
    detail = undefined;
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  const resources = e.Resources ?? [];
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) return invalid('Parameter Resources is not valid. Reason: Resources is a list of strings.');
  let time = new Date();
  if (e.Time !== undefined && e.Time !== null) {
    time = new Date(Number(e.Time) * 1000);
    if (typeof e.Time !== 'number' || Number.isNaN(time.getTime())) return invalid('Parameter Time is not valid.');
  }
  const bus = typeof e.EventBusName === 'string' && e.EventBusName !== '' ? e.EventBusName : 'default';
  const busName = bus.startsWith('arn:') ? bus.slice(bus.lastIndexOf('/') + 1) : bus;
  if (!ctx.knownBuses.has(busName) || (bus.startsWith('arn:') && bus !== ctx.busArn(busName))) {
    return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
  }
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': e.DetailType,
    source,
    account: ctx.account,
    time: isoSeconds(time),
    region: ctx.region,
    resources,
    detail,
  };
}

/** EventBridge's event times: ISO 8601 to the second. */
function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function entrySize(entry: unknown): number {
  if (typeof entry !== 'object' || entry === null) return 0;
  const e = entry as Record<string, unknown>;
  let size = 14; // Time
  for (const key of ['Source', 'DetailType', 'Detail']) if (typeof e[key] === 'string') size += Buffer.byteLength(e[key] as string);
  if (Array.isArray(e.Resources)) for (const r of e.Resources) if (typeof r === 'string') size += Buffer.byteLength(r);
  return size;
}
