/**
 * EventBridge rules that forward domain events to the publish queue, as configured in
 * `realtime:eventRules`: a name, an event pattern, a topic template and where the data comes
 * from. What a rule's target sends to the queue (the "rule message") and the input transformer
 * that makes it live in rule-message.ts.
 */
import * as z from './zod';

/** `{detail.orderId}` in a topic template takes that path of the event (dots between keys). */
export const PLACEHOLDER = /\{([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\}/g;

/** A dot path into the event: `detail`, `detail.order.id`. */
export const EVENT_PATH = /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*$/;

/** Short name, used in resource names: letters, digits, `-`. */
export const ruleNameSchema = z.string().check(z.regex(/^[A-Za-z0-9-]{1,40}$/, 'rule names are 1-40 letters, digits or -'));

/** Topic characters and `{path}` placeholders, e.g. `orders/{detail.orderId}`. */
export const topicTemplateSchema = z.string().check(
  z.minLength(1),
  z.refine((t) => /^[A-Za-z0-9_.:/-]*$/.test(t.replace(PLACEHOLDER, '')), 'topic templates use only A-Z a-z 0-9 _ . : / - and {path} placeholders'),
);

export const dataPathSchema = z.string().check(z.regex(EVENT_PATH, 'data paths are keys separated by dots, e.g. detail.order'));

export const eventRuleSchema = z.strictObject({
    name: ruleNameSchema,
    /** An EventBridge event pattern, e.g. {"source":["shop.orders"]}. */
    eventPattern: z.record(z.string(), z.unknown()),
    /**
     * The topic to publish to; each `{path}` is replaced by that path of the event, which must
     * be one topic segment (see functions/lib/rule-message.ts). A template that is one
     * placeholder and nothing else (`{detail.topic}`) takes a whole topic name.
     */
    topic: topicTemplateSchema,
    /** Where the message data comes from: any JSON value, which must be present. Default: `detail`. */
    dataPath: z._default(dataPathSchema, 'detail'),
});
export type EventRule = z.input<typeof eventRuleSchema>;
export type ParsedEventRule = z.output<typeof eventRuleSchema>;
