/**
 * End-to-end load check, measured from outside as a user would: starts `npm start` (any flags),
 * opens real WebSocket subscribers on one topic, sends messages through SQS with
 * SendMessageBatch (all at once, or at a steady rate for a duration), and reports what each
 * subscriber received: complete or not, duplicates, latency from send to receipt, and what is
 * left in the queues and dead-letter queues once the system is quiet.
 *
 *   npm run load -- --subscribers 200 --messages 200 -- --throttle-rate 0.1 --error-rate 0.05
 *   npm run load -- --subscribers 3000 --messages 1 --stack-setting publishConcurrency=16 -- --latency-ms 50 --visibility-timeout 12
 *   npm run load -- --subscribers 100 --rate 50 --duration 600
 *
 * Everything after `--` goes to `npm start`. Exit code 1 when a subscriber misses a message or a
 * dead-letter queue is not empty.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Command, Option } from 'commander';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import WebSocket from 'ws';
import type { StackOutputs } from '../protocol/outputs';
import { queueDepth } from './lib/sqs-queue';
import { percentile } from './lib/stats';

const REPO_ROOT = join(__dirname, '..');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // our own SQS client's Node 20 notice
const TOPIC = 'load/test';

interface LoadOptions {
  subscribers: number;
  messages: number;
  rate?: number;
  duration?: number;
  stackSetting: string[];
  quietSeconds: number;
  payloadBytes: number;
}

// ---- step 1: the system, started as a user starts it -------------------------------------------

function stackFileWith(settings: string[]): string | undefined {
  if (settings.length === 0) return undefined;
  const base = parseYaml(readFileSync(join(REPO_ROOT, 'Pulumi.dev.yaml'), 'utf8')) as { config?: Record<string, unknown> };
  const config = { ...(base.config ?? {}) };
  for (const pair of settings) {
    const [key, value] = pair.split('=');
    config[`realtime:${key}`] = Number.isNaN(Number(value)) ? value : Number(value);
  }
  const dir = mkdtempSync(join(tmpdir(), 'load-stack-'));
  const file = join(dir, 'Pulumi.load.yaml');
  writeFileSync(file, toYaml({ ...base, config }));
  return file;
}

async function startSystem(args: string[]) {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
  const child = spawn('/bin/sh', ['-c', [pkg.scripts.start, '--port', '0', '--json', '--quiet', ...args.map(quote)].join(' ')], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  const outputs = await new Promise<StackOutputs>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(stdout.slice(0, newline)) as StackOutputs);
    });
    // What follows the outputs line (handler logs with --log-level) goes to our stderr.
    let seen = 0;
    child.stdout!.on('data', () => {
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      const start = Math.max(seen, newline + 1);
      if (stdout.length > start) process.stderr.write(stdout.slice(start));
      seen = stdout.length;
    });
    child.on('exit', (code) => reject(new Error(`npm start exited (${code}) before printing its outputs`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    outputs,
    stop: async () => {
      process.kill(-child.pid!, 'SIGINT');
      await exited;
    },
  };
}

// ---- step 2: subscribers that record every message frame ---------------------------------------

interface Subscriber {
  socket: WebSocket;
  /** message id → times received */
  received: Map<string, number>;
  latenciesMs: number[];
  closedEarly: boolean;
}

async function subscribe(url: string, sentAt: Map<string, number>): Promise<Subscriber> {
  const socket = new WebSocket(url);
  const sub: Subscriber = { socket, received: new Map(), latenciesMs: [], closedEarly: false };
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const subscribed = new Promise<void>((resolve, reject) => {
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; id?: string; code?: string };
      if (frame.type === 'subscribed') resolve();
      else if (frame.type === 'error') reject(new Error(`subscribe refused: ${frame.code}`));
      else if (frame.type === 'message' && frame.id) {
        const n = sub.received.get(frame.id) ?? 0;
        sub.received.set(frame.id, n + 1);
        const sent = sentAt.get(frame.id);
        if (n === 0 && sent !== undefined) sub.latenciesMs.push(performance.now() - sent);
      }
    });
  });
  socket.on('close', () => (sub.closedEarly = true));
  socket.send(JSON.stringify({ action: 'subscribe', topics: [TOPIC] }));
  await subscribed;
  return sub;
}

async function subscribeAll(url: string, count: number, sentAt: Map<string, number>): Promise<Subscriber[]> {
  const subs: Subscriber[] = [];
  // A few hundred handshakes in flight at most: a browser fleet arrives spread out too.
  for (let i = 0; i < count; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => subscribe(url, sentAt)));
    subs.push(...batch);
  }
  return subs;
}

// ---- step 3: messages through SQS --------------------------------------------------------------

async function sendBatch(sqs: SQSClient, queueUrl: string, ids: string[], payload: string, sentAt: Map<string, number>): Promise<void> {
  const now = performance.now();
  for (const id of ids) sentAt.set(id, now);
  const out = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: ids.map((id, i) => ({ Id: String(i), MessageBody: JSON.stringify({ topic: TOPIC, id, data: { id, payload } }) })),
    }),
  );
  if (out.Failed?.length) throw new Error(`SendMessageBatch failed for ${out.Failed.length} entries`);
}

async function sendAllAtOnce(sqs: SQSClient, queueUrl: string, count: number, payload: string, sentAt: Map<string, number>): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `m-${i}`);
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += 10) batches.push(ids.slice(i, i + 10));
  await Promise.all(batches.map((b) => sendBatch(sqs, queueUrl, b, payload, sentAt)));
  return ids;
}

/** A steady rate: one batch every tick, sized so the rate holds; returns when the duration is over. */
async function sendAtRate(sqs: SQSClient, queueUrl: string, perSecond: number, seconds: number, payload: string, sentAt: Map<string, number>, onTick: (sent: number) => void): Promise<string[]> {
  const ids: string[] = [];
  const start = performance.now();
  const tickMs = 100;
  let due = 0;
  while (performance.now() - start < seconds * 1000) {
    due = Math.floor(((performance.now() - start) / 1000) * perSecond);
    const batch: string[] = [];
    while (ids.length + batch.length < due) batch.push(`m-${ids.length + batch.length}`);
    ids.push(...batch);
    for (let i = 0; i < batch.length; i += 10) void sendBatch(sqs, queueUrl, batch.slice(i, i + 10), payload, sentAt).catch((err) => console.error(err));
    onTick(ids.length);
    await new Promise((r) => setTimeout(r, tickMs));
  }
  return ids;
}

// ---- step 4: wait for quiet, then count --------------------------------------------------------


async function waitForQuiet(sqs: SQSClient, outputs: StackOutputs, subs: Subscriber[], ids: string[], quietSeconds: number): Promise<void> {
  const frames = () => subs.reduce((n, s) => n + s.received.size, 0);
  const complete = () => subs.every((s) => ids.every((id) => s.received.has(id)));
  let last = -1;
  let quietSince = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const busy = (await queueDepth(sqs, outputs.queueUrl)) + (await queueDepth(sqs, outputs.deliveryQueueUrl));
    const now = frames();
    if (now !== last || busy > 0) {
      last = now;
      quietSince = performance.now();
    }
    // Complete and queues drained: anything still to come would be a duplicate; wait a short while for those.
    const needQuiet = complete() && busy === 0 ? 2 : quietSeconds;
    if (performance.now() - quietSince > needQuiet * 1000) return;
  }
}


async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const split = argv.indexOf('--');
  const ours = split >= 0 ? argv.slice(0, split) : argv;
  const startArgs = split >= 0 ? argv.slice(split + 1) : [];
  const program = new Command('npm run load --')
    .addOption(new Option('--subscribers <n>', 'WebSocket subscribers on the topic').default(200).argParser(Number))
    .addOption(new Option('--messages <n>', 'messages sent at once (SendMessageBatch of 10)').default(200).argParser(Number))
    .addOption(new Option('--rate <n>', 'instead: messages per second, held for --duration').argParser(Number))
    .addOption(new Option('--duration <s>', 'seconds of --rate').argParser(Number))
    .addOption(new Option('--stack-setting <key=value...>', 'a realtime:* setting for the stack file npm start reads').default([]))
    .addOption(new Option('--quiet-seconds <s>', 'how long nothing may happen before the run counts as over').default(20).argParser(Number))
    .addOption(new Option('--payload-bytes <n>', 'bytes of filler in each message').default(100).argParser(Number));
  program.parse(ours, { from: 'user' });
  const opts = program.opts<LoadOptions>();

  const stackFile = stackFileWith(opts.stackSetting);
  const system = await startSystem([...(stackFile ? ['--stack', stackFile] : []), ...startArgs]);
  const { outputs } = system;
  const sqs = new SQSClient({ region: outputs.region, endpoint: outputs.sqsEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const sentAt = new Map<string, number>();
  const payload = 'x'.repeat(opts.payloadBytes);
  try {
    const subs = await subscribeAll(outputs.websocketUrl, opts.subscribers, sentAt);
    console.error(`${subs.length} subscribers on ${TOPIC}`);
    const cpuBefore = process.cpuUsage();
    let maxQueueDepth = 0;
    let nextReport = 0;
    const t0 = performance.now();
    const ids =
      opts.rate !== undefined
        ? await sendAtRate(sqs, outputs.queueUrl, opts.rate, opts.duration ?? 60, payload, sentAt, (n) => {
            const second = Math.floor((performance.now() - t0) / 1000);
            if (second < nextReport) return;
            nextReport = second + 10;
            void queueDepth(sqs, outputs.queueUrl).then((depth) => {
              maxQueueDepth = Math.max(maxQueueDepth, depth);
              console.error(`${second} s: ${n} sent, ${depth} in the publish queue`);
            });
          })
        : await sendAllAtOnce(sqs, outputs.queueUrl, opts.messages, payload, sentAt);
    await waitForQuiet(sqs, outputs, subs, ids, opts.quietSeconds);
    const elapsed = (performance.now() - t0) / 1000;

    const expected = ids.length * subs.length;
    let unique = 0;
    let frames = 0;
    let incomplete = 0;
    for (const s of subs) {
      let got = 0;
      for (const id of ids) if (s.received.has(id)) got++;
      unique += got;
      if (got < ids.length) incomplete++;
      for (const n of s.received.values()) frames += n;
    }
    const dupByMessage = new Map<string, number>();
    for (const s of subs) for (const [id, n] of s.received) if (n > 1) dupByMessage.set(id, (dupByMessage.get(id) ?? 0) + n - 1);
    const latencies = subs.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
    const dlq = await queueDepth(sqs, outputs.dlqUrl);
    const deliveryDlq = await queueDepth(sqs, outputs.deliveryDlqUrl);
    const report = {
      subscribers: subs.length,
      messages: ids.length,
      expectedDeliveries: expected,
      uniqueDeliveries: unique,
      subscribersMissingSome: incomplete,
      minPerSubscriber: Math.min(...subs.map((s) => ids.filter((id) => s.received.has(id)).length)),
      duplicateFrames: frames - unique,
      duplicatePercent: Number((((frames - unique) / Math.max(1, unique)) * 100).toFixed(2)),
      messagesWithDuplicates: dupByMessage.size,
      subscribersWithDuplicates: subs.filter((s) => [...s.received.values()].some((n) => n > 1)).length,
      dlq,
      deliveryDlq,
      ...(opts.rate !== undefined ? { maxPublishQueueDepthSeen: maxQueueDepth } : {}),
      socketsClosedEarly: subs.filter((s) => s.closedEarly).length,
      latencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)), max: Math.round(latencies.at(-1) ?? NaN) },
      seconds: Number(elapsed.toFixed(1)),
      deliveriesPerSecond: Math.round(unique / elapsed),
      loadProcessCpuSeconds: Number(((process.cpuUsage(cpuBefore).user + process.cpuUsage(cpuBefore).system) / 1e6).toFixed(1)),
      startArgs,
      stackSettings: opts.stackSetting,
    };
    console.log(JSON.stringify(report, null, 2));
    for (const s of subs) s.socket.terminate();
    process.exitCode = incomplete === 0 && dlq === 0 && deliveryDlq === 0 ? 0 : 1;
  } finally {
    sqs.destroy();
    await system.stop();
    if (stackFile) rmSync(join(stackFile, '..'), { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
