/**
 * The publisher process of the fan-out benchmark (started by publisher-side.ts): it hosts the
 * publishers of publishers.ts and nothing else, so the CPU time this process spends during a
 * publish is the publisher's own (see publisher-side.ts for why a process and not a thread).
 */
import { performance } from 'node:perf_hooks';
import { makePublishers, type Publishers, type PublishRequest, type PublisherTarget } from './publishers';
import type { PublishRun } from './publisher-side';
import { wallClockMs } from './stats';
import { serveOperations } from './child-serve';

let publishers: Publishers | undefined;

async function publish(request: PublishRequest): Promise<PublishRun> {
  if (!publishers) throw new Error('the publisher process was not initialised');
  // No forced collection before a run: a forced full GC shrinks the heap and ages (and can flush)
  // the compiled code of the approaches not running, so the next run would pay for regrowing and
  // recompiling, which a warm Lambda does not (in a trial here, on a busy machine, it raised the
  // CPU per delivery at 1,000 subscribers by roughly 1.5–2×). What a run leaves behind is
  // mostly dead objects, cheap to collect, so little of it is charged to the next run.
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

serveOperations(operations);
