/**
 * EventBridge event patterns, the subset people use (anything else is refused when the rule is
 * loaded, with the path of the offending part):
 *   - exact values in arrays: strings, numbers, booleans, null — `{"source": ["shop.orders"]}`
 *   - nested objects: `{"detail": {"status": ["paid"]}}`
 *   - `{"prefix": "x"}`, `{"prefix": {"equals-ignore-case": "x"}}`, `{"suffix": "x"}`,
 *     `{"equals-ignore-case": "x"}`, `{"wildcard": "a*b"}`
 *   - `{"anything-but": v | [v…] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}}`
 *   - `{"exists": true|false}` (leaf values only, as in EventBridge)
 *   - `{"numeric": [">", 0, "<=", 5]}` with =, <, <=, >, >=
 *   - `"$or": [pattern, …]`
 * As in EventBridge: every field of the pattern must match; a field whose event value is an
 * array matches when any element does; a missing field matches only `{"exists": false}`.
 * Not supported: `cidr`, and `anything-but` on numbers ranges.
 */

type Leaf = string | number | boolean | null;
type ValueTest = (value: Leaf) => boolean;

interface LeafMatcher {
  /** True when the field may be absent (`{"exists": false}`). */
  matchesMissing: boolean;
  test: ValueTest;
}

type Node = { kind: 'object'; fields: [string, Node][]; or: Node[][] } | { kind: 'leaf'; matcher: LeafMatcher };

export type CompiledPattern = (event: unknown) => boolean;

export class PatternError extends Error {
  constructor(path: string, message: string) {
    super(path ? `event pattern at ${path}: ${message}` : `event pattern: ${message}`);
    this.name = 'PatternError';
  }
}

/** Compile a pattern once; throws PatternError naming the first unsupported or malformed part. */
export function compilePattern(pattern: unknown): CompiledPattern {
  if (!isObject(pattern)) throw new PatternError('', 'a pattern is a JSON object');
  const root = compileObject(pattern, '');
  return (event) => matchObject(root, event);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLeaf(v: unknown): v is Leaf {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function compileObject(pattern: Record<string, unknown>, path: string): Node & { kind: 'object' } {
  const fields: [string, Node][] = [];
  const or: Node[][] = [];
  for (const [key, value] of Object.entries(pattern)) {
    const here = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isObject)) throw new PatternError(here, '$or takes an array of at least two patterns');
      or.push(value.map((alt, i) => compileObject(alt, `${here}[${i}]`)));
    } else if (Array.isArray(value)) {
      fields.push([key, { kind: 'leaf', matcher: compileLeaf(value, here) }]);
    } else if (isObject(value)) {
      fields.push([key, compileObject(value, here)]);
    } else {
      throw new PatternError(here, `values in a pattern are arrays or objects, not ${JSON.stringify(value)} (write [${JSON.stringify(value)}])`);
    }
  }
  return { kind: 'object', fields, or };
}

function compileLeaf(values: unknown[], path: string): LeafMatcher {
  if (values.length === 0) throw new PatternError(path, 'empty arrays match nothing and are not allowed');
  const tests: ValueTest[] = [];
  let matchesMissing = false;
  let needsPresence = false;
  for (const v of values) {
    if (isLeaf(v)) {
      tests.push((x) => x === v);
      continue;
    }
    if (!isObject(v) || Object.keys(v).length !== 1) throw new PatternError(path, `${JSON.stringify(v)} is not a value or a one-key matcher`);
    const [op, arg] = Object.entries(v)[0];
    if (op === 'exists') {
      if (typeof arg !== 'boolean') throw new PatternError(path, 'exists takes true or false');
      if (arg) needsPresence = true;
      else matchesMissing = true;
      continue;
    }
    tests.push(compileOperator(op, arg, path));
  }
  // `exists: true` matches any present leaf value.
  if (needsPresence) tests.push(() => true);
  return { matchesMissing, test: (x) => tests.some((t) => t(x)) };
}

function compileOperator(op: string, arg: unknown, path: string): ValueTest {
  switch (op) {
    case 'prefix':
    case 'suffix': {
      const ignoreCase = isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string';
      const text = ignoreCase ? (arg as Record<string, string>)['equals-ignore-case'] : arg;
      if (typeof text !== 'string') throw new PatternError(path, `${op} takes a string (or {"equals-ignore-case": string})`);
      const want = ignoreCase ? text.toLowerCase() : text;
      return (x) => {
        if (typeof x !== 'string') return false;
        const have = ignoreCase ? x.toLowerCase() : x;
        return op === 'prefix' ? have.startsWith(want) : have.endsWith(want);
      };
    }
    case 'equals-ignore-case': {
      const list = Array.isArray(arg) ? arg : [arg];
      if (!list.every((s) => typeof s === 'string')) throw new PatternError(path, 'equals-ignore-case takes a string or strings');
      const wanted = new Set((list as string[]).map((s) => s.toLowerCase()));
      return (x) => typeof x === 'string' && wanted.has(x.toLowerCase());
    }
    case 'wildcard': {
      if (typeof arg !== 'string') throw new PatternError(path, 'wildcard takes a string');
      return wildcardTest(arg);
    }
    case 'numeric':
      return numericTest(arg, path);
    case 'anything-but': {
      if (isLeaf(arg)) return (x) => x !== arg;
      if (Array.isArray(arg)) {
        if (arg.length === 0 || !arg.every(isLeaf)) throw new PatternError(path, 'anything-but takes a value, a non-empty array of values, or a matcher');
        return (x) => !arg.includes(x);
      }
      if (isObject(arg) && Object.keys(arg).length === 1 && ['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(Object.keys(arg)[0])) {
        const [inner, innerArg] = Object.entries(arg)[0];
        const t = compileOperator(inner, innerArg, path);
        // EventBridge: anything-but on string matchers only matches strings.
        return (x) => typeof x === 'string' && !t(x);
      }
      throw new PatternError(path, `anything-but ${JSON.stringify(arg)} is not supported`);
    }
    default:
      throw new PatternError(path, `the "${op}" matcher is not supported locally (supported: prefix, suffix, equals-ignore-case, wildcard, anything-but, exists, numeric)`);
  }
}

function wildcardTest(pattern: string): ValueTest {
  // `*` is any run of characters; `\*` a literal star.
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && pattern[i + 1] === '*') {
      source += '\\*';
      i++;
    } else if (c === '*') source += '.*';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const re = new RegExp(`^${source}$`, 's');
  return (x) => typeof x === 'string' && re.test(x);
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '=': (a, b) => a === b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function numericTest(arg: unknown, path: string): ValueTest {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) {
    throw new PatternError(path, 'numeric takes one or two [operator, number] pairs, e.g. [">", 0, "<=", 5]');
  }
  const checks: ((x: number) => boolean)[] = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const bound = arg[i + 1];
    const compare = typeof op === 'string' ? COMPARE[op] : undefined;
    if (!compare || typeof bound !== 'number') throw new PatternError(path, `numeric: ${JSON.stringify(op)} ${JSON.stringify(bound)} is not an operator (=, <, <=, >, >=) and a number`);
    checks.push((x) => compare(x, bound));
  }
  return (x) => typeof x === 'number' && checks.every((c) => c(x));
}

function matchObject(node: Node & { kind: 'object' }, value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const [key, child] of node.fields) {
    const present = Object.prototype.hasOwnProperty.call(value, key);
    if (!matchField(child, present, value[key])) return false;
  }
  return node.or.every((alternatives) => alternatives.some((alt) => matchObject(alt as Node & { kind: 'object' }, value)));
}

function matchField(node: Node, present: boolean, value: unknown): boolean {
  if (node.kind === 'object') {
    if (!present) return false;
    return Array.isArray(value) ? value.some((v) => matchObject(node, v)) : matchObject(node, value);
  }
  if (!present) return node.matcher.matchesMissing;
  const leaves = Array.isArray(value) ? value : [value];
  // Objects are not leaves: `exists` and the value matchers never match them.
  return leaves.some((v) => isLeaf(v) && node.matcher.test(v));
}
