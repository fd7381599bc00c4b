/**
 * One in-memory standard queue with SQS's delivery rules: messages are visible, in flight
 * (received, hidden for the visibility timeout) or delayed; each receive issues a new receipt
 * handle and only the newest one deletes or changes the message; an in-flight message whose
 * timeout passes becomes visible again, or moves to the dead-letter queue once it has been
 * received maxReceiveCount times (SQS moves it on the next receive; we move it when it would
 * reappear, which nobody can tell apart except by timing).
 * Retention and FIFO semantics are not modelled: local runs are short and the queues standard.
 * A `store` (./journal.ts) is told of every change a restart must see; `restore` puts its
 * messages back.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AwsServiceError } from '../aws-json';
import { md5Hex, md5OfAttributes, type AttributeValue } from './md5';

export interface QueueSettings {
  /** Seconds; fractions are allowed so tests can use short timeouts. */
  visibilityTimeoutSeconds: number;
  maximumMessageSize: number;
  delaySeconds: number;
  receiveMessageWaitTimeSeconds: number;
  messageRetentionPeriod: number;
}

export interface Redrive {
  deadLetterQueue: Queue;
  maxReceiveCount: number;
}

/** A message as the queue keeps it. */
interface MessageData {
  messageId: string;
  body: string;
  md5OfBody: string;
  attributes: Record<string, AttributeValue>;
  systemAttributes: Record<string, AttributeValue>;
  senderId: string;
  sentTimestamp: number;
  receiveCount: number;
  deadLetterQueueSourceArn?: string;
}

interface StoredMessage extends MessageData {
  firstReceiveTimestamp?: number;
  /** While delayed: when it becomes visible (epoch ms). */
  visibleAt?: number;
  /** Nonce of the newest receipt handle while in flight. */
  receipt?: string;
  timer?: NodeJS.Timeout;
}

/** A message as a store keeps it across restarts. */
export interface PersistedMessage extends MessageData {
  firstReceiveTimestamp?: number;
  /** Delayed until then (epoch ms); absent when visible or in flight. */
  visibleAt?: number;
}

/** Told of every change of a queue's messages, synchronously, before the caller hears of it. */
export interface QueueStore {
  sent(queue: Queue, message: PersistedMessage): void;
  received(queue: Queue, messageId: string, receiveCount: number, firstReceiveTimestamp: number): void;
  deleted(queue: Queue, messageId: string): void;
  movedToDeadLetter(from: Queue, to: Queue, messageId: string): void;
  purged(queue: Queue): void;
}

/** What one receive hands out: a snapshot, so later receives do not change it. */
export interface Delivery extends Readonly<MessageData> {
  receiptHandle: string;
  firstReceiveTimestamp: number;
}

export interface SendInput {
  body: string;
  attributes?: Record<string, AttributeValue>;
  systemAttributes?: Record<string, AttributeValue>;
  delaySeconds?: number;
  senderId?: string;
}

export interface SentMessage {
  messageId: string;
  md5OfBody: string;
  md5OfAttributes?: string;
  md5OfSystemAttributes?: string;
}

export interface ReceiveOptions {
  maxMessages: number;
  visibilityTimeoutSeconds?: number;
  waitSeconds?: number;
  signal?: AbortSignal;
}

interface Waiter {
  options: ReceiveOptions;
  resolve(deliveries: Delivery[]): void;
}

interface ReceiptHandle {
  queue: string;
  messageId: string;
  nonce: string;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  visibilityTimeoutSeconds: 30,
  maximumMessageSize: 1024 * 1024,
  delaySeconds: 0,
  receiveMessageWaitTimeSeconds: 0,
  messageRetentionPeriod: 4 * 24 * 60 * 60,
};

export class Queue {
  readonly settings: QueueSettings;
  readonly createdTimestamp = Date.now();
  redrive?: Redrive;
  /** Called when a message leaves for the dead-letter queue. */
  onDeadLetter?: (messageId: string, receiveCount: number) => void;
  /** Where changes are persisted, if anywhere. */
  store?: QueueStore;

  private readonly visible = new Map<string, StoredMessage>();
  private readonly inFlight = new Map<string, StoredMessage>();
  private readonly delayed = new Map<string, StoredMessage>();
  private waiters: Waiter[] = [];
  private closed = false;

  constructor(
    readonly name: string,
    readonly arn: string,
    settings: Partial<QueueSettings> = {},
  ) {
    this.settings = { ...DEFAULT_QUEUE_SETTINGS, ...settings };
  }

  counts(): { visible: number; inFlight: number; delayed: number } {
    return { visible: this.visible.size, inFlight: this.inFlight.size, delayed: this.delayed.size };
  }

  send(input: SendInput): SentMessage {
    this.assertOpen();
    const message: StoredMessage = {
      messageId: randomUUID(),
      body: input.body,
      md5OfBody: md5Hex(input.body),
      attributes: input.attributes ?? {},
      systemAttributes: input.systemAttributes ?? {},
      senderId: input.senderId ?? 'local',
      sentTimestamp: Date.now(),
      receiveCount: 0,
    };
    const delaySeconds = input.delaySeconds ?? this.settings.delaySeconds;
    if (delaySeconds > 0) message.visibleAt = message.sentTimestamp + delaySeconds * 1000;
    this.store?.sent(this, persisted(message));
    this.enqueue(message, delaySeconds);
    return {
      messageId: message.messageId,
      md5OfBody: message.md5OfBody,
      md5OfAttributes: md5OfAttributes(message.attributes),
      md5OfSystemAttributes: md5OfAttributes(message.systemAttributes),
    };
  }

  /** Resolves as soon as at least one message is visible, or with [] when the wait ends. */
  receive(options: ReceiveOptions): Promise<Delivery[]> {
    this.assertOpen();
    const now = this.take(options);
    const waitMs = (options.waitSeconds ?? this.settings.receiveMessageWaitTimeSeconds) * 1000;
    if (now.length > 0 || waitMs <= 0 || options.signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const finish = (deliveries: Delivery[]) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(deliveries);
      };
      const onAbort = () => finish([]);
      const waiter: Waiter = { options, resolve: finish };
      const timer = setTimeout(() => finish([]), waitMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Deleting a gone message succeeds (SQS is idempotent here); an old receipt handle is ignored. */
  delete(receiptHandle: string): void {
    const handle = this.parseHandle(receiptHandle);
    const message = this.inFlight.get(handle.messageId);
    if (!message || message.receipt !== handle.nonce) return;
    clearTimeout(message.timer);
    this.inFlight.delete(message.messageId);
    this.store?.deleted(this, message.messageId);
  }

  changeVisibility(receiptHandle: string, seconds: number): void {
    const handle = this.parseHandle(receiptHandle);
    const message = this.inFlight.get(handle.messageId);
    if (!message) {
      if (this.visible.has(handle.messageId) || this.delayed.has(handle.messageId)) {
        throw new AwsServiceError('MessageNotInflight', 'The message referred to is not in flight.', { queryCode: 'AWS.SimpleQueueService.MessageNotInflight' });
      }
      throw notAvailable(receiptHandle);
    }
    if (message.receipt !== handle.nonce) throw notAvailable(receiptHandle);
    this.hide(message, seconds);
  }

  purge(): void {
    // close() empties memory only: what a store kept is still there for the next start.
    if (!this.closed) this.store?.purged(this);
    for (const map of [this.visible, this.inFlight, this.delayed]) {
      for (const message of map.values()) clearTimeout(message.timer);
      map.clear();
    }
  }

  /**
   * Puts back what a store kept, in the order given: delayed ones stay delayed until their time,
   * the rest (in flight when the process stopped included) are visible at once with their receive
   * counts — or, if they already had their maxReceiveCount receives, go to the dead-letter queue,
   * as they would have on their next receive. The store is not told: it holds them already.
   */
  restore(messages: Iterable<PersistedMessage>): { restored: number; deadLettered: number } {
    this.assertOpen();
    let restored = 0;
    let deadLettered = 0;
    const now = Date.now();
    for (const m of messages) {
      const message: StoredMessage = { ...m, attributes: { ...m.attributes }, systemAttributes: { ...m.systemAttributes } };
      const redrive = this.redrive;
      if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
        if (redrive.deadLetterQueue.acceptDeadLetter(message, this.arn)) deadLettered++;
        continue;
      }
      restored++;
      const delayMs = message.visibleAt !== undefined ? message.visibleAt - now : 0;
      if (delayMs <= 0) message.visibleAt = undefined;
      this.enqueue(message, delayMs / 1000);
    }
    return { restored, deadLettered };
  }

  /** Every message held, whatever its state (a store compacting itself). */
  snapshot(): PersistedMessage[] {
    return [...this.visible.values(), ...this.inFlight.values(), ...this.delayed.values()].map(persisted);
  }

  /** Drop every message and timer and answer pending long polls with nothing. */
  close(): void {
    this.closed = true;
    this.purge();
    for (const waiter of [...this.waiters]) waiter.resolve([]);
  }

  private assertOpen(): void {
    if (this.closed) throw new AwsServiceError('QueueDoesNotExist', `The queue ${this.name} has been shut down.`, { queryCode: 'AWS.SimpleQueueService.NonExistentQueue' });
  }

  private enqueue(message: StoredMessage, delaySeconds: number): void {
    if (delaySeconds <= 0) return this.makeVisible(message);
    this.delayed.set(message.messageId, message);
    message.timer = unrefTimer(() => {
      this.delayed.delete(message.messageId);
      message.visibleAt = undefined;
      this.makeVisible(message);
    }, delaySeconds * 1000);
  }

  private makeVisible(message: StoredMessage): void {
    message.receipt = undefined;
    message.timer = undefined;
    this.visible.set(message.messageId, message);
    this.serveWaiters();
  }

  private serveWaiters(): void {
    for (const waiter of [...this.waiters]) {
      if (this.visible.size === 0) return;
      const deliveries = this.take(waiter.options);
      if (deliveries.length > 0) waiter.resolve(deliveries);
    }
  }

  private take(options: ReceiveOptions): Delivery[] {
    // Picked first, delivered after: with a visibility timeout of 0 a delivered message is visible
    // again at once, and one receive must not hand it out twice.
    const picked: StoredMessage[] = [];
    for (const message of this.visible.values()) {
      if (picked.length >= options.maxMessages) break;
      picked.push(message);
    }
    return picked.map((message) => this.deliver(message, options.visibilityTimeoutSeconds ?? this.settings.visibilityTimeoutSeconds));
  }

  private deliver(message: StoredMessage, visibilityTimeoutSeconds: number): Delivery {
    this.visible.delete(message.messageId);
    this.inFlight.set(message.messageId, message);
    message.receiveCount += 1;
    message.firstReceiveTimestamp ??= Date.now();
    this.store?.received(this, message.messageId, message.receiveCount, message.firstReceiveTimestamp);
    this.hide(message, visibilityTimeoutSeconds);
    const { receipt: _receipt, timer: _timer, ...data } = message;
    return { ...data, firstReceiveTimestamp: message.firstReceiveTimestamp, receiptHandle: encodeHandle({ queue: this.name, messageId: message.messageId, nonce: message.receipt! }) };
  }

  /** (Re)start an in-flight message's visibility timeout; a new receive gets a new nonce. */
  private hide(message: StoredMessage, seconds: number): void {
    clearTimeout(message.timer);
    message.receipt ??= randomBytes(9).toString('base64url');
    const nonce = message.receipt;
    if (seconds <= 0) return this.reappear(message, nonce);
    message.timer = unrefTimer(() => this.reappear(message, nonce), seconds * 1000);
  }

  private reappear(message: StoredMessage, nonce: string): void {
    if (message.receipt !== nonce || !this.inFlight.has(message.messageId)) return;
    this.inFlight.delete(message.messageId);
    const redrive = this.redrive;
    if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
      if (redrive.deadLetterQueue.acceptDeadLetter(message, this.arn)) this.store?.movedToDeadLetter(this, redrive.deadLetterQueue, message.messageId);
      this.onDeadLetter?.(message.messageId, message.receiveCount);
      return;
    }
    this.makeVisible(message);
  }

  private acceptDeadLetter(message: StoredMessage, sourceArn: string): boolean {
    if (this.closed) return false;
    this.makeVisible(deadLetterCopy(message, sourceArn));
    return true;
  }

  private parseHandle(receiptHandle: string): ReceiptHandle {
    const handle = decodeHandle(receiptHandle);
    if (!handle || handle.queue !== this.name) {
      throw new AwsServiceError('ReceiptHandleIsInvalid', `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`, { status: 404 });
    }
    return handle;
  }
}

/** The copy a dead-letter queue holds: same id, body, attributes and sent time; the receive count starts over. */
export function deadLetterCopy<M extends PersistedMessage>(message: M, sourceArn: string): M {
  return { ...message, receiveCount: 0, firstReceiveTimestamp: undefined, visibleAt: undefined, receipt: undefined, timer: undefined, deadLetterQueueSourceArn: sourceArn };
}

function persisted(message: StoredMessage): PersistedMessage {
  const { receipt: _receipt, timer: _timer, ...data } = message;
  return data;
}

// The 'e.' prefix tags our handles; the rest is base64url JSON with the queue, message and nonce.
function encodeHandle(handle: ReceiptHandle): string {
  return 'e.' + Buffer.from(JSON.stringify([handle.queue, handle.messageId, handle.nonce])).toString('base64url');
}

function decodeHandle(text: string): ReceiptHandle | undefined {
  if (typeof text !== 'string' || !text.startsWith('e.')) return undefined;
  try {
    const parts: unknown = JSON.parse(Buffer.from(text.slice(2), 'base64url').toString('utf8'));
    if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((p) => typeof p === 'string')) return undefined;
    return { queue: parts[0], messageId: parts[1], nonce: parts[2] };
  } catch {
    return undefined;
  }
}

function notAvailable(receiptHandle: string): AwsServiceError {
  return new AwsServiceError(
    'InvalidParameterValue',
    `Value ${receiptHandle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
  );
}

/** Queue timers never keep the process alive on their own. */
function unrefTimer(fn: () => void, ms: number): NodeJS.Timeout {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return timer;
}
