/**
 * Talking about untrusted input without repeating it. Error replies and logs say what is wrong
 * with a client's frame or a backend's message; they quote at most a short, escaped prefix of a
 * value, so a secret, a huge string or a control character never travels back or into the logs.
 */
import type { $ZodError } from 'zod/v4/core';

/** Longest prefix of an untrusted string an error or a log line may quote. */
export const PREVIEW_CHARS = 16;

/** `"abc"`, or `"the first 16 cha"…` for a longer string: at most 16 characters, JSON-escaped. */
export function preview(text: string): string {
  // Whole code points (never half a surrogate pair), from a bounded slice of a possibly huge string.
  const chars = Array.from(text.slice(0, 2 * PREVIEW_CHARS + 1));
  const head = chars.slice(0, PREVIEW_CHARS).join('');
  return `${JSON.stringify(head)}${head.length < text.length ? '…' : ''}`;
}

/** What kind of JSON value this is, for an error message: "an array", "null", "a number"… */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'missing';
  return `a ${typeof value}`;
}

/**
 * JSON.parse's error, without the input it quotes (V8 writes `Unexpected token 'o', "not json" is
 * not valid JSON`): only where it failed, when V8 says.
 */
export function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) return `not valid JSON (at position ${position})`;
  if (/Unexpected end of JSON input/.test(message)) return 'not valid JSON (it ends too early)';
  return 'not valid JSON';
}

/**
 * Does `value` nest arrays/objects deeper than `maxDepth`? Iterative, so it is safe on any depth
 * (JSON.parse builds 100,000 levels happily; JSON.stringify then overflows the stack). A scalar
 * has depth 0, `[]` and `{}` depth 1.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Issues described in one message; the rest are counted. */
const MAX_ISSUES_DESCRIBED = 5;

/**
 * A zod error as one line: `path: message; …` (the first few issues). zod's messages name the
 * expected shape, never the input, except for unknown keys, which it lists: those are counted
 * and the first previewed.
 */
export function describeIssues(error: $ZodError): string {
  const more = error.issues.length - MAX_ISSUES_DESCRIBED;
  const described = error.issues
    .slice(0, MAX_ISSUES_DESCRIBED)
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map((p) => (typeof p === 'string' && !/^[A-Za-z0-9_$-]{1,40}$/.test(p) ? preview(p) : String(p))).join('.') : 'message';
      if (issue.code === 'unrecognized_keys') {
        const [first, ...rest] = issue.keys;
        return `${where}: unknown key ${preview(first ?? '')}${rest.length > 0 ? ` and ${rest.length} more` : ''}`;
      }
      return `${where}: ${issue.message}`;
    })
    .join('; ');
  return more > 0 ? `${described}; and ${more} more` : described;
}
