/**
 * The `realtime` command line: listen, presence, publish, status, token. Targets the local mode by default.
 * Errors are one line on stderr: exit 1 when something failed, 2 when the command line is wrong.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { listen } from './commands/listen';
import { presence } from './commands/presence';
import { publish, PUBLISH_DEFAULTS } from './commands/publish';
import { history } from './commands/history';
import { formatStatus, status } from './commands/status';
import { token } from './commands/token';
import { CliError, describeError } from './errors';
import { DEFAULT_LOCAL_URL, LOCAL_ENV, type TargetFlags } from './target';

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number (a seq)');
  return Number(value);
}

/** `SEQ` (in the topic's current stream) or `EPOCH:SEQ`. */
function position(value: string): { epoch?: string; seq: number } {
  const match = /^(?:([A-Za-z0-9_-]{1,64}):)?(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected SEQ or EPOCH:SEQ, e.g. 41 or kF2CM-sZ:41');
  return match[1] ? { epoch: match[1], seq: Number(match[2]) } : { seq: Number(match[2]) };
}

export function buildProgram(): Command {
  const program = new Command('realtime')
    .description('Listen to and publish on the realtime pub/sub service, local or deployed.')
    .option('--local-url <url>', `the local mode's demo server (env ${LOCAL_ENV}; default ${DEFAULT_LOCAL_URL})`)
    .option('--stack-outputs <file>', 'a deployed stack: the output of `pulumi stack output --json`')
    .option('--url <wss-url>', 'WebSocket URL (websocketUrl)')
    .option('--queue-url <url>', 'publish queue URL (queueUrl)')
    .option('--dlq-url <url>', 'dead-letter queue URL (dlqUrl)')
    .option('--table <name>', 'connections table name (tableName)')
    .option('--history-table <name>', 'history table name (historyTableName)')
    .option('--event-bus <name>', 'EventBridge bus name (eventBusName)')
    .option('--region <region>', 'AWS region (default: from the outputs, AWS_REGION, or the queue URL)')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`realtime: ${text.replace(/^error: /, '').trim()}\n`) });

  program
    .command('listen')
    .description('print each message on the topics as one JSON line, until Ctrl-C')
    .argument('<topic...>', 'topics to subscribe to')
    .option('--token <jwt>', 'a token for the $connect authorizer')
    .addOption(new Option('--token-transport <how>', 'how the token travels: the bearer.<jwt> subprotocol (out of the URL) or ?token=').choices(['subprotocol', 'query']).default('subprotocol'))
    .option('--count <n>', 'exit after this many messages', positiveInteger)
    .option('--since <position>', "resume every topic from this position (SEQ in the topic's current stream, or EPOCH:SEQ): what was published after it is replayed first", position)
    .action(async (topics: string[], _opts, command: Command) => {
      await listen(topics, command.optsWithGlobals());
    });

  program
    .command('presence')
    .description('print who is in a presence topic (one JSON line), then each join and leave, until Ctrl-C')
    .argument('<topic>', 'the presence topic')
    .option('--token <jwt>', 'a token for the $connect authorizer (presence needs one)')
    .addOption(new Option('--token-transport <how>', 'how the token travels: the bearer.<jwt> subprotocol (out of the URL) or ?token=').choices(['subprotocol', 'query']).default('subprotocol'))
    .option('--once', 'print the members and exit')
    .action(async (topic: string, _opts, command: Command) => {
      await presence(topic, command.optsWithGlobals());
    });

  program
    .command('history')
    .description("print the messages a topic's stream still keeps, oldest first, one JSON line each (the stream's epoch and head go to stderr)")
    .argument('<topic>', 'the topic')
    .option('--since <seq>', 'only messages after this seq', wholeNumber)
    .option('--limit <n>', 'at most this many messages', positiveInteger)
    .action(async (topic: string, _opts, command: Command) => {
      const result = await history(topic, command.optsWithGlobals());
      process.stderr.write(result.position ? `${topic}: epoch ${result.position.epoch}, head ${result.position.seq}, ${result.messages.length} message(s) listed\n` : `${topic}: nothing was ever published here\n`);
      for (const message of result.messages) process.stdout.write(`${JSON.stringify(message)}\n`);
    });

  program
    .command('publish')
    .description('publish JSON data to a topic through the SQS queue (or EventBridge); prints the message id')
    .argument('<topic>', 'the topic')
    .argument('<data>', 'JSON text, @file to read a file, or - to read stdin')
    .addOption(new Option('--via <path>', 'sqs: SendMessage to the queue; events: PutEvents to the bus').choices(['sqs', 'events']).default('sqs'))
    .option('--id <id>', 'the message id (default: the SQS message id); keeps retries de-duplicated')
    .option('--source <source>', 'with --via events: the event Source', PUBLISH_DEFAULTS.source)
    .option('--detail-type <type>', 'with --via events: the event DetailType', PUBLISH_DEFAULTS.detailType)
    .action(async (topic: string, data: string, _opts, command: Command) => {
      process.stdout.write(`${await publish(topic, data, command.optsWithGlobals())}\n`);
    });

  program
    .command('status')
    .description('queue depth, dead-letter queue depth and subscription count')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const result = await status(command.optsWithGlobals<TargetFlags>());
      process.stdout.write(`${opts.json ? JSON.stringify(result) : formatStatus(result)}\n`);
    });

  program
    .command('token')
    .description('mint a development JWT (HS256) for the $connect authorizer')
    .requiredOption('--sub <principal>', 'the subject (principal)')
    .requiredOption('--topics <patterns...>', "allowed topic patterns, e.g. 'orders/*' 'users/{sub}/inbox'")
    .option('--secret <secret>', 'the HS256 secret (env REALTIME_AUTH_SECRET)')
    .option('--expires <span>', 'lifetime: seconds or 15m, 2h, 7d', '1h')
    .option('--issuer <iss>', 'the iss claim')
    .option('--audience <aud>', 'the aud claim')
    .option('--publish <patterns...>', "topic patterns the principal may publish to from its socket (the publish claim), e.g. 'chat/*'")
    .option('--presence <json>', 'member data shown in presence topics (the presence claim): JSON, at most 1 KB')
    .action(async (opts) => {
      process.stdout.write(`${await token(opts)}\n`);
    });

  return program;
}

/** Runs the CLI; resolves with the exit code instead of exiting, so tests and the shim decide. */
export async function run(argv: string[]): Promise<number> {
  // The SDK's notice about future Node versions is not something a CLI user can act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help); 0 for --help/--version.
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof CliError ? err.message : `unexpected error: ${describeError(err)}`;
    process.stderr.write(`realtime: ${message}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => process.exit(code));
}
