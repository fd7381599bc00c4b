/**
 * Receipt bookkeeping for fan-out runs: every subscriber reports each frame it receives; a run
 * counts the first receipt per subscriber (at-least-once delivery: duplicates are counted apart,
 * never as extra deliveries) and knows when every expected subscriber has its message.
 */
import { percentile, wallClockMs } from './stats';

export class RunReceipts {
  /** connectionId → wall-clock ms of its first receipt. */
  readonly firstReceipt = new Map<string, number>();
  duplicates = 0;
  lastReceiptAt = NaN;
  private waiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly expected: number,
    /** Wall-clock ms at which the publish was sent (may be set after the run is registered). */
    public sentAt: number,
  ) {}

  get delivered(): number {
    return this.firstReceipt.size;
  }

  get complete(): boolean {
    return this.delivered >= this.expected;
  }

  record(connectionId: string, at: number): void {
    if (this.firstReceipt.has(connectionId)) {
      this.duplicates++;
      return;
    }
    this.firstReceipt.set(connectionId, at);
    this.lastReceiptAt = Number.isFinite(this.lastReceiptAt) ? Math.max(this.lastReceiptAt, at) : at;
    if (this.complete) this.waiters.splice(0).forEach((wake) => wake());
  }

  /**
   * Resolves when every expected subscriber has the message, or when `done` has resolved and
   * then `quietMs` pass without a new receipt, or at `deadlineMs` (from now) at the latest.
   */
  async wait(options: { done?: Promise<unknown>; quietMs: number; deadlineMs: number }): Promise<void> {
    if (this.complete) return;
    const deadline = Date.now() + options.deadlineMs;
    let finished = options.done === undefined;
    void options.done?.finally(() => (finished = true));
    await new Promise<void>((resolve) => {
      let lastCount = this.delivered;
      let lastChange = Date.now();
      const timer = setInterval(() => {
        if (this.delivered !== lastCount) {
          lastCount = this.delivered;
          lastChange = Date.now();
        }
        if (Date.now() >= deadline || (finished && Date.now() - lastChange >= options.quietMs)) stop();
      }, 25);
      const stop = () => {
        clearInterval(timer);
        resolve();
      };
      this.waiters.push(stop);
    });
  }

  /** Per-subscriber latency: receipt − send, in ms. */
  latencies(): number[] {
    return [...this.firstReceipt.values()].map((at) => at - this.sentAt);
  }

  summary(): DeliverySummary {
    const latencies = this.latencies();
    const durationMs = this.delivered > 0 ? this.lastReceiptAt - this.sentAt : NaN;
    return {
      expected: this.expected,
      delivered: this.delivered,
      duplicates: this.duplicates,
      firstMs: this.delivered > 0 ? latencies.reduce((a, b) => Math.min(a, b)) : NaN,
      durationMs,
      deliveriesPerSecond: this.delivered > 0 ? (this.delivered / durationMs) * 1000 : 0,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  }
}

export interface DeliverySummary {
  expected: number;
  /** Distinct subscribers that received the message. */
  delivered: number;
  /** Extra copies received (at-least-once), not counted as deliveries. */
  duplicates: number;
  /** Send → the first subscriber's receipt (NaN when nothing arrived). */
  firstMs: number;
  /** Send → last first-receipt. */
  durationMs: number;
  deliveriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Routes every received frame to the run of its message id. */
export class ReceiptLog {
  private runs = new Map<string, RunReceipts>();
  /** Frames that were not a delivered message of a known run. */
  stray = 0;

  start(id: string, expected: number, sentAt = wallClockMs()): RunReceipts {
    if (this.runs.has(id)) throw new Error(`a run with message id ${id} already exists`);
    const run = new RunReceipts(id, expected, sentAt);
    this.runs.set(id, run);
    return run;
  }

  /** The receiver callback: `frame` is the text a subscriber got. */
  record(connectionId: string, frame: string, at = wallClockMs()): void {
    let id: unknown;
    try {
      const parsed = JSON.parse(frame) as { type?: unknown; id?: unknown };
      id = parsed.type === 'message' ? parsed.id : undefined;
    } catch {
      id = undefined;
    }
    const run = typeof id === 'string' ? this.runs.get(id) : undefined;
    if (run) run.record(connectionId, at);
    else this.stray++;
  }
}
