/**
 * The activity events as terminal lines: `text`, one readable line each (colored on a
 * terminal), or `json`, one JSON object per line with the event's fields and its time.
 */
import type { ActivityEvent } from './events';

export type ActivityFormat = 'text' | 'json';
export const ACTIVITY_FORMATS: readonly ActivityFormat[] = ['text', 'json'];

/** Topics named on one line; the rest are counted. */
const TOPICS_SHOWN = 3;
const LABEL_WIDTH = 12;

const COLORS = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 } as const;
type Color = keyof typeof COLORS;

const paint = (on: boolean, color: Color | 'dim', text: string) => (on ? `\x1b[${color === 'dim' ? 2 : COLORS[color]}m${text}\x1b[0m` : text);

/** `12:03:04.567`, local time: what a person at the terminal reads. */
function clock(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function list(items: string[]): string {
  if (items.length <= TOPICS_SHOWN) return items.join(', ');
  return `${items.slice(0, TOPICS_SHOWN).join(', ')} and ${items.length - TOPICS_SHOWN} more`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** The label, its color, and the rest of the line. */
function describe(e: ActivityEvent): [string, Color, string] {
  switch (e.event) {
    case 'connect':
      return ['connect', 'green', `${e.connectionId}  from ${e.sourceIp}${e.principal ? ` as ${e.principal}` : ''}`];
    case 'connect-refused': {
      const by = e.by === 'origin' ? 'a page of an origin not allowed (--allow-origin)' : e.by === 'authorizer' ? 'the authorizer' : '$connect';
      return ['refused', 'red', `connection from ${e.sourceIp}: ${e.status} from ${by}`];
    }
    case 'disconnect':
      return ['disconnect', 'gray', `${e.connectionId}  ${e.code}${e.reason ? ` ${e.reason}` : ''}, after ${duration(e.seconds)}`];
    case 'subscribe': {
      const shown = e.topics.map((topic) => {
        const at = e.positions?.[topic];
        const resumed = e.resumed?.[topic];
        const from = resumed?.from !== undefined ? ` from ${resumed.from}` : '';
        if (resumed) return `${topic} resumed${from}${resumed.recovered ? '' : ' NOT recovered (a gap)'}${at ? `, at ${at.seq}` : ''}`;
        return at ? `${topic} (at ${at.seq})` : topic;
      });
      const lost = Object.values(e.resumed ?? {}).some((r) => !r.recovered);
      return ['subscribe', lost ? 'yellow' : 'cyan', `${e.connectionId}  ${list(shown)}`];
    }
    case 'unsubscribe':
      return ['unsubscribe', 'cyan', `${e.connectionId}  ${list(e.topics)}`];
    case 'error':
      return ['error', 'red', `${e.connectionId}  ${e.action} ${e.code === 'FUNCTION_FAILED' ? "failed: the function threw (see the handler's log)" : `refused: ${e.code}`}`];
    case 'publish': {
      if (e.status === 'rejected') return ['publish', 'red', `${e.id}  rejected, not retried: ${e.reason ?? 'no reason given'}`];
      if (e.status === 'failed') return ['publish', 'red', `${e.id}  failed, will be retried: ${e.reason ?? 'no reason given'}`];
      const topics = list(e.topics.map((t) => (e.positions?.[t] ? `${t} #${e.positions[t].seq}` : t)));
      const parts = [`${e.delivered} delivered`];
      if (e.gone > 0) parts.push(`${e.gone} gone`);
      if (e.queued > 0) parts.push(`${e.queued} queued for the delivery function`);
      if (e.reason) parts.push(e.reason);
      return ['publish', 'magenta', `${e.id}  ${topics} → ${plural(e.subscribers, 'subscriber')}: ${parts.join(', ')}`];
    }
    case 'deliver': {
      const kind = e.kind === 'retry' ? `retry ${e.attempt}` : e.kind;
      const parts = [`${e.delivered} delivered`];
      if (e.gone > 0) parts.push(`${e.gone} gone`);
      if (e.queued > 0) parts.push(`${e.queued} queued again`);
      return ['deliver', 'blue', `${e.id}  ${e.topic} ${kind} job → ${plural(e.connections, 'connection')}: ${parts.join(', ')}`];
    }
  }
}

/** One readable line (no newline). */
export function formatText(e: ActivityEvent, options: { color?: boolean; at?: Date } = {}): string {
  const color = options.color ?? false;
  const [label, hue, rest] = describe(e);
  return `${paint(color, 'dim', clock(options.at ?? new Date()))}  ${paint(color, hue, label.padEnd(LABEL_WIDTH))}${rest}`;
}

/** One JSON object (no newline): the time, then the event's fields. */
export function formatJson(e: ActivityEvent, options: { at?: Date } = {}): string {
  return JSON.stringify({ time: (options.at ?? new Date()).toISOString(), ...e });
}

export interface ActivityPrinterOptions {
  format: ActivityFormat;
  /** ANSI colors in `text` (a terminal that has them). */
  color?: boolean;
  /** Where each line goes, newline included. */
  write(line: string): void;
}

/** A LocalOptions.onActivity that prints each event as one line. */
export function activityPrinter(options: ActivityPrinterOptions): (e: ActivityEvent) => void {
  return options.format === 'json'
    ? (e) => options.write(`${formatJson(e)}\n`)
    : (e) => options.write(`${formatText(e, { color: options.color })}\n`);
}
