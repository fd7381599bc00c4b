/**
 * EventBridge rules that forward domain events to the publish queue. A rule names an event
 * pattern and a topic template; an input transformer turns the matched event into the publish
 * envelope. The Pulumi component and the local PutEvents endpoint both build the transformer
 * with `inputTransformerFor`, so both shape events identically.
 */
import * as z from 'zod';

/** `{detail.orderId}` in a topic template takes that JSON path of the event. */
const PLACEHOLDER = /\{([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\}/g;

export const eventRuleSchema = z
  .object({
    /** Short name, used in resource names: letters, digits, `-`. */
    name: z.string().regex(/^[A-Za-z0-9-]{1,40}$/, 'rule names are 1-40 letters, digits or -'),
    /** An EventBridge event pattern, e.g. {"source":["shop.orders"]}. */
    eventPattern: z.record(z.string(), z.unknown()),
    /** The topic to publish to; `{path}` is replaced by that path of the event, e.g. `orders/{detail.orderId}`. */
    topic: z
      .string()
      .min(1)
      .refine((t) => /^[A-Za-z0-9_.:/-]*$/.test(t.replace(PLACEHOLDER, '')), 'topic templates use only A-Z a-z 0-9 _ . : / - and {path} placeholders'),
    /** Where the message data comes from; must point at a JSON object or array. Default: `detail`. */
    dataPath: z.string().regex(/^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*$/).default('detail'),
  })
  .strict();
export type EventRule = z.input<typeof eventRuleSchema>;
export type ParsedEventRule = z.output<typeof eventRuleSchema>;

export interface InputTransformer {
  /** Variable name → JSONPath of the event. */
  inputPaths: Record<string, string>;
  /** The target's input, with `<variable>` where a value goes. */
  inputTemplate: string;
}

/**
 * The input transformer for a rule. The envelope's `id` is the event's id, so a retried delivery
 * of the same event keeps its id and clients de-duplicate it.
 */
export function inputTransformerFor(rule: EventRule): InputTransformer {
  const parsed = eventRuleSchema.parse(rule);
  const inputPaths: Record<string, string> = { id: '$.id', data: `$.${parsed.dataPath}` };
  let n = 0;
  const seen = new Map<string, string>();
  const topic = parsed.topic.replace(PLACEHOLDER, (_all, path: string) => {
    let variable = seen.get(path);
    if (!variable) {
      variable = `t${n++}`;
      seen.set(path, variable);
      inputPaths[variable] = `$.${path}`;
    }
    return `<${variable}>`;
  });
  // Topic characters never need JSON escaping (see TOPIC_PATTERN), so the quotes are safe.
  const inputTemplate = `{"topic":"${topic}","id":"<id>","data":<data>}`;
  return { inputPaths, inputTemplate };
}
