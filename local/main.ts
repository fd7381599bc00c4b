/**
 * `npm start`: the whole system on this machine. Prints a banner with the WebSocket URL, the demo
 * page and the environment a backend sets (or, with --json, one line of JSON once ready), then
 * one line per connect, subscribe, publish and delivery (local/activity/; --log-format), and
 * stops cleanly on Ctrl-C (SIGINT) or SIGTERM: every connection is closed and its $disconnect
 * runs before the process exits 0.
 * `npm start` runs this as one process (`exec node --import tsx`): no tsx parent that would kill
 * us 30 ms into stopping, and no shell that would turn Ctrl-C into exit status 130 after we exit 0.
 */
import { join } from 'node:path';
import { CommanderError } from 'commander';
import type { StackOutputs } from '../protocol/outputs';
import { activityPrinter } from './activity';
import { parseCli, type CliSettings } from './cli-options';
import { localEnvDefaults, readRulesFile, readStackSettings, type RulesSource, type StackSource } from './stack-config';
import { backendEnvironment, QUEUE_JOURNAL_FILE, startLocal, type LocalSystem } from './system';

// The SDK warns about Node 20 on every start; it is about future SDK releases, not this tool.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REPO_ROOT = join(__dirname, '..');

async function main(): Promise<void> {
  let settings: CliSettings;
  try {
    settings = parseCli(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    throw err;
  }
  let stack: StackSource;
  let rules: RulesSource;
  try {
    stack = readStackSettings(settings.stackFile ?? join(REPO_ROOT, 'Pulumi.dev.yaml'));
    rules = settings.rulesFile ? readRulesFile(settings.rulesFile) : { eventRules: stack.config.eventRules, eventBusName: stack.config.eventBusName, from: stack.from };
  } catch (err) {
    fail((err as Error).message);
  }

  let system: LocalSystem;
  try {
    const onActivity = settings.activity ? activityPrinter({ format: settings.activity, color: colorsOn(process.stdout), write: (line) => process.stdout.write(line) }) : undefined;
    system = await startLocal({ ...settings.local, env: { ...localEnvDefaults(stack), ...settings.local.env }, ...(onActivity ? { onActivity } : {}), stack: stack.config, eventRules: rules.eventRules, ...(rules.eventBusName ? { eventBusName: rules.eventBusName } : {}) });
  } catch (err) {
    fail(explainStartError(err));
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // Ctrl-C often arrives twice (the terminal signals the whole process group, and npm passes
      // it on as well): stopping goes on, so every connection's $disconnect still runs.
      if (!settings.local.quiet && !settings.json) process.stderr.write(`${signal} again: still closing connections (Ctrl-\\ quits without waiting)\n`);
      return;
    }
    stopping = true;
    if (!settings.local.quiet && !settings.json) process.stderr.write(`\n${signal}: closing connections and stopping...\n`);
    system.stop().then(
      () => process.exit(0),
      (err) => fail(`error while stopping: ${(err as Error).message}`),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  if (settings.json) process.stdout.write(`${JSON.stringify(system.outputs)}\n`);
  else if (!settings.local.quiet) process.stdout.write(banner(system.outputs, settings, rules, stack));
}

function banner(outputs: StackOutputs, settings: CliSettings, rules: RulesSource, stack: StackSource): string {
  const env = Object.entries(backendEnvironment(outputs))
    .map(([k, v]) => `  export ${k}=${v}`)
    .join('\n');
  const local = settings.local;
  const faults = local.faults ? Object.entries(local.faults).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ') : 'none';
  const ruleNames = rules.eventRules.map((r) => (r as { name?: string }).name).join(', ');
  return `
Realtime pub/sub is running locally (Ctrl-C stops it).

  WebSocket   ${outputs.websocketUrl}
              try: npx wscat -c ${outputs.websocketUrl}${local.authSecret ? ' -s realtime -s bearer.<jwt>' : ''}
              then: {"action":"subscribe","topics":["demo"]}
  Demo page   ${outputs.demoUrl}
  Health      ${outputs.demoUrl}health (200 once ready, 503 while stopping)

A backend publishes with the AWS SDK (SendMessage to QUEUE_URL, or PutEvents) using:

${env}

  DynamoDB    ${outputs.dynamodbEndpoint}, table ${outputs.tableName}, ${local.dataDir ? `data kept in ${local.dataDir}` : 'in memory (--data DIR keeps it)'}
  Queues      ${local.dataDir ? `messages kept in ${join(local.dataDir, QUEUE_JOURNAL_FILE)}` : 'in memory: messages not yet published are lost on stop (--data DIR keeps them)'}
  DLQ         ${outputs.dlqUrl}
  Settings    ${stack.from}${stack.set.length > 0 ? ` (sets ${stack.set.join(', ')})` : ''}
  Rules       ${rules.eventRules.length > 0 ? `${ruleNames} (from ${rules.from}), event bus ${outputs.eventBusName}` : `none (from ${rules.from})`}
  Auth        ${local.authSecret ? 'on: HS256 tokens signed with --auth-secret (npx realtime token --secret ... --sub ... --topics ...)' : 'off (--auth-secret S turns it on)'}
  Faults      ${faults}

Each connect, subscribe, publish and delivery prints ${settings.activity === 'json' ? 'a JSON line' : 'a line'} below.

`;
}

/** Colors only on a terminal that has them (tty's hasColors reads NO_COLOR, FORCE_COLOR and TERM). */
function colorsOn(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && typeof stream.hasColors === 'function' && stream.hasColors();
}

function explainStartError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code === 'EADDRINUSE') {
    return `a port is already in use (${e.message}). Another \`npm start\` may be running; stop it, or choose ports: --port 0 puts everything on free ports.`;
  }
  return `could not start: ${e?.message ?? String(err)}`;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

main().catch((err) => fail(`could not start: ${(err as Error)?.message ?? String(err)}`));
