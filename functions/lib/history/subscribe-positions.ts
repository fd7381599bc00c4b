/**
 * What subscribe adds for continuity, once the connection's subscription rows are written
 * (subscribe first, then read, so nothing published meanwhile falls between): each topic's
 * position for the reply, and for the topics named in `since` a replay of what the connection
 * missed, posted to it as ordinary message frames before the reply goes back.
 *
 * Frames of one topic are posted a few at a time in seq order (they may arrive slightly out of
 * order; the client SDK orders them by seq). A replay stops at the invocation's deadline, or
 * when a frame cannot be delivered (429s past the deadline, 5xx, a closed connection): the reply
 * then still gives the topic's head as its position, so the client sees what it lacks and asks
 * again with `since`, which is idempotent.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import pLimit from 'p-limit';
import type { StreamPosition } from '../../../protocol/history';
import type { Deliverer } from '../delivery/deliverer';
import type { Since, StreamReader } from './replay';

/** Frames of one replay in flight at once. */
export const REPLAY_CONCURRENCY = 4;
/** Topics whose position is read (and replayed) at once. */
export const POSITION_CONCURRENCY = 8;

export interface SubscribePositions {
  positions: Record<string, StreamPosition>;
  /** For each topic of `since`: was every retained message after it replayed? */
  recovered?: Record<string, boolean>;
  replayed: number;
}

export interface PositionDeps {
  reader: StreamReader;
  /** Posts replayed frames to the subscribing connection. */
  deliverer: Deliverer;
  logger: Logger;
}

export async function subscribePositions(deps: PositionDeps, connectionId: string, topics: readonly string[], since: Record<string, Since> = {}): Promise<SubscribePositions> {
  const positions: Record<string, StreamPosition> = {};
  const recovered: Record<string, boolean> = {};
  let replayed = 0;
  const limit = pLimit(POSITION_CONCURRENCY);
  // Settled, not all: a topic that fails must not answer the request while other replays still post.
  const settled = await Promise.allSettled(
    topics.map((topic) =>
      limit(async () => {
        const from = since[topic];
        if (!from) {
          positions[topic] = await deps.reader.position(topic);
          return;
        }
        let complete = true;
        const resumed = await deps.reader.resume(topic, from, async (frames) => {
          complete = await replay(deps.deliverer, connectionId, topic, frames);
          return complete;
        });
        replayed += resumed.replayed;
        // Cut short: the head tells the client what it still lacks, so it asks again.
        positions[topic] = complete ? resumed.position : await deps.reader.position(topic);
        recovered[topic] = resumed.recovered;
        if (!complete) deps.logger.info('replay cut short; the client asks again', { connectionId, topic, replayed: resumed.replayed });
      }),
    ),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return Object.keys(since).length > 0 ? { positions, recovered, replayed } : { positions, replayed };
}

/** Post one page of frames to the connection; false when any could not be delivered. */
async function replay(deliverer: Deliverer, connectionId: string, topic: string, frames: string[]): Promise<boolean> {
  const limit = pLimit(REPLAY_CONCURRENCY);
  const encoder = new TextEncoder();
  const reports = await Promise.all(
    frames.map((frame) => limit(() => deliverer.deliver([connectionId], encoder.encode(frame), { topic, messageId: 'replay' }))),
  );
  return reports.every((r) => r.delivered === 1);
}
