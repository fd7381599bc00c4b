/**
 * Fault injection for the management API: added latency, random 410/429/500 answers and a token
 * bucket that answers 429 beyond its rate. Plus the parsing of the CLI flags that set them.
 */
import type { FaultOptions } from './types';

/** The answer a fault imposes on one management call, if any. */
export type InjectedFault = 'throttled' | 'error' | 'gone' | undefined;

function checkRate(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`${name} must be a probability between 0 and 1, got ${String(value)}`);
  }
}

/** Throws a RangeError naming the first bad option. */
export function validateFaults(f: FaultOptions): void {
  if (f.latencyMs !== undefined && (!Number.isFinite(f.latencyMs) || f.latencyMs < 0)) {
    throw new RangeError(`latencyMs must be a number of milliseconds >= 0, got ${String(f.latencyMs)}`);
  }
  checkRate('goneRate', f.goneRate);
  checkRate('throttleRate', f.throttleRate);
  checkRate('errorRate', f.errorRate);
  if (f.rateLimit !== undefined) {
    const { perSecond, burst } = f.rateLimit;
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new RangeError(`rateLimit.perSecond must be a number > 0, got ${String(perSecond)}`);
    }
    if (burst !== undefined && (!Number.isInteger(burst) || burst < 1)) {
      throw new RangeError(`rateLimit.burst must be a whole number >= 1, got ${String(burst)}`);
    }
  }
}

/** Token bucket refilled lazily from the clock: no timer. */
class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private readonly capacity: number;

  constructor(private readonly perSecond: number, burst: number | undefined) {
    this.capacity = burst ?? Math.max(1, Math.ceil(perSecond));
    this.tokens = this.capacity;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class FaultInjector {
  private faults: FaultOptions = {};
  private bucket: TokenBucket | undefined;

  constructor(faults: FaultOptions = {}, private readonly random: () => number = Math.random) {
    this.set(faults);
  }

  set(faults: FaultOptions): void {
    validateFaults(faults);
    this.faults = { ...faults };
    this.bucket = faults.rateLimit ? new TokenBucket(faults.rateLimit.perSecond, faults.rateLimit.burst) : undefined;
  }

  get latencyMs(): number {
    return this.faults.latencyMs ?? 0;
  }

  /** Decides the fate of one call: rate limit first (AWS throttles at the front door), then the dice. */
  decide(): InjectedFault {
    if (this.bucket && !this.bucket.take()) return 'throttled';
    const { throttleRate, errorRate, goneRate } = this.faults;
    if (throttleRate && this.random() < throttleRate) return 'throttled';
    if (errorRate && this.random() < errorRate) return 'error';
    if (goneRate && this.random() < goneRate) return 'gone';
    return undefined;
  }
}

/** Parses `N` or `N/BURST` (the `--rate-limit` flag). */
export function parseRateLimit(text: string): { perSecond: number; burst?: number } {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+)\s*)?$/.exec(text);
  if (!match) throw new RangeError(`--rate-limit takes N or N/BURST (calls a second, bucket size), got "${text}"`);
  const limit = { perSecond: Number(match[1]), ...(match[2] !== undefined ? { burst: Number(match[2]) } : {}) };
  validateFaults({ rateLimit: limit });
  return limit;
}

/** Flag values as a CLI parser hands them over (strings), keyed by FaultOptions name. */
export interface FaultFlags {
  latencyMs?: string;
  goneRate?: string;
  throttleRate?: string;
  errorRate?: string;
  rateLimit?: string;
}

/** The CLI flag of each fault option, for help texts and error messages. */
export const FAULT_FLAGS: Record<keyof FaultFlags, string> = {
  latencyMs: '--latency-ms',
  goneRate: '--gone-rate',
  throttleRate: '--throttle-rate',
  errorRate: '--error-rate',
  rateLimit: '--rate-limit',
};

/** Turns `--latency-ms 20 --gone-rate 0.01 --rate-limit 100/20` style values into FaultOptions. */
export function parseFaultFlags(flags: FaultFlags): FaultOptions {
  const faults: FaultOptions = {};
  const number = (key: keyof FaultFlags, text: string) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new RangeError(`${FAULT_FLAGS[key]} takes a number, got "${text}"`);
    return value;
  };
  if (flags.latencyMs !== undefined) faults.latencyMs = number('latencyMs', flags.latencyMs);
  if (flags.goneRate !== undefined) faults.goneRate = number('goneRate', flags.goneRate);
  if (flags.throttleRate !== undefined) faults.throttleRate = number('throttleRate', flags.throttleRate);
  if (flags.errorRate !== undefined) faults.errorRate = number('errorRate', flags.errorRate);
  if (flags.rateLimit !== undefined) faults.rateLimit = parseRateLimit(flags.rateLimit);
  try {
    validateFaults(faults);
  } catch (e) {
    // Name the flag, not the option, in what the user reads.
    const message = (e as Error).message.replace(/^(latencyMs|goneRate|throttleRate|errorRate)/, (k) => FAULT_FLAGS[k as keyof FaultFlags]);
    throw new RangeError(message);
  }
  return faults;
}
