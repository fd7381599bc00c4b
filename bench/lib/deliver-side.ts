/**
 * The delivery function's concurrent environments for the large-topic benchmark: one process
 * each (deliver-process.ts), all polling the same delivery queue, as the event source mapping's
 * maximum concurrency lets them in AWS.
 */
import * as path from 'node:path';
import { spawnChild, type Child } from './child';
import type { DeliverProcessInit, DeliverProcessReport } from './deliver-process';

export interface DeliverSide {
  /** Every environment starts polling. */
  start(): Promise<void>;
  /** Every environment stops once its invocation in progress is done; their reports added up. */
  stop(): Promise<DeliverProcessReport & { environments: number }>;
  /** Ends the processes. */
  close(): Promise<void>;
}

const ENTRY = path.join(__dirname, 'deliver-process.ts');

export async function startDeliverSide(environments: number, init: DeliverProcessInit): Promise<DeliverSide> {
  if (!Number.isInteger(environments) || environments < 1) throw new Error(`environments must be a whole number >= 1, got ${environments}`);
  const children: Child[] = [];
  try {
    for (let i = 0; i < environments; i++) children.push(await spawnChild(ENTRY, init));
  } catch (error) {
    await Promise.all(children.map((c) => c.stop()));
    throw error;
  }
  return {
    start: async () => {
      await Promise.all(children.map((c) => c.call('start')));
    },
    stop: async () => {
      const reports = await Promise.all(children.map((c) => c.call<DeliverProcessReport>('stop')));
      const sum = (key: keyof DeliverProcessReport) => reports.reduce((n, r) => n + r[key], 0);
      return { environments, cpuUs: sum('cpuUs'), invocations: sum('invocations'), records: sum('records'), failedRecords: sum('failedRecords') };
    },
    close: async () => {
      await Promise.all(children.map((c) => c.stop()));
    },
  };
}
