/**
 * Publishing a ready-made envelope through EventBridge (`realtime publish --via events`, or any
 * backend): PutEvents with this detail-type and `detail` = {"topic": …, "data": <object|array>}.
 * EventBridge only forwards events a rule matches, so the stack needs DIRECT_PUBLISH_RULE in
 * `realtime:eventRules`. The message id becomes the EventBridge event id (the transformer's <id>).
 */
import type { EventRule } from './rules';

export const DIRECT_PUBLISH_SOURCE = 'realtime.cli';
export const DIRECT_PUBLISH_DETAIL_TYPE = 'realtime.publish';

export const DIRECT_PUBLISH_RULE: EventRule = {
  name: 'direct-publish',
  eventPattern: { 'detail-type': [DIRECT_PUBLISH_DETAIL_TYPE] },
  topic: '{detail.topic}',
  dataPath: 'detail.data',
};
