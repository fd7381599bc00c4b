/**
 * The publisher process of the fan-out benchmark (started by publisher-side.ts): it hosts the
 * publishers of publishers.ts and nothing else, so the CPU time this process spends during a
 * publish is the publisher's own (see publisher-side.ts for why a process and not a thread).
 */
import { performance } from 'node:perf_hooks';
import { makePublishers, type Publishers, type PublishRequest, type PublisherTarget } from './publishers';
import type { PublisherRequest, PublishRun } from './publisher-side';
import { wallClockMs } from './stats';

/** V8's collector, exposed by --expose-gc. */
const collectGarbage = (globalThis as { gc?: () => void }).gc;

let publishers: Publishers | undefined;

async function publish(request: PublishRequest): Promise<PublishRun> {
  if (!publishers) throw new Error('the publisher process was not initialised');
  // Each run starts on a collected heap, so garbage left by the previous run is not charged to this one.
  collectGarbage?.();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const sentAt = wallClockMs();
  let out: { answer: string; sample?: PublishRun['sample'] };
  try {
    out = await publishers.publish(request);
  } catch (error) {
    out = { answer: `threw: ${(error as Error).message}` };
  }
  const used = process.cpuUsage(cpu);
  return { ...out, sentAt, cpuUserUs: used.user, cpuSystemUs: used.system, busy: performance.eventLoopUtilization(elu).utilization };
}

const operations = {
  init: (target: PublisherTarget) => {
    publishers = makePublishers(target);
  },
  publish,
  articleSocketLimit: () => publishers?.articleSocketLimit(),
};

process.on('message', async (request: PublisherRequest) => {
  try {
    const op = operations[request.op] as (...args: unknown[]) => unknown;
    if (!op) throw new Error(`unknown operation ${String(request.op)}`);
    process.send?.({ seq: request.seq, result: await op(...request.args) });
  } catch (error) {
    process.send?.({ seq: request.seq, error: (error as Error).stack ?? String(error) });
  }
});
// The benchmark ends by exiting, or its test stops this process: either way, nothing to finish.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true, gc: collectGarbage !== undefined });
