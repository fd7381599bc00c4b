/** Helpers of the end-to-end local-mode tests: AWS SDK clients on the local endpoints, polling, the CLI as a child process. */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, QueryCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from '../../local/constants';
import type { StackOutputs } from '../../protocol/outputs';
import { TABLE } from '../../protocol/table';

export const REPO_ROOT = join(__dirname, '..', '..');

/**
 * A subscribed reply for exactly these topics, with each topic's place in its stream (local mode
 * keeps history, so every reply carries positions) and nothing else.
 */
export function expectSubscribed(reply: unknown, topics: string[]): void {
  const r = reply as { type?: unknown; topics?: unknown; positions?: Record<string, { epoch?: unknown; seq?: unknown }> };
  expect(Object.keys(r).sort(), JSON.stringify(reply)).to.deep.equal(['positions', 'topics', 'type']);
  expect(r.type).to.equal('subscribed');
  expect(r.topics).to.deep.equal(topics);
  expect(Object.keys(r.positions ?? {}).sort()).to.deep.equal([...topics].sort());
  for (const p of Object.values(r.positions ?? {})) {
    expect(p.epoch).to.be.a('string').and.not.equal('');
    expect(p.seq).to.be.a('number').at.least(0);
  }
}

export function sdkClients(outputs: StackOutputs) {
  const common = { region: outputs.region!, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
  return {
    sqs: new SQSClient({ ...common, endpoint: outputs.sqsEndpoint }),
    events: new EventBridgeClient({ ...common, endpoint: outputs.eventBridgeEndpoint }),
    dynamodb: new DynamoDBClient({ ...common, endpoint: outputs.dynamodbEndpoint }),
    destroy() {
      this.sqs.destroy();
      this.events.destroy();
      this.dynamodb.destroy();
    },
  };
}

/** Polls an async check until it returns something other than undefined/false. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, limitMs = 10_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function queueCounts(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

/** Connection ids subscribed to `topic`, from the byTopic index (as the publish handler reads it). */
export async function subscribersOf(dynamodb: DynamoDBClient, tableName: string, topic: string): Promise<string[]> {
  const { Items } = await dynamodb.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: TABLE.topicIndex,
      KeyConditionExpression: '#t = :t',
      ExpressionAttributeNames: { '#t': TABLE.topicAttribute },
      ExpressionAttributeValues: { ':t': { S: topic } },
    }),
  );
  return (Items ?? []).map((item) => item[TABLE.partitionKey].S!);
}

/** Every row (connection item and subscriptions) of one connection. */
export async function rowsOf(dynamodb: DynamoDBClient, tableName: string, connectionId: string): Promise<string[]> {
  const { Items } = await dynamodb.send(
    new QueryCommand({
      TableName: tableName,
      ConsistentRead: true,
      KeyConditionExpression: '#c = :c',
      ExpressionAttributeNames: { '#c': TABLE.partitionKey },
      ExpressionAttributeValues: { ':c': { S: connectionId } },
    }),
  );
  return (Items ?? []).map((item) => item[TABLE.sortKey].S!);
}

/** Every item of the table, page by page (connection items and subscriptions). */
export async function scanTable(dynamodb: DynamoDBClient, tableName: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** `npm start` runs its script with `sh -c`: the same, read from package.json, as a child process. */
export interface StartedCli {
  child: ChildProcess;
  /** The first stdout line, parsed (with --json). */
  outputs: Promise<StackOutputs>;
  /** Everything on stdout so far (the outputs line included). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A signal to the whole process group, as Ctrl-C in a terminal sends it. */
  signal(sig: NodeJS.Signals): void;
}

export function startCli(args: string[]): StartedCli {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
  const child = spawn('/bin/sh', ['-c', [pkg.scripts.start, ...args.map(quote)].join(' ')], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const outputs = new Promise<StackOutputs>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      const newline = stdout.indexOf('\n');
      if (newline >= 0) {
        try {
          resolve(JSON.parse(stdout.slice(0, newline)) as StackOutputs);
        } catch (err) {
          reject(new Error(`the first line is not JSON: ${stdout.slice(0, newline)} (${(err as Error).message})`));
        }
      }
    });
    void exited.then(({ code }) => reject(new Error(`exited (${code}) before printing the outputs: ${stderr}`)));
  });
  outputs.catch(() => undefined);
  return {
    child,
    outputs,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, sig);
    },
  };
}
