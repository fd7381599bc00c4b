/**
 * The rule message: what an EventBridge rule's target puts on the publish queue.
 *
 *   {"rule":"orders","topic":"orders/{detail.orderId}","dataPath":"detail","event":<the whole event>}
 *
 * The constant parts come from the stack's rule (trusted config); the event is serialised by
 * EventBridge itself (`<aws.events.event.json>`), so no field value of the event is ever pasted
 * into the JSON text. An input transformer that pasted values between quotes let an event whose
 * `orderId` was `x","topic":"users/bob/inbox` add its own `topic` key. The publish function builds
 * the envelope from this message (functions/lib/rule-message.ts) and checks every value it takes
 * from the event.
 *
 * The Pulumi component and the local PutEvents endpoint both build the target's input
 * transformer with `inputTransformerFor`, so both send the same message.
 */
import * as z from './zod';
import { MAX_ID_LENGTH } from './envelope';
import { dataPathSchema, eventRuleSchema, ruleNameSchema, topicTemplateSchema, type EventRule } from './rules';

/** EventBridge's predefined variable for the whole original event, as JSON. */
export const WHOLE_EVENT_VARIABLE = 'aws.events.event.json';

export const ruleMessageSchema = z.strictObject({
  rule: ruleNameSchema,
  topic: topicTemplateSchema,
  dataPath: dataPathSchema,
  /** The event as EventBridge delivers it; only its `id` is checked here, the rest on use. */
  event: z.looseObject({ id: z.string().check(z.minLength(1), z.maxLength(MAX_ID_LENGTH)) }),
});
export type RuleMessage = z.infer<typeof ruleMessageSchema>;

/**
 * Does this body claim to be a rule message (own `rule` and `event` keys)? A publish envelope
 * never has them (its schema is strict), so the two shapes cannot be confused.
 */
export function looksLikeRuleMessage(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, 'rule') && Object.hasOwn(value, 'event');
}

/** EventBridge's InputTransformer: no paths map (no event field is substituted), one template. */
export interface InputTransformer {
  /** Variable name → JSONPath of the event; absent for rule messages. */
  inputPaths?: Record<string, string>;
  /** The target's input, with `<variable>` where a value goes. */
  inputTemplate: string;
}

/**
 * The input transformer of a rule's target: the rule message with the rule's constant parts,
 * JSON-encoded here, and `<aws.events.event.json>` as the value of `event`. The rule's fields
 * never contain `<` or `>` (their schemas), so they cannot form a placeholder.
 */
export function inputTransformerFor(rule: EventRule): InputTransformer {
  const parsed = eventRuleSchema.parse(rule);
  const constant = JSON.stringify({ rule: parsed.name, topic: parsed.topic, dataPath: parsed.dataPath });
  return { inputTemplate: `${constant.slice(0, -1)},"event":<${WHOLE_EVENT_VARIABLE}>}` };
}
