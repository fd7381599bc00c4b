/**
 * The "AWS side" of the fan-out benchmark, in its own worker thread: the whole local system
 * (gateway, dynalite, SQS + poller with the system's publish function) plus the virtual
 * subscribers and their receipt log. The main thread plays the publishers, so they do not share
 * a CPU with the gateway they call — as a Lambda does not share one with API Gateway.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pLimit from 'p-limit';
import type { FaultOptions, VirtualConnection } from '../../local/gateway';
import { startLocal } from '../../local/system';
import { ReceiptLog, type RunReceipts } from './receipts';
import type { AwsSideOptions, AwsSideRequest } from './aws-side';

async function main(options: AwsSideOptions): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('aws-side-worker must run in a worker thread');
  const system = await startLocal({ quiet: true, env: options.env, queue: { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } });
  const log = new ReceiptLog();
  const runs = new Map<string, RunReceipts>();
  let connections: VirtualConnection[] = [];

  /** Opens `count` virtual subscribers whose frames go to the receipt log. */
  const openVirtual = async (count: number) => {
    const limit = pLimit(32);
    const opened = await Promise.all(
      Array.from({ length: count }, () =>
        limit(async () => {
          const conn = await system.gateway.connectVirtual();
          conn.onMessage((frame) => log.record(conn.connectionId, frame));
          return conn;
        }),
      ),
    );
    connections = connections.concat(opened);
    return opened.map((c) => c.connectionId);
  };

  const operations = {
    setFaults: (faults: FaultOptions) => system.gateway.setFaults(faults),
    stats: () => system.gateway.stats(),
    /**
     * Opens `count` more virtual subscribers through $connect; answers their ids. `bulk` skips the
     * $connect function (the gateway admits them at once, no connection row is written): for the
     * large-topic scenario, whose fan-out never reads connection rows, and where 100,000 calls of
     * the connect function (one dynalite write each) would take longer than the measurements.
     */
    connect: async (count: number, bulk = false) => {
      const pool = system.functions.connect;
      if (bulk && !pool) throw new Error('the local system has no connect function');
      const invoke = pool?.invoke;
      if (bulk && pool) pool.invoke = async () => ({ statusCode: 200 });
      try {
        return await openVirtual(count);
      } finally {
        if (bulk && pool && invoke) pool.invoke = invoke;
      }
    },
    expect: (id: string, expected: number) => {
      runs.set(id, log.start(id, expected, NaN));
    },
    /** Waits for the run (see RunReceipts.wait), then forgets the frames the gateway kept. */
    wait: async (id: string, sentAt: number, quietMs: number, deadlineMs: number) => {
      const run = runs.get(id);
      if (!run) throw new Error(`no run ${id}`);
      run.sentAt = sentAt;
      await run.wait({ quietMs, deadlineMs });
      runs.delete(id);
      for (const conn of connections) conn.received.length = 0;
      return run.summary();
    },
  };

  port.on('message', async (request: AwsSideRequest) => {
    try {
      const op = operations[request.op as keyof typeof operations] as (...args: unknown[]) => unknown;
      if (!op) throw new Error(`unknown operation ${request.op}`);
      port.postMessage({ seq: request.seq, result: await op(...request.args) });
    } catch (error) {
      port.postMessage({ seq: request.seq, error: (error as Error).stack ?? String(error) });
    }
  });
  port.postMessage({ ready: true, outputs: system.outputs });
}

main(workerData as AwsSideOptions).catch((error: unknown) => {
  parentPort?.postMessage({ ready: false, error: (error as Error).stack ?? String(error) });
});
