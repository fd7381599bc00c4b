/**
 * Keeps the local queues' messages on disk (`npm start --data DIR`), so what SQS accepted survives
 * Ctrl-C and crashes, as it does in AWS: an append-only journal of JSON lines — sent, received
 * (the receive count), deleted, moved to the DLQ, purged — written synchronously before the
 * caller is answered. At start the journal is replayed into the queues (Queue.restore: in-flight
 * messages are visible again, with their receive counts) and rewritten as one line per message
 * held; it is rewritten the same way whenever it has grown well past what it holds.
 *
 * Written with plain write(2) and no fsync: a crashed process loses nothing, a crashed machine
 * may lose the last writes. A torn last line (a crash mid-write) is skipped.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AttributeValue } from './md5';
import { deadLetterCopy, type PersistedMessage, type Queue, type QueueStore } from './queue';

/** Rewrite once at least this many lines were appended and they are 4× the messages held. */
const COMPACT_MIN_LINES = 10_000;
const COMPACT_RATIO = 4;

type WireAttributes = Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
interface WireMessage extends Omit<PersistedMessage, 'attributes' | 'systemAttributes'> {
  attributes: WireAttributes;
  systemAttributes: WireAttributes;
}

/** One line of the journal. */
type Entry =
  | { op: 'sent'; queue: string; message: WireMessage }
  | { op: 'received'; queue: string; id: string; count: number; first: number }
  | { op: 'deleted'; queue: string; id: string }
  | { op: 'dead-lettered'; queue: string; to: string; id: string }
  | { op: 'purged'; queue: string };

export interface JournalOpened {
  journal: QueueJournal;
  /** Messages put back, per queue. */
  restored: Record<string, number>;
  /** Messages that had used up their receives and went to the DLQ at start. */
  deadLettered: number;
  /** Lines that could not be read (a torn last write) or named a queue that no longer exists. */
  skipped: number;
}

export class QueueJournal implements QueueStore {
  private fd: number | undefined;
  private appended = 0;

  private constructor(
    readonly file: string,
    private readonly queues: ReadonlyMap<string, Queue>,
  ) {}

  /**
   * Replays `file` (if it exists) into `queues`, rewrites it compactly and attaches the journal
   * to every queue. Queues are matched by name.
   */
  static open(file: string, queues: ReadonlyMap<string, Queue>): JournalOpened {
    const journal = new QueueJournal(file, queues);
    const { held, skipped } = existsSync(file) ? replay(readFileSync(file, 'utf8'), queues) : { held: new Map<string, Map<string, PersistedMessage>>(), skipped: 0 };
    const restored: Record<string, number> = {};
    let deadLettered = 0;
    for (const [name, messages] of held) {
      const outcome = queues.get(name)!.restore([...messages.values()].sort((a, b) => a.sentTimestamp - b.sentTimestamp));
      restored[name] = outcome.restored;
      deadLettered += outcome.deadLettered;
    }
    mkdirSync(dirname(file), { recursive: true });
    journal.compact();
    for (const queue of queues.values()) queue.store = journal;
    return { journal, restored, deadLettered, skipped };
  }

  sent(queue: Queue, message: PersistedMessage): void {
    this.append({ op: 'sent', queue: queue.name, message: toWire(message) });
  }

  received(queue: Queue, id: string, count: number, first: number): void {
    this.append({ op: 'received', queue: queue.name, id, count, first });
  }

  deleted(queue: Queue, id: string): void {
    this.append({ op: 'deleted', queue: queue.name, id });
  }

  movedToDeadLetter(from: Queue, to: Queue, id: string): void {
    this.append({ op: 'dead-lettered', queue: from.name, to: to.name, id });
  }

  purged(queue: Queue): void {
    this.append({ op: 'purged', queue: queue.name });
  }

  /** Detaches from the queues and closes the file; what it holds is kept for the next start. */
  close(): void {
    for (const queue of this.queues.values()) if (queue.store === this) queue.store = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(entry: Entry): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    if (++this.appended >= COMPACT_MIN_LINES && this.appended >= COMPACT_RATIO * this.held()) this.compact();
  }

  private held(): number {
    let n = 0;
    for (const queue of this.queues.values()) {
      const c = queue.counts();
      n += c.visible + c.inFlight + c.delayed;
    }
    return n;
  }

  /** Rewrites the journal as one `sent` line per message held (receive counts included), atomically. */
  private compact(): void {
    const lines: string[] = [];
    for (const queue of this.queues.values()) {
      for (const message of queue.snapshot()) lines.push(JSON.stringify({ op: 'sent', queue: queue.name, message: toWire(message) } satisfies Entry));
    }
    const temp = `${this.file}.tmp`;
    const fd = openSync(temp, 'w');
    try {
      if (lines.length > 0) writeSync(fd, `${lines.join('\n')}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(this.file, 'a');
    this.appended = 0;
  }
}

/** The messages each queue held when the journal was last written. */
function replay(text: string, queues: ReadonlyMap<string, Queue>): { held: Map<string, Map<string, PersistedMessage>>; skipped: number } {
  const held = new Map<string, Map<string, PersistedMessage>>();
  const of = (name: string) => {
    let messages = held.get(name);
    if (!messages) held.set(name, (messages = new Map()));
    return messages;
  };
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let entry: Entry;
    try {
      entry = JSON.parse(line) as Entry;
    } catch {
      skipped++;
      continue;
    }
    if (!entry || typeof entry !== 'object' || !queues.has(entry.queue)) {
      skipped++;
      continue;
    }
    const messages = of(entry.queue);
    switch (entry.op) {
      case 'sent':
        messages.set(entry.message.messageId, fromWire(entry.message));
        break;
      case 'received': {
        const m = messages.get(entry.id);
        if (m) Object.assign(m, { receiveCount: entry.count, firstReceiveTimestamp: entry.first, visibleAt: undefined });
        break;
      }
      case 'deleted':
        messages.delete(entry.id);
        break;
      case 'dead-lettered': {
        const m = messages.get(entry.id);
        messages.delete(entry.id);
        if (m && queues.has(entry.to)) of(entry.to).set(entry.id, deadLetterCopy(m, queues.get(entry.queue)!.arn));
        break;
      }
      case 'purged':
        messages.clear();
        break;
      default:
        skipped++;
    }
  }
  return { held, skipped };
}

function toWire(message: PersistedMessage): WireMessage {
  return { ...message, attributes: attributesToJson(message.attributes), systemAttributes: attributesToJson(message.systemAttributes) };
}

function fromWire(message: WireMessage): PersistedMessage {
  return { ...message, attributes: attributesFromJson(message.attributes), systemAttributes: attributesFromJson(message.systemAttributes) };
}

function attributesToJson(attributes: Record<string, AttributeValue>): WireAttributes {
  const out: WireAttributes = {};
  for (const [name, v] of Object.entries(attributes)) {
    out[name] = { DataType: v.DataType, ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}), ...(v.BinaryValue !== undefined ? { BinaryValue: v.BinaryValue.toString('base64') } : {}) };
  }
  return out;
}

function attributesFromJson(attributes: WireAttributes | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, v] of Object.entries(attributes ?? {})) {
    out[name] = { DataType: v.DataType, ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}), ...(v.BinaryValue !== undefined ? { BinaryValue: Buffer.from(v.BinaryValue, 'base64') } : {}) };
  }
  return out;
}
