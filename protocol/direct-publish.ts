/**
 * Publishing a ready-made envelope through EventBridge (`realtime publish --via events`, or any
 * backend): PutEvents with this detail-type and `detail` = {"topic": …, "data": <object|array>}.
 * EventBridge only forwards events a rule matches, so the stack needs DIRECT_PUBLISH_RULE in
 * `realtime:eventRules`. Its template is one placeholder, so `detail.topic` must be a whole valid
 * topic name (functions/lib/rule-message.ts); the message id is the EventBridge event id.
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
