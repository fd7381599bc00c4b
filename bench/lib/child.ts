/**
 * A benchmark child process (publisher-process.ts, deliver-process.ts): forked with tsx's
 * CommonJS hook, talked to by numbered request / answer messages over IPC, its output sent to
 * stderr (only the results go to the benchmark's stdout).
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

/** tsx's CommonJS hook runs the TypeScript entry. */
const EXEC_ARGV = ['--require', 'tsx/cjs'];

/** One started child: calls, and a stop that waits for its exit. */
export interface Child {
  call<T>(op: string, ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Forks `entry` (a TypeScript module answering `{seq, op, args}` messages with `{seq, result | error}`
 * after sending `{ready: true}`), then calls its `init` op with `initArg`.
 */
export async function spawnChild(entry: string, initArg: unknown): Promise<Child> {
  /** 'publisher process' for publisher-process.ts, in messages. */
  const name = path.basename(entry, '.ts').replace(/-/g, ' ');
  const child: ChildProcess = fork(entry, [], {
    execArgv: EXEC_ARGV,
    // Only the results go to the benchmark's stdout: whatever the child prints goes to stderr.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  // Copied, not piped: a pipe adds listeners to process.stderr per child, and a run starts dozens.
  const toStderr = (chunk: Buffer) => process.stderr.write(chunk);
  child.stdout?.on('data', toStderr);
  child.stderr?.on('data', toStderr);
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
    child.once('exit', (code) => reject(new Error(`the ${name} exited before it was ready (code ${code})`)));
    child.once('message', (m: { ready?: boolean }) => (m.ready ? resolve() : reject(new Error(`the ${name} did not start`))));
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
    if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
    else p.resolve(m.result);
  });
  child.on('error', (error) => failAll(error));
  child.on('exit', (code, signal) => failAll(new Error(`the ${name} exited (${signal ?? `code ${code}`})`)));

  const call = <T>(op: string, ...args: unknown[]): Promise<T> => {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      const n = ++seq;
      pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ seq: n, op, args });
    });
  };

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    failure ??= new Error(`the ${name} was stopped`);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  };
  try {
    await call('init', initArg);
  } catch (error) {
    await stop();
    throw error;
  }
  return { call, stop };
}

