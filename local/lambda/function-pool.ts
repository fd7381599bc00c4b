/**
 * A Lambda function as AWS runs it, on this machine: every concurrent invocation runs in its own
 * execution environment — an instance made by `build()`, with its own SDK clients and sockets —
 * and an environment is reused, warm, by later invocations once it is free.
 *
 * Why: a handler built once and shared by every concurrent invocation shares one DynamoDB client
 * (one socket pool, whose connection timeout counts the wait for a free socket) and one
 * management client, so a burst fails in ways AWS never shows. Here, as in AWS, each environment
 * handles one invocation at a time.
 *
 * Where AWS would scale out further or throttle (429 to the caller, SQS retries), this queues the
 * invocation until an environment frees: the local machine runs everything in one process, and a
 * cap keeps a burst from turning into timeouts (see system.ts for the caps chosen).
 *
 * The timeout is Lambda's: the context counts down from it, and an invocation still running when
 * it passes fails with "Task timed out"; its environment is retired (AWS restarts it). The work
 * it was doing cannot be killed in-process and runs to its end unobserved.
 */
import type { Context } from 'aws-lambda';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../constants';
import { lambdaContext } from '../gateway/lambda-context';

/** A handler as Lambda calls it. */
export type LambdaHandler = (event: any, context: Context) => Promise<any>;

export interface LambdaFunctionOptions {
  /** The function name the context reports. */
  name: string;
  /** Makes one execution environment: runs the module's init (clients, config) and returns its handler. */
  build: () => LambdaHandler;
  /** Environments at most; invocations beyond them wait for one to free. */
  maxConcurrency: number;
  /** The function's timeout. */
  timeoutMs: number;
  region?: string;
  accountId?: string;
  memoryLimitInMB?: number;
}

export interface FunctionPoolStats {
  invocations: number;
  /** Cold starts: environments built so far. */
  environmentsCreated: number;
  /** Environments alive now (busy or idle). */
  environments: number;
  /** Invocations running now. */
  running: number;
  /** The most invocations ever running at once. */
  maxConcurrent: number;
  /** Invocations that had to wait for a free environment. */
  queued: number;
  /** Invocations waiting now. */
  waiting: number;
  timedOut: number;
}

interface Environment {
  handler: LambdaHandler;
}

export class TaskTimedOutError extends Error {
  constructor(timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'TaskTimedOutError';
  }
}

export class FunctionPool {
  readonly name: string;
  readonly maxConcurrency: number;
  readonly timeoutMs: number;
  /** The pool as a plain handler (for the gateway's route map); the caller's context is replaced by the pool's own. */
  readonly handler: (event: unknown, context?: unknown) => Promise<unknown>;

  private readonly options: LambdaFunctionOptions;
  /** Free environments, most recently used last: reuse takes the warmest. */
  private readonly idle: Environment[] = [];
  private readonly waiters: Array<() => void> = [];
  private alive = 0;
  private readonly counters = { invocations: 0, environmentsCreated: 0, running: 0, maxConcurrent: 0, queued: 0, timedOut: 0 };

  constructor(options: LambdaFunctionOptions) {
    if (typeof options.build !== 'function') throw new TypeError(`function ${options.name}: build must be a function`);
    if (!Number.isInteger(options.maxConcurrency) || options.maxConcurrency < 1) {
      throw new RangeError(`function ${options.name}: maxConcurrency must be a whole number >= 1, got ${options.maxConcurrency}`);
    }
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new RangeError(`function ${options.name}: timeoutMs must be > 0, got ${options.timeoutMs}`);
    this.options = options;
    this.name = options.name;
    this.maxConcurrency = options.maxConcurrency;
    this.timeoutMs = options.timeoutMs;
    this.handler = (event) => this.invoke(event);
  }

  stats(): FunctionPoolStats {
    return { ...this.counters, environments: this.alive, waiting: this.waiters.length };
  }

  /**
   * One invocation: a warm environment if one is free, else a new one while fewer than
   * maxConcurrency exist, else wait for one. A fresh context each time; `contextOverrides`
   * replaces fields of it (e.g. awsRequestId).
   */
  async invoke(event: unknown, contextOverrides?: Partial<Context>): Promise<unknown> {
    this.counters.invocations++;
    const env = await this.acquire();
    this.counters.running++;
    this.counters.maxConcurrent = Math.max(this.counters.maxConcurrent, this.counters.running);
    const context = {
      ...lambdaContext({
        functionName: this.name,
        timeoutMs: this.timeoutMs,
        region: this.options.region ?? LOCAL_REGION,
        accountId: this.options.accountId ?? LOCAL_ACCOUNT,
        memoryLimitInMB: this.options.memoryLimitInMB,
      }),
      ...contextOverrides,
    };
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const run = Promise.resolve().then(() => env.handler(event, context));
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new TaskTimedOutError(this.timeoutMs));
      }, this.timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([run, deadline]);
    } finally {
      clearTimeout(timer);
      this.counters.running--;
      if (timedOut) {
        // AWS restarts the environment; this one may still be busy, so it is never handed out again.
        this.counters.timedOut++;
        run.catch(() => undefined);
        this.retire();
      } else {
        this.release(env);
      }
    }
  }

  /**
   * Builds one environment ahead of the first invocation (like provisioned concurrency), so a
   * handler whose init fails says so now rather than on its first event.
   */
  warm(): void {
    if (this.idle.length > 0 || this.alive >= this.maxConcurrency) return;
    this.idle.push(this.create());
  }

  private acquire(): Promise<Environment> {
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.alive < this.maxConcurrency) return Promise.resolve(this.create());
    this.counters.queued++;
    return new Promise((resolve, reject) => {
      this.waiters.push(() => {
        // Woken when an environment freed (release) or a slot opened (retire).
        const next = this.idle.pop();
        if (next) return resolve(next);
        try {
          resolve(this.create());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** A cold start. A failing init fails this invocation and leaves no environment behind, as Runtime.InitError does. */
  private create(): Environment {
    this.alive++;
    try {
      const handler = this.options.build();
      if (typeof handler !== 'function') throw new TypeError(`function ${this.name}: build() did not return a handler`);
      this.counters.environmentsCreated++;
      return { handler };
    } catch (err) {
      this.retire();
      throw err;
    }
  }

  private release(env: Environment): void {
    this.idle.push(env);
    this.waiters.shift()?.();
  }

  private retire(): void {
    this.alive--;
    this.waiters.shift()?.();
  }
}
