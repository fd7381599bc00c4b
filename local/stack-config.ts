/**
 * Where the local mode gets its EventBridge rules: `realtime:eventRules` (and
 * `realtime:eventBusName`) of a Pulumi stack file such as Pulumi.dev.yaml — the same setting the
 * Pulumi program deploys — or a JSON file holding the array of rules.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { EventRule } from '../protocol/rules';

export const PROJECT = 'realtime';
export const DEFAULT_STACK_FILE = 'Pulumi.dev.yaml';

export interface RulesSource {
  eventRules: EventRule[];
  eventBusName?: string;
  /** Where they came from, for the banner. */
  from: string;
}

/** The rules of a stack file; none when the file does not exist. Rules are checked later (compileRules). */
export function readStackRules(file: string = DEFAULT_STACK_FILE): RulesSource {
  if (!existsSync(file)) return { eventRules: [], from: `${file} (not found: no rules)` };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const rules = objectValue(config[`${PROJECT}:eventRules`], `${PROJECT}:eventRules in ${file}`) ?? [];
  if (!Array.isArray(rules)) throw new Error(`${PROJECT}:eventRules in ${file} must be a list of rules`);
  const bus = config[`${PROJECT}:eventBusName`];
  if (bus !== undefined && (typeof bus !== 'string' || bus === '')) throw new Error(`${PROJECT}:eventBusName in ${file} must be a non-empty string`);
  return { eventRules: rules as EventRule[], ...(bus ? { eventBusName: bus as string } : {}), from: file };
}

/** A JSON file holding an array of rules (`--rules FILE.json`). */
export function readRulesFile(file: string): RulesSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the rules file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let rules: unknown;
  try {
    rules = JSON.parse(text);
  } catch (err) {
    throw new Error(`the rules file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rules)) throw new Error(`the rules file ${file} must hold a JSON array of rules ({"name", "eventPattern", "topic", "dataPath"?})`);
  return { eventRules: rules as EventRule[], from: file };
}

/** Pulumi keeps object config as YAML, or as a JSON string when set with `pulumi config set`. */
function objectValue(value: unknown, what: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`${what} is a string that is not JSON: ${(err as Error).message}`);
  }
}
