import { expect } from 'chai';
import { AdaptiveLimit } from '../../functions/lib/adaptive-limit';
import { loadConfig } from '../../functions/lib/config';
import { ENV } from '../../protocol/env';
import { DEADLINE_MARGIN_MIN_MS, deadlineMargin, retryDeadline } from '../../functions/lib/deadline';
import { DEFAULTS } from '../../protocol/limits';

describe('AdaptiveLimit (AIMD bound on posts in flight)', () => {
  /** A limiter on a hand-moved clock. */
  function limiter(max: number, cutWindowMs = 100) {
    const clock = { t: 1000 };
    const limit = new AdaptiveLimit({ max, cutWindowMs, now: () => clock.t });
    return { limit, clock };
  }

  it('starts at the maximum and halves on a 429', () => {
    const { limit, clock } = limiter(64);
    expect(limit.bound).to.equal(64);
    expect(limit.throttled(clock.t)).to.equal(true);
    expect(limit.bound).to.equal(32);
    expect(limit.reductions).to.equal(1);
    expect(limit.lowest).to.equal(32);
  });

  it('cuts once for a burst of 429s within one window, and again in the next window', () => {
    const { limit, clock } = limiter(64);
    const sent = clock.t;
    for (let i = 0; i < 40; i++) limit.throttled(sent);
    clock.t += 60;
    expect(limit.throttled(clock.t - 1)).to.equal(false);
    expect(limit.bound).to.equal(32);
    clock.t += 50; // 110 ms after the cut
    expect(limit.throttled(clock.t - 5)).to.equal(true);
    expect(limit.bound).to.equal(16);
    expect(limit.reductions).to.equal(2);
  });

  it('ignores a 429 for a call sent before the last cut, however late it is answered', () => {
    const { limit, clock } = limiter(64);
    const early = clock.t;
    clock.t += 10;
    limit.throttled(early);
    clock.t += 500;
    expect(limit.throttled(early)).to.equal(false);
    expect(limit.bound).to.equal(32);
  });

  it('never goes below 1, and a 429 at 1 is not counted as a reduction', () => {
    const { limit, clock } = limiter(3);
    for (let i = 0; i < 5; i++) {
      limit.throttled(clock.t);
      clock.t += 100;
    }
    expect(limit.bound).to.equal(1);
    expect(limit.reductions).to.equal(1);
    expect(limit.lowest).to.equal(1);
  });

  it('raises the bound by one per `bound` successes, back to the maximum and never above it', () => {
    const { limit, clock } = limiter(10);
    limit.throttled(clock.t); // 5
    const bounds: number[] = [];
    for (let i = 0; i < 60; i++) {
      limit.succeeded();
      bounds.push(limit.bound);
    }
    // 5 successes -> 6, 6 more -> 7, 7 -> 8, 8 -> 9, 9 -> 10 (35 in all), then it stays.
    expect(bounds.indexOf(6)).to.equal(4);
    expect(bounds.indexOf(7)).to.equal(10);
    expect(bounds.indexOf(10)).to.equal(34);
    expect(Math.max(...bounds)).to.equal(10);
    expect(bounds.at(-1)).to.equal(10);
    expect(limit.lowest).to.equal(5);
  });

  it('after a cut, starts no new call until fewer than the new bound are running', async () => {
    const { limit, clock } = limiter(4);
    let running = 0;
    const startedWith: number[] = [];
    const gates: (() => void)[] = [];
    const task = () =>
      limit.run(async () => {
        startedWith.push(++running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      });
    const all = Array.from({ length: 10 }, task);
    await new Promise((r) => setImmediate(r));
    expect(running).to.equal(4);
    limit.throttled(clock.t); // bound 2 while 4 run
    const before = startedWith.length;
    // Release the calls one at a time: each call started after the cut saw at most 2 running.
    while (gates.length > 0) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(startedWith.slice(before)).to.have.length(6);
    expect(startedWith.slice(before).every((n) => n <= 2), String(startedWith)).to.equal(true);
    expect(startedWith).to.have.length(10);
  });
});

describe('retryDeadline', () => {
  const context = (remaining: number) => ({ getRemainingTimeInMillis: () => remaining });

  it('keeps 10 % of a long remaining time for answering', () => {
    expect(retryDeadline(context(60_000), 5_000, 100)).to.equal(100 + 54_000);
  });

  it(`keeps at least ${DEADLINE_MARGIN_MIN_MS} ms of a middling remaining time`, () => {
    expect(retryDeadline(context(10_000), 5_000, 100)).to.equal(100 + 8_000);
    expect(retryDeadline(context(4_000), 5_000, 100)).to.equal(100 + 2_000);
  });

  it('keeps at most half of a short remaining time, so there is always a window to send and retry', () => {
    // The local mode's publish timeouts: visibility / 6 = 5 s by default, 333 ms with --visibility-timeout 2.
    expect(retryDeadline(context(5_000), 5_000, 100)).to.equal(100 + 3_000);
    expect(retryDeadline(context(1_500), 5_000, 100)).to.equal(100 + 750);
    expect(retryDeadline(context(333), 5_000, 100)).to.equal(100 + 166.5);
    expect(deadlineMargin(2_000)).to.equal(1_000);
    expect(retryDeadline(context(0), 5_000, 100)).to.equal(100);
  });

  it('falls back to the configured budget without a Lambda context', () => {
    expect(retryDeadline(undefined, 5_000, 100)).to.equal(5_100);
    expect(retryDeadline({ awsRequestId: 'x' }, 7_000, 0)).to.equal(7_000);
  });
});

describe('publish retry settings', () => {
  it('default to a 50 ms backoff base and a 10 s budget without a context', () => {
    const c = loadConfig({});
    expect(c.postBaseBackoffMs).to.equal(DEFAULTS.postBaseBackoffMs);
    expect(c.publishRetryBudgetMs).to.equal(DEFAULTS.publishRetryBudgetMs);
  });

  it('are read from the env map and validated with the variable named', () => {
    const c = loadConfig({ [ENV.postBaseBackoffMs]: '5', [ENV.publishRetryBudgetMs]: '2500' });
    expect(c.postBaseBackoffMs).to.equal(5);
    expect(c.publishRetryBudgetMs).to.equal(2500);
    expect(() => loadConfig({ [ENV.postBaseBackoffMs]: '0', [ENV.publishRetryBudgetMs]: 'soon' })).to.throw(
      /POST_BASE_BACKOFF_MS must be at least 1 \(got "0"\); PUBLISH_RETRY_BUDGET_MS must be a whole number \(got "soon"\)/,
    );
  });
});
