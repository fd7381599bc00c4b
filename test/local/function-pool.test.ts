import { expect } from 'chai';
import type { Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FunctionPool, TaskTimedOutError, type LambdaHandler } from '../../local/lambda/function-pool';

/** A promise with its resolve function exposed: lets a test hold invocations open. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Waits until `check` holds, one macrotask at a time; the mocha timeout bounds it. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

interface Seen {
  env: number;
  client: DynamoDBClient;
  context: Context;
}

/**
 * A function whose every environment has its own id and its own SDK client (as makeHandler builds
 * them), and whose invocations wait for `hold` when one is set.
 */
function recordingFunction(options: { maxConcurrency: number; timeoutMs?: number; hold?: () => Promise<void> }) {
  const seen: Seen[] = [];
  const clients: DynamoDBClient[] = [];
  let environments = 0;
  let running = 0;
  let peak = 0;
  const pool = new FunctionPool({
    name: 'local-test',
    maxConcurrency: options.maxConcurrency,
    timeoutMs: options.timeoutMs ?? 5_000,
    build: (): LambdaHandler => {
      const env = ++environments;
      const client = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
      clients.push(client);
      return async (_event, context) => {
        running++;
        peak = Math.max(peak, running);
        seen.push({ env, client, context });
        try {
          await options.hold?.();
        } finally {
          running--;
        }
        return env;
      };
    },
  });
  return { pool, seen, peak: () => peak, running: () => running, destroy: () => clients.forEach((c) => c.destroy()) };
}

describe('local Lambda function pool (an environment per concurrent invocation)', () => {
  it('runs concurrent invocations in distinct environments, each with its own SDK client', async () => {
    const held = gate();
    const fn = recordingFunction({ maxConcurrency: 10, hold: () => held.promise });
    try {
      const results = Array.from({ length: 5 }, (_, i) => fn.pool.invoke({ i }));
      await until(() => fn.seen.length === 5);
      held.open();
      expect(new Set(await Promise.all(results)).size).to.equal(5);
      expect(new Set(fn.seen.map((s) => s.env)).size).to.equal(5);
      expect(new Set(fn.seen.map((s) => s.client)).size).to.equal(5);
      expect(fn.pool.stats()).to.include({ invocations: 5, environmentsCreated: 5, maxConcurrent: 5, queued: 0, running: 0, environments: 5 });
    } finally {
      fn.destroy();
    }
  });

  it('reuses a warm environment for sequential invocations, with a fresh context each time', async () => {
    const fn = recordingFunction({ maxConcurrency: 10, timeoutMs: 3_000 });
    try {
      expect(await fn.pool.invoke({})).to.equal(1);
      expect(await fn.pool.invoke({})).to.equal(1);
      expect(await fn.pool.invoke({}, { awsRequestId: 'chosen' })).to.equal(1);
      expect(fn.pool.stats()).to.include({ invocations: 3, environmentsCreated: 1, maxConcurrent: 1, queued: 0 });
      const [a, b, c] = fn.seen.map((s) => s.context);
      expect(a.awsRequestId).to.not.equal(b.awsRequestId);
      expect(c.awsRequestId).to.equal('chosen');
      expect(a.functionName).to.equal('local-test');
      expect(a.invokedFunctionArn).to.equal('arn:aws:lambda:us-east-1:000000000000:function:local-test');
      expect(b.getRemainingTimeInMillis()).to.be.within(1, 3_000);
    } finally {
      fn.destroy();
    }
  });

  it('never runs more than maxConcurrency at once; the rest wait and run as environments free', async () => {
    let held = gate();
    const fn = recordingFunction({ maxConcurrency: 3, hold: () => held.promise });
    try {
      const results = Array.from({ length: 10 }, (_, i) => fn.pool.invoke({ i }));
      await until(() => fn.running() === 3);
      // Nothing more starts while the three are held.
      await new Promise((r) => setTimeout(r, 20));
      expect(fn.seen).to.have.length(3);
      expect(fn.pool.stats()).to.include({ running: 3, waiting: 7, queued: 7, environmentsCreated: 3 });
      for (let round = 0; round < 4; round++) {
        const before = fn.seen.length;
        const release = held;
        held = gate();
        release.open();
        await until(() => fn.seen.length === Math.min(10, before + 3));
      }
      held.open();
      expect((await Promise.all(results)).every((env) => typeof env === 'number' && env >= 1 && env <= 3)).to.equal(true);
      expect(fn.peak()).to.equal(3);
      expect(fn.pool.stats()).to.include({ invocations: 10, environmentsCreated: 3, maxConcurrent: 3, queued: 7, waiting: 0, running: 0 });
    } finally {
      fn.destroy();
    }
  });

  it('runs a queued invocation in the environment the previous one freed', async () => {
    const first = gate();
    let calls = 0;
    const fn = recordingFunction({ maxConcurrency: 1, hold: () => (++calls === 1 ? first.promise : Promise.resolve()) });
    try {
      const a = fn.pool.invoke('a');
      const b = fn.pool.invoke('b');
      await until(() => fn.seen.length === 1);
      expect(fn.pool.stats()).to.include({ waiting: 1 });
      first.open();
      expect(await Promise.all([a, b])).to.deep.equal([1, 1]);
      expect(fn.seen.map((s) => s.env)).to.deep.equal([1, 1]);
    } finally {
      fn.destroy();
    }
  });

  it('fails an invocation past its timeout and retires its environment, as Lambda does', async () => {
    let calls = 0;
    const fn = recordingFunction({ maxConcurrency: 1, timeoutMs: 50, hold: () => (++calls === 1 ? new Promise(() => undefined) : Promise.resolve()) });
    try {
      const error = await fn.pool.invoke('hangs').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(TaskTimedOutError);
      expect((error as Error).message).to.equal('Task timed out after 0.05 seconds');
      // The slot is free again, in a new environment: the old one may still be running.
      expect(await fn.pool.invoke('next')).to.equal(2);
      expect(fn.pool.stats()).to.include({ timedOut: 1, environmentsCreated: 2, environments: 1 });
    } finally {
      fn.destroy();
    }
  });

  it('fails the invocation whose init throws and keeps no environment; warm() reports it up front', async () => {
    let builds = 0;
    const pool = new FunctionPool({
      name: 'broken',
      maxConcurrency: 1,
      timeoutMs: 1_000,
      build: () => {
        if (++builds <= 2) throw new Error('missing TABLE_NAME');
        return async () => 'ok';
      },
    });
    expect(() => pool.warm()).to.throw('missing TABLE_NAME');
    await pool.invoke({}).then(
      () => expect.fail('resolved'),
      (e: Error) => expect(e.message).to.equal('missing TABLE_NAME'),
    );
    expect(pool.stats()).to.include({ environments: 0, environmentsCreated: 0 });
    expect(await pool.invoke({})).to.equal('ok');
    expect(pool.stats()).to.include({ environments: 1, environmentsCreated: 1 });
  });

  it('refuses a concurrency or timeout Lambda would refuse', () => {
    const build = () => async () => undefined;
    expect(() => new FunctionPool({ name: 'f', build, maxConcurrency: 0, timeoutMs: 1 })).to.throw(/maxConcurrency/);
    expect(() => new FunctionPool({ name: 'f', build, maxConcurrency: 1.5, timeoutMs: 1 })).to.throw(/maxConcurrency/);
    expect(() => new FunctionPool({ name: 'f', build, maxConcurrency: 1, timeoutMs: 0 })).to.throw(/timeoutMs/);
  });
});
