/**
 * The publishers' side of the fan-out benchmark: a child process (publisher-process.ts) that
 * runs the publishers one request at a time and reports, with each run, the CPU time it spent.
 *
 * Why a process, not the main thread's CPU clock: `process.cpuUsage()` in a process that hosts
 * nothing but the publisher counts exactly the publisher's work on every thread — the JavaScript
 * thread, V8's garbage-collection helper threads (parallel scavenges, concurrent marking) and
 * libuv's pool — which is what a Lambda pays for on its vCPU. Reading the main thread's clock
 * from /proc/self/task/<tid>/stat would miss the GC helpers (a large share of the SDK's cost),
 * count in 10 ms ticks, and work on Linux only. The price is one IPC message each way per run,
 * outside the measured window, and a second to start the process.
 */
import * as path from 'node:path';
import { spawnChild } from './child';
import type { PublishAnswer, PublishRequest, PublisherTarget } from './publishers';

export interface PublishRun extends PublishAnswer {
  /** Wall-clock ms (wallClockMs) just before the publisher started. */
  sentAt: number;
  /** CPU time of the publisher process during the run, in µs (user and system). */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Event-loop utilisation of the publisher's thread during the run (0..1): how saturated it was, not CPU. */
  busy: number;
}


export interface PublisherSide {
  /** Runs one publish and resolves once every post of it is done. */
  publish(request: PublishRequest): Promise<PublishRun>;
  /** Sockets the article's SDK client allows (read from its agent after its first call). */
  articleSocketLimit(): Promise<number | undefined>;
  /**
   * Replaces the process with a fresh one: after a run overran its deadline, so that it cannot
   * go on posting (and spending CPU) during the next run. Its pending call rejects.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const PUBLISHER_ENTRY = path.join(__dirname, 'publisher-process.ts');

export async function startPublisherSide(target: PublisherTarget): Promise<PublisherSide> {
  let current = await spawnChild(PUBLISHER_ENTRY, target);
  return {
    publish: (request) => current.call('publish', request),
    articleSocketLimit: () => current.call('articleSocketLimit'),
    restart: async () => {
      await current.stop();
      current = await spawnChild(PUBLISHER_ENTRY, target);
    },
    stop: () => current.stop(),
  };
}
