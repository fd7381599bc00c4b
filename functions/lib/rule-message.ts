/**
 * Building a publish envelope from a rule message (protocol/rule-message.ts): what an EventBridge
 * rule's target puts on the queue, the rule's topic template and data path with the whole event.
 *
 * Every value taken from the event is checked, because the event's fields are not ours: a
 * placeholder fills exactly one topic segment — a string or a finite number (written as JS writes
 * it), of topic characters without `/`, not empty, and not making the segment `.` or `..` (which
 * read as path steps to anyone mapping topics onto paths). A template that is one placeholder
 * and nothing else (`{detail.topic}`, the direct-publish rule) takes a whole topic name, checked
 * like any topic. The data is the JSON value at the data path, which must exist. The id is the
 * event's id, so a retried or duplicated event keeps it and clients de-duplicate.
 *
 * Anything else is refused with a reason that names the placeholder and quotes at most a short
 * escaped prefix of the value (untrusted.ts); the caller drops the message: retries cannot fix it.
 */
import { MAX_ID_LENGTH, type PublishEnvelope } from '../../protocol/envelope';
import { topicSchema } from '../../protocol/messages';
import { ruleMessageSchema } from '../../protocol/rule-message';
import { PLACEHOLDER } from '../../protocol/rules';
import { describeIssues, jsonKind, preview } from './untrusted';

export type EnvelopeFromRule = { ok: true; envelope: PublishEnvelope & { topic: string; id: string } } | { ok: false; id?: string; reason: string };

/** The characters of one topic segment: a topic's, without `/`. */
const SEGMENT = /^[A-Za-z0-9_.:-]+$/;
/** A template that is a single placeholder. */
const WHOLE_TEMPLATE = new RegExp(`^${PLACEHOLDER.source}$`);

type Checked = { ok: true; value: string } | { ok: false; reason: string };

/** One topic schema per length limit: building one costs far more than parsing with it. */
const topicSchemas = new Map<number, ReturnType<typeof topicSchema>>();
function topicSchemaFor(maxTopicLength: number) {
  let schema = topicSchemas.get(maxTopicLength);
  if (!schema) topicSchemas.set(maxTopicLength, (schema = topicSchema(maxTopicLength)));
  return schema;
}

export function envelopeFromRuleMessage(payload: unknown, limits: { maxTopicLength: number }): EnvelopeFromRule {
  const parsed = ruleMessageSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, id: eventIdOf(payload), reason: `invalid rule message: ${describeIssues(parsed.error)}` };
  const { rule, topic: template, dataPath, event } = parsed.data;
  const refuse = (reason: string): EnvelopeFromRule => ({ ok: false, id: event.id, reason: `rule ${rule}: ${reason}` });

  const topic = topicFromTemplate(template, event, limits.maxTopicLength);
  if (!topic.ok) return refuse(topic.reason);
  const data = valueAt(event, dataPath);
  if (data === undefined) return refuse(`the event has no ${dataPath} (the rule's dataPath)`);
  return { ok: true, envelope: { topic: topic.value, data, id: event.id } };
}

/** The topic a template makes of an event, or why it cannot make one. */
export function topicFromTemplate(template: string, event: unknown, maxTopicLength: number): Checked {
  const whole = WHOLE_TEMPLATE.exec(template);
  if (whole) {
    const text = placeholderText(whole[1], event);
    if (!text.ok) return text;
    const check = topicSchemaFor(maxTopicLength).safeParse(text.value);
    if (!check.success) return { ok: false, reason: `{${whole[1]}} = ${preview(text.value)} is not a topic name: ${[...new Set(check.error.issues.map((i) => i.message))].join('; ')}` };
    return text;
  }
  const segments: string[] = [];
  for (const segment of template.split('/')) {
    let out = '';
    let last = 0;
    let filled = false;
    for (const match of segment.matchAll(PLACEHOLDER)) {
      const value = segmentValue(match[1], event);
      if (!value.ok) return value;
      out += segment.slice(last, match.index) + value.value;
      last = match.index! + match[0].length;
      filled = true;
    }
    out += segment.slice(last);
    if (filled && (out === '.' || out === '..')) return { ok: false, reason: `a topic segment would be "${out}", which reads as a path step` };
    segments.push(out);
  }
  const topic = segments.join('/');
  const check = topicSchemaFor(maxTopicLength).safeParse(topic);
  if (!check.success) return { ok: false, reason: `the topic would be invalid: ${[...new Set(check.error.issues.map((i) => i.message))].join('; ')}` };
  return { ok: true, value: topic };
}

/** A placeholder's value as one topic segment. */
function segmentValue(path: string, event: unknown): Checked {
  const text = placeholderText(path, event);
  if (!text.ok) return text;
  const shown = `{${path}} = ${preview(text.value)}`;
  if (text.value === '') return { ok: false, reason: `{${path}} is an empty string` };
  if (text.value.includes('/')) return { ok: false, reason: `${shown} contains "/": a value fills exactly one topic segment` };
  if (!SEGMENT.test(text.value)) return { ok: false, reason: `${shown} has characters a topic segment cannot have (only A-Z a-z 0-9 _ . : -)` };
  return text;
}

/** A placeholder's value as text: a string as is, a finite number as JS writes it; nothing else. */
function placeholderText(path: string, event: unknown): Checked {
  const value = valueAt(event, path);
  if (typeof value === 'string') return { ok: true, value };
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: String(value) };
  if (value === undefined) return { ok: false, reason: `{${path}} is missing from the event` };
  return { ok: false, reason: `{${path}} is ${jsonKind(value)}, not a string or a number` };
}

/**
 * The value at a dot path of the event, through its own keys of objects only (never arrays, never
 * inherited properties such as `constructor`); undefined when there is none.
 */
export function valueAt(event: unknown, path: string): unknown {
  let value: unknown = event;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The event id of a message that failed its schema, if it has a usable one (for the log line). */
function eventIdOf(payload: unknown): string | undefined {
  const id = valueAt(payload, 'event.id');
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : undefined;
}
