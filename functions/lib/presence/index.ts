/** Presence topics: members per principal, join/leave announcements, the subscribed reply's lists. */
import type { Runtime } from '../runtime';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { makePublishQueue } from '../publish-queue';
import { Presence } from './presence';

export { Presence } from './presence';
export { MemberStore, memberOf, presencePartition } from './members';

/** The runtime's Presence, or undefined when the stack has no presence topics. */
export function makePresence(runtime: Runtime, sqs?: SQSClient): Presence | undefined {
  const { config, ddb, tableName, logger } = runtime;
  if (config.presence.topics.length === 0) return undefined;
  return new Presence({ ddb, tableName, config, logger, queue: makePublishQueue(config, sqs) });
}
