/**
 * The `npm start` flags, parsed with commander into LocalOptions. Bad values stop the program
 * with a message naming the flag and what it takes.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ACTIVITY_FORMATS, type ActivityFormat } from './activity';
import { parseFaultFlags, type FaultFlags, type FaultOptions } from './gateway';
import { normalizeOrigin } from './origin-policy';
import type { LocalOptions } from './system';

/** Ports of a default run: stable, so a backend's environment survives restarts. */
export const DEFAULT_PORTS = { demo: 8080, gateway: 8081, sqs: 8082, eventBridge: 8083, dynamodb: 8084 } as const;

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

export interface CliSettings {
  local: LocalOptions;
  json: boolean;
  /** How each connect, subscribe, publish and delivery is printed on stdout; undefined: not at all. */
  activity?: ActivityFormat;
  /** --rules FILE, else the stack file's rules. */
  rulesFile?: string;
  /** --stack FILE, else Pulumi.dev.yaml. */
  stackFile?: string;
}

function integer(min: number, max: number, what: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || value < min || value > max) throw new InvalidArgumentError(`takes ${what} (a whole number from ${min} to ${max}).`);
    return value;
  };
}

const port = integer(0, 65535, 'a port, 0 for any free one');

/** Repeatable and variadic: every value collected, each checked to be an origin. */
function originList(text: string, previous: string[] | undefined): string[] {
  if (normalizeOrigin(text) === undefined) throw new InvalidArgumentError('takes an origin such as http://localhost:5173.');
  return [...(previous ?? []), text];
}

function fault(key: keyof FaultFlags) {
  return (text: string) => {
    try {
      return parseFaultFlags({ [key]: text })[key as keyof FaultOptions];
    } catch (err) {
      throw new InvalidArgumentError(`${(err as Error).message}.`);
    }
  };
}

export function buildProgram(): Command {
  return new Command('npm start --')
    .description('Run the realtime pub/sub system on this machine: WebSocket gateway, DynamoDB, SQS, EventBridge and the demo page, with the real handlers.')
    .addOption(new Option('--port <port>', `WebSocket gateway port; 0 puts every endpoint whose port is not given on any free port (default ${DEFAULT_PORTS.gateway})`).argParser(port).env('LOCAL_PORT'))
    .addOption(new Option('--demo-port <port>', `demo page and /config.json (default ${DEFAULT_PORTS.demo})`).argParser(port))
    .addOption(new Option('--sqs-port <port>', `SQS endpoint (default ${DEFAULT_PORTS.sqs})`).argParser(port))
    .addOption(new Option('--events-port <port>', `EventBridge endpoint (default ${DEFAULT_PORTS.eventBridge})`).argParser(port))
    .addOption(new Option('--dynamodb-port <port>', `DynamoDB endpoint (default ${DEFAULT_PORTS.dynamodb})`).argParser(port))
    .addOption(new Option('--data <dir>', 'keep DynamoDB data (connections, subscriptions) in this directory across restarts; in memory otherwise').env('LOCAL_DATA_DIR'))
    .addOption(new Option('--json', 'once ready, print one line of JSON with the endpoints (the stack output keys plus the local endpoints) instead of the banner'))
    .addOption(new Option('--stack <file>', "the stack file whose realtime:* settings the local system runs with, as the deployed stack does (default Pulumi.dev.yaml)").env('LOCAL_STACK_FILE'))
    .addOption(new Option('--rules <file>', 'EventBridge rules from a JSON array file instead of realtime:eventRules of the stack file'))
    .addOption(new Option('--allow-origin <origin...>', 'also trust web pages of this origin (e.g. a dev server, http://localhost:5173); pages of any other origin cannot connect or publish').argParser(originList))
    .addOption(new Option('--auth-secret <secret>', 'turn the $connect authorizer on, verifying HS256 tokens signed with this secret').env('LOCAL_AUTH_SECRET'))
    .addOption(new Option('--latency-ms <ms>', 'latency added to every management API (@connections) call').argParser(fault('latencyMs')).env('LOCAL_LATENCY_MS'))
    .addOption(new Option('--gone-rate <p>', 'probability (0..1) that a management call answers 410 Gone').argParser(fault('goneRate')).env('LOCAL_GONE_RATE'))
    .addOption(new Option('--throttle-rate <p>', 'probability (0..1) of 429 LimitExceeded').argParser(fault('throttleRate')).env('LOCAL_THROTTLE_RATE'))
    .addOption(new Option('--error-rate <p>', 'probability (0..1) of 500').argParser(fault('errorRate')).env('LOCAL_ERROR_RATE'))
    .addOption(new Option('--rate-limit <n[/burst]>', 'token bucket on management calls: n a second, bursts of burst; 429 beyond').argParser(fault('rateLimit')).env('LOCAL_RATE_LIMIT'))
    .addOption(new Option('--idle-timeout-ms <ms>', 'close connections idle this long (default 600000, API Gateway: 10 min)').argParser(integer(1, 2 ** 31 - 1, 'milliseconds')))
    .addOption(new Option('--max-connection-ms <ms>', 'close every connection after this long (default 7200000, API Gateway: 2 h)').argParser(integer(1, 2 ** 31 - 1, 'milliseconds')))
    .addOption(new Option('--visibility-timeout <s>', "the queues' visibility timeout: how long a failed message waits before its retry; the publish and delivery functions get a sixth of it (default: 6 x the stack's publishTimeoutSeconds)").argParser(integer(1, 43200, 'seconds')))
    .addOption(new Option('--max-receive-count <n>', "receives before a message moves to the DLQ (default: the stack's maxReceiveCount)").argParser(integer(1, 1000, 'a count')))
    .addOption(new Option('--ttl-sweep-seconds <s>', 'how often rows past their expiresAt are deleted, as DynamoDB TTL does (AWS: lazily, within days; default 60)').argParser(integer(1, 86400, 'seconds')))
    .addOption(new Option('--route-concurrency <n>', 'Lambda environments per route function; more invocations wait for one (default 16)').argParser(integer(1, 1000, 'a count')))
    .addOption(new Option('--log-level <level>', "handlers' log level (Powertools JSON logs to stdout)").choices(LOG_LEVELS.flatMap((l) => [l, l.toLowerCase()])))
    .addOption(new Option('--metrics', "print the handlers' CloudWatch EMF metrics (off by default)"))
    .addOption(
      new Option('--log-format <format>', 'one line on stdout per connect, subscribe, publish and delivery: text (readable, colored on a terminal) or json (one object per line); default text, json with --json')
        .choices(ACTIVITY_FORMATS)
        .env('LOCAL_LOG_FORMAT'),
    )
    .addOption(new Option('--quiet', 'no banner, notices or activity lines (unless --log-format is given); handler logs off unless --log-level is given'))
    .allowExcessArguments(false)
    .exitOverride();
}

/**
 * Parse the arguments after `npm start --` (and the LOCAL_* variables of process.env). Throws
 * commander's CommanderError on bad input, after the message went to stderr.
 */
export function parseCli(argv: readonly string[], output?: { writeOut?(s: string): void; writeErr?(s: string): void }): CliSettings {
  const program = buildProgram();
  if (output) program.configureOutput(output);
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  const any = o.port === 0;
  const pick = (value: number | undefined, fallback: number) => value ?? (any ? 0 : fallback);
  const faults: FaultOptions = {};
  if (o.latencyMs !== undefined) faults.latencyMs = o.latencyMs;
  if (o.goneRate !== undefined) faults.goneRate = o.goneRate;
  if (o.throttleRate !== undefined) faults.throttleRate = o.throttleRate;
  if (o.errorRate !== undefined) faults.errorRate = o.errorRate;
  if (o.rateLimit !== undefined) faults.rateLimit = o.rateLimit;
  const local: LocalOptions = {
    port: pick(o.port, DEFAULT_PORTS.gateway),
    ports: {
      demo: pick(o.demoPort, DEFAULT_PORTS.demo),
      sqs: pick(o.sqsPort, DEFAULT_PORTS.sqs),
      eventBridge: pick(o.eventsPort, DEFAULT_PORTS.eventBridge),
      dynamodb: pick(o.dynamodbPort, DEFAULT_PORTS.dynamodb),
    },
    ...(o.data ? { dataDir: o.data } : {}),
    ...(o.authSecret ? { authSecret: o.authSecret } : {}),
    ...(o.allowOrigin ? { allowedOrigins: o.allowOrigin as string[] } : {}),
    ...(Object.keys(faults).length > 0 ? { faults } : {}),
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    ...(o.maxConnectionMs !== undefined ? { maxConnectionMs: o.maxConnectionMs } : {}),
    ...(o.visibilityTimeout !== undefined || o.maxReceiveCount !== undefined
      ? { queue: { visibilityTimeoutSeconds: o.visibilityTimeout, maxReceiveCount: o.maxReceiveCount } }
      : {}),
    ...(o.ttlSweepSeconds !== undefined ? { ttlSweepIntervalMs: o.ttlSweepSeconds * 1000 } : {}),
    ...(o.routeConcurrency !== undefined ? { routeConcurrency: o.routeConcurrency } : {}),
    ...(o.logLevel ? { logLevel: String(o.logLevel).toUpperCase() } : {}),
    metrics: Boolean(o.metrics),
    quiet: Boolean(o.quiet),
  };
  // `npm start --json` (without --) reaches us as npm's own json setting.
  const json = Boolean(o.json) || process.env.npm_config_json === 'true';
  // With --json stdout stays JSON throughout; --quiet silences the lines unless they are asked for.
  const activity: ActivityFormat | undefined = (o.logFormat as ActivityFormat | undefined) ?? (local.quiet ? undefined : json ? 'json' : 'text');
  return { local, json, ...(activity ? { activity } : {}), ...(o.rules ? { rulesFile: o.rules } : {}), ...(o.stack ? { stackFile: o.stack } : {}) };
}
