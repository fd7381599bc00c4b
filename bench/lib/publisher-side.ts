/**
 * The publishers' side of the fan-out benchmark: a child process (publisher-process.ts) that
 * runs the publishers one request at a time and reports, with each run, the CPU time it spent.
 *
 * Why a process, not the main thread's CPU clock: `process.cpuUsage()` in a process that hosts
 * nothing but the publisher counts exactly the publisher's work on every thread — the JavaScript
 * thread, V8's garbage-collection helper threads (parallel scavenges, concurrent marking) and
 * libuv's pool — which is what a Lambda pays for on its vCPU. Reading the main thread's clock
 * from /proc/self/task/<tid>/stat would miss the GC helpers (a large share of the SDK's cost),
 * count in 10 ms ticks, and work on Linux only. The price is one IPC message each way per run,
 * outside the measured window, and a second to start the process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { PublishAnswer, PublishRequest, PublisherTarget } from './publishers';

export interface PublishRun extends PublishAnswer {
  /** Wall-clock ms (wallClockMs) just before the publisher started. */
  sentAt: number;
  /** CPU time of the publisher process during the run, in µs (user and system). */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Event-loop utilisation of the publisher's thread during the run (0..1): how saturated it was, not CPU. */
  busy: number;
}

export interface PublisherRequest {
  seq: number;
  op: 'init' | 'publish' | 'articleSocketLimit';
  args: unknown[];
}

export interface PublisherSide {
  /** Runs one publish and resolves once every post of it is done. */
  publish(request: PublishRequest): Promise<PublishRun>;
  /** Sockets the article's SDK client allows (read from its agent after its first call). */
  articleSocketLimit(): Promise<number | undefined>;
  /**
   * Replaces the process with a fresh one: after a run overran its deadline, so that it cannot
   * go on posting (and spending CPU) during the next run. Its pending call rejects.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** tsx's CommonJS hook runs the TypeScript entry. */
const EXEC_ARGV = ['--require', 'tsx/cjs'];

/** One started publisher process: calls, and a stop that waits for its exit. */
interface PublisherProcess {
  call<T>(op: PublisherRequest['op'], ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

async function spawnPublisherProcess(target: PublisherTarget): Promise<PublisherProcess> {
  const child: ChildProcess = fork(path.join(__dirname, 'publisher-process.ts'), [], {
    execArgv: EXEC_ARGV,
    // Only the results go to the benchmark's stdout: whatever the child prints goes to stderr.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  child.stdout?.pipe(process.stderr);
  child.stderr?.pipe(process.stderr);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the publisher process exited before it was ready (code ${code})`)));
    child.once('message', (m: { ready?: boolean }) => (m.ready ? resolve() : reject(new Error('the publisher process did not start'))));
  }).catch((error: Error) => {
    child.kill();
    throw error;
  });
  child.removeAllListeners('exit');
  child.removeAllListeners('error');

  child.on('message', (m: { seq?: number; result?: unknown; error?: string }) => {
    const p = m.seq === undefined ? undefined : pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq as number);
    if (m.error !== undefined) p.reject(new Error(`publisher process: ${m.error}`));
    else p.resolve(m.result);
  });
  child.on('error', (error) => failAll(error));
  child.on('exit', (code, signal) => failAll(new Error(`the publisher process exited (${signal ?? `code ${code}`})`)));

  const call = <T>(op: PublisherRequest['op'], ...args: unknown[]): Promise<T> => {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      const n = ++seq;
      pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ seq: n, op, args } satisfies PublisherRequest);
    });
  };

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    failure ??= new Error('the publisher process was stopped');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  };
  try {
    await call('init', target);
  } catch (error) {
    await stop();
    throw error;
  }
  return { call, stop };
}

export async function startPublisherSide(target: PublisherTarget): Promise<PublisherSide> {
  let current = await spawnPublisherProcess(target);
  return {
    publish: (request) => current.call('publish', request),
    articleSocketLimit: () => current.call('articleSocketLimit'),
    restart: async () => {
      await current.stop();
      current = await spawnPublisherProcess(target);
    },
    stop: () => current.stop(),
  };
}
