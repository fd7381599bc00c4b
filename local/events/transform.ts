/**
 * EventBridge input transformers: `InputPathsMap` (variable → JSON path of the event) and an
 * `InputTemplate` with `<variable>` placeholders, as documented in "Amazon EventBridge input
 * transformation":
 *   - paths use dot notation and array indices (`$.detail.items[0].id`); `$` is the whole event;
 *   - in a JSON template, a placeholder outside quotes takes the value as JSON (strings quoted);
 *     inside a quoted string it takes the raw text — EventBridge does not escape it;
 *   - a path missing from the event yields no value: `null` as a JSON value, nothing inside a
 *     string (AWS: "that variable isn't created");
 *   - predefined variables: aws.events.rule-arn, aws.events.rule-name,
 *     aws.events.event.ingestion-time, aws.events.event (the event without `detail`) and
 *     aws.events.event.json (the whole event);
 *   - a JSON result is minified; one that is not valid JSON is passed on as is.
 */
import type { InputTransformer } from '../../protocol/rule-message';

export interface TransformContext {
  ruleArn: string;
  ruleName: string;
  ingestionTime: string;
}

const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/g;
const PATH_STEP = /\.([A-Za-z0-9_$/-]+)|\[(\d+)\]/y;

/** Resolve a JSON path of the supported subset; `undefined` when the event has no such value. */
export function resolvePath(event: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new Error(`JSON path ${JSON.stringify(path)} must start with $`);
  let value: unknown = event;
  PATH_STEP.lastIndex = 1;
  while (PATH_STEP.lastIndex < path.length) {
    const start = PATH_STEP.lastIndex;
    const step = PATH_STEP.exec(path);
    if (!step) throw new Error(`JSON path ${JSON.stringify(path)} is not supported after position ${start} (use dots and [index])`);
    if (value === null || typeof value !== 'object') return undefined;
    const key = step[1] ?? Number(step[2]);
    if (typeof key === 'number' ? !Array.isArray(value) : Array.isArray(value)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/** Every placeholder must be a variable of the paths map or a predefined one. */
export function checkTransformer(transformer: InputTransformer): void {
  const predefined = ['aws.events.rule-arn', 'aws.events.rule-name', 'aws.events.event.ingestion-time', 'aws.events.event', 'aws.events.event.json'];
  const paths = transformer.inputPaths ?? {};
  for (const [name, path] of Object.entries(paths)) {
    if (predefined.includes(name)) throw new Error(`input transformer variable ${name} is reserved`);
    resolvePath({}, path);
  }
  for (const [, name] of transformer.inputTemplate.matchAll(PLACEHOLDER)) {
    if (!Object.hasOwn(paths, name) && !predefined.includes(name)) throw new Error(`input template uses <${name}>, which no path defines`);
  }
}

export function applyInputTransformer(transformer: InputTransformer, event: Record<string, unknown>, context: TransformContext): string {
  const values = new Map<string, unknown>();
  for (const [name, path] of Object.entries(transformer.inputPaths ?? {})) values.set(name, resolvePath(event, path));
  const { detail: _detail, ...withoutDetail } = event;
  values.set('aws.events.rule-arn', context.ruleArn);
  values.set('aws.events.rule-name', context.ruleName);
  values.set('aws.events.event.ingestion-time', context.ingestionTime);
  values.set('aws.events.event', withoutDetail);
  values.set('aws.events.event.json', event);

  const template = transformer.inputTemplate;
  const isJson = template.trimStart().startsWith('{') || template.trimStart().startsWith('[');
  let out = '';
  let inString = false;
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const at = match.index!;
    inString = stringStateAfter(template, last, at, inString);
    out += template.slice(last, at);
    last = at + match[0].length;
    if (!values.has(match[1])) {
      out += match[0];
      continue;
    }
    const value = values.get(match[1]);
    if (isJson && !inString) out += value === undefined ? 'null' : JSON.stringify(value);
    else out += value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  }
  out += template.slice(last);
  if (!isJson) return out.trim().replace(/^"([\s\S]*)"$/, '$1');
  try {
    return JSON.stringify(JSON.parse(out));
  } catch {
    return out;
  }
}

/** Whether position `to` of the template is inside a JSON string, scanning from `from`. */
function stringStateAfter(template: string, from: number, to: number, inString: boolean): boolean {
  for (let i = from; i < to; i++) {
    const c = template[i];
    if (inString && c === '\\') i++;
    else if (c === '"') inString = !inString;
  }
  return inString;
}
