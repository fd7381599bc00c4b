/**
 * Main-thread handle on the worker that runs the local system and the subscribers
 * (aws-side-worker.ts). Stopping it terminates the thread: with tens of thousands of
 * subscribers, running $disconnect for each would take longer than the benchmark.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FaultOptions, GatewayStats } from '../../local/gateway';
import type { StackOutputs } from '../../protocol/outputs';
import type { DeliverySummary } from './receipts';

export interface AwsSideOptions {
  /** Env overrides for the system's handlers (PUBLISH_CONCURRENCY, log level, ...). */
  env: Record<string, string>;
  /** The publish queue's visibility timeout: longer than any fan-out, or SQS hands the record to a second invocation. */
  visibilityTimeoutSeconds: number;
}

export interface AwsSideRequest {
  seq: number;
  op: string;
  args: unknown[];
}

export interface AwsSide {
  outputs: StackOutputs;
  setFaults(faults: FaultOptions): Promise<void>;
  stats(): Promise<GatewayStats>;
  /** Opens `count` more virtual subscribers; resolves with their connection ids. `bulk`: without running $connect (no connection rows). */
  connect(count: number, bulk?: boolean): Promise<string[]>;
  /** Starts counting receipts of message `id` (before it is sent). */
  expect(id: string, expected: number): Promise<void>;
  /**
   * Resolves with the run's summary (latencies from wall-clock `sentAt`) once every subscriber
   * has it, or no receipt came for `quietMs`, or at the deadline.
   */
  wait(id: string, sentAt: number, quietMs: number, deadlineMs: number): Promise<DeliverySummary>;
  /** Starts measuring how busy the worker's event loop is; the returned function gives the fraction since. */
  busy(): () => number;
  stop(): Promise<void>;
}

/**
 * The worker runs TypeScript through tsx's CommonJS hook, whether the main thread was started
 * by `tsx run.ts` (whose ESM loader flags do not work in a worker) or by mocha's `tsx/cjs`.
 */
const WORKER_EXEC_ARGV = ['--require', 'tsx/cjs'];

export async function startAwsSide(options: AwsSideOptions): Promise<AwsSide> {
  const worker = new Worker(path.join(__dirname, 'aws-side-worker.ts'), { workerData: options, execArgv: WORKER_EXEC_ARGV });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  const outputs = await new Promise<StackOutputs>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { ready: boolean; outputs?: StackOutputs; error?: string }) =>
      m.ready ? resolve(m.outputs as StackOutputs) : reject(new Error(`the local system did not start: ${m.error}`)),
    );
  }).catch(async (error: Error) => {
    await worker.terminate();
    throw error;
  });

  worker.on('message', (m: { seq?: number; result?: unknown; error?: string }) => {
    const p = m.seq === undefined ? undefined : pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq as number);
    if (m.error !== undefined) p.reject(new Error(`aws side: ${m.error}`));
    else p.resolve(m.result);
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new Error(`the local system's worker exited (code ${code})`)));

  const call = <T>(op: string, ...args: unknown[]): Promise<T> => {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      const n = ++seq;
      pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ seq: n, op, args } satisfies AwsSideRequest);
    });
  };

  return {
    outputs,
    setFaults: (faults) => call('setFaults', faults),
    stats: () => call('stats'),
    connect: (count, bulk) => call('connect', count, bulk ?? false),
    expect: (id, expected) => call('expect', id, expected),
    wait: (id, sentAt, quietMs, deadlineMs) => call('wait', id, sentAt, quietMs, deadlineMs),
    busy: () => {
      const start = worker.performance.eventLoopUtilization();
      return () => worker.performance.eventLoopUtilization(start).utilization;
    },
    stop: async () => {
      failure ??= new Error('the local system was stopped');
      await worker.terminate();
    },
  };
}
