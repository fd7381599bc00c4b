/**
 * An SQS endpoint speaking AWS JSON 1.0 the way `@aws-sdk/client-sqs` does, over in-memory
 * standard queues (./queue.ts). Errors carry `__type: com.amazonaws.sqs#<Code>` and the
 * `x-amzn-query-error: <legacy code>;Sender` header, which the SDK prefers to name the error.
 */
import type { Server } from 'node:http';
import { AwsServiceError, createJsonRpcServer, type Operation, type RequestInfo } from '../aws-json';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../constants';
import { closeServer, listen } from '../http-server';
import { md5OfAttributes, type AttributeValue } from './md5';
import { QueueJournal } from './journal';
import { Queue, type Delivery, type QueueSettings, type SentMessage } from './queue';
import {
  attributesToWire,
  batchEntries,
  checkCharacters,
  invalidParameter,
  optionalInteger,
  optionalStringList,
  parseAttributes,
  requiredString,
} from './validate';

export interface QueueDefinition {
  name: string;
  settings?: Partial<QueueSettings>;
  /** Redrive to another defined queue after this many receives. */
  deadLetter?: { queueName: string; maxReceiveCount: number };
}

export interface SqsOptions {
  queues: QueueDefinition[];
  port?: number;
  host?: string;
  region?: string;
  account?: string;
  /** Told when a message moves to a dead-letter queue. */
  onDeadLetter?: (queue: string, messageId: string, receiveCount: number) => void;
  onInternalError?: (err: unknown) => void;
  /** Keep every queue's messages in this file across restarts (./journal.ts); in memory when absent. */
  journalFile?: string;
}

export interface SqsEndpoint {
  /** `http://127.0.0.1:PORT`: AWS_ENDPOINT_URL_SQS for backends. */
  endpoint: string;
  queueUrl(name: string): string;
  queue(name: string): Queue;
  /** What the journal put back at start (none without journalFile). */
  restored: { messages: Record<string, number>; deadLettered: number; skipped: number };
  close(): Promise<void>;
}

const MAX_WAIT_SECONDS = 20;
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
const MAX_DELAY_SECONDS = 15 * 60;
const SYSTEM_ATTRIBUTE_NAMES = ['SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'AWSTraceHeader', 'DeadLetterQueueSourceArn'];
// FIFO-only names are accepted and simply never present on a standard queue.
const FIFO_ATTRIBUTE_NAMES = ['MessageDeduplicationId', 'MessageGroupId', 'SequenceNumber'];
const QUEUE_ATTRIBUTE_NAMES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'QueueArn',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'SqsManagedSseEnabled',
];

export async function startSqs(options: SqsOptions): Promise<SqsEndpoint> {
  const region = options.region ?? LOCAL_REGION;
  const account = options.account ?? LOCAL_ACCOUNT;
  const queues = new Map<string, Queue>();
  for (const def of options.queues) {
    if (queues.has(def.name)) throw new Error(`Queue ${def.name} is defined twice`);
    queues.set(def.name, new Queue(def.name, `arn:aws:sqs:${region}:${account}:${def.name}`, def.settings));
  }
  for (const def of options.queues) {
    if (!def.deadLetter) continue;
    const deadLetterQueue = queues.get(def.deadLetter.queueName);
    if (!deadLetterQueue) throw new Error(`Queue ${def.name} names a dead-letter queue ${def.deadLetter.queueName} that is not defined`);
    const queue = queues.get(def.name)!;
    queue.redrive = { deadLetterQueue, maxReceiveCount: def.deadLetter.maxReceiveCount };
    queue.onDeadLetter = (id, count) => options.onDeadLetter?.(def.name, id, count);
  }

  const opened = options.journalFile ? QueueJournal.open(options.journalFile, queues) : undefined;

  let base = '';
  const urlOf = (name: string) => `${base}/${account}/${name}`;
  const byUrl = (input: Record<string, unknown>): Queue => {
    const url = requiredString(input, 'QueueUrl');
    const match = /^(?:https?:\/\/[^/]+)?\/([^/]+)\/([^/?#]+)\/?$/.exec(url);
    const queue = match && match[1] === account ? queues.get(decodeURIComponent(match[2])) : undefined;
    if (!queue) throw queueDoesNotExist();
    return queue;
  };

  const operations: Record<string, Operation> = {
    GetQueueUrl(input) {
      const name = requiredString(input, 'QueueName');
      if (!queues.has(name)) throw queueDoesNotExist();
      return { QueueUrl: urlOf(name) };
    },
    ListQueues(input) {
      const prefix = typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : '';
      return { QueueUrls: [...queues.keys()].filter((n) => n.startsWith(prefix)).map(urlOf) };
    },
    SendMessage(input, request) {
      return sentToWire(sendOne(byUrl(input), input, request));
    },
    SendMessageBatch(input, request) {
      const queue = byUrl(input);
      const entries = batchEntries(input);
      const total = entries.reduce((sum, e) => sum + (typeof e.MessageBody === 'string' ? Buffer.byteLength(e.MessageBody) : 0), 0);
      if (total > queue.settings.maximumMessageSize) {
        throw new AwsServiceError('BatchRequestTooLong', `Batch requests cannot be longer than ${queue.settings.maximumMessageSize} bytes. You have sent ${total} bytes.`, {
          queryCode: 'AWS.SimpleQueueService.BatchRequestTooLong',
        });
      }
      return perEntry(entries, (entry) => ({ Id: entry.Id, ...sentToWire(sendOne(queue, entry, request)) }));
    },
    async ReceiveMessage(input, request) {
      const queue = byUrl(input);
      const maxMessages = optionalInteger(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
      const visibilityTimeoutSeconds = optionalInteger(input, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS);
      const waitSeconds = optionalInteger(input, 'WaitTimeSeconds', 0, MAX_WAIT_SECONDS);
      const systemNames = [...optionalStringList(input, 'AttributeNames'), ...optionalStringList(input, 'MessageSystemAttributeNames')];
      for (const name of systemNames) {
        if (name !== 'All' && !SYSTEM_ATTRIBUTE_NAMES.includes(name) && !FIFO_ATTRIBUTE_NAMES.includes(name)) throw unknownAttribute(name);
      }
      const attributeFilter = optionalStringList(input, 'MessageAttributeNames');
      const deliveries = await queue.receive({ maxMessages, visibilityTimeoutSeconds, waitSeconds, signal: request.signal });
      if (deliveries.length === 0) return {};
      return { Messages: deliveries.map((d) => deliveryToWire(d, systemNames, attributeFilter)) };
    },
    DeleteMessage(input) {
      byUrl(input).delete(requiredString(input, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch(input) {
      const queue = byUrl(input);
      return perEntry(batchEntries(input), (entry) => {
        queue.delete(requiredString(entry, 'ReceiptHandle'));
        return { Id: entry.Id };
      });
    },
    ChangeMessageVisibility(input) {
      byUrl(input).changeVisibility(requiredString(input, 'ReceiptHandle'), visibilityTimeout(input));
      return {};
    },
    ChangeMessageVisibilityBatch(input) {
      const queue = byUrl(input);
      return perEntry(batchEntries(input), (entry) => {
        queue.changeVisibility(requiredString(entry, 'ReceiptHandle'), visibilityTimeout(entry));
        return { Id: entry.Id };
      });
    },
    GetQueueAttributes(input) {
      const queue = byUrl(input);
      const names = optionalStringList(input, 'AttributeNames');
      for (const name of names) if (name !== 'All' && !QUEUE_ATTRIBUTE_NAMES.includes(name)) throw unknownAttribute(name);
      const all = queueAttributes(queue);
      const wanted = names.includes('All') ? Object.keys(all) : names;
      const Attributes: Record<string, string> = {};
      for (const name of wanted) if (all[name] !== undefined) Attributes[name] = all[name];
      return Object.keys(Attributes).length > 0 ? { Attributes } : {};
    },
    PurgeQueue(input) {
      byUrl(input).purge();
      return {};
    },
  };

  const server: Server = createJsonRpcServer({
    targetPrefix: 'AmazonSQS',
    contentType: 'application/x-amz-json-1.0',
    errorNamespace: 'com.amazonaws.sqs',
    queryCompatible: true,
    maxBodyBytes: 16 * 1024 * 1024,
    unsupported: { code: 'UnsupportedOperation', queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' },
    operations,
    onInternalError: options.onInternalError,
  });
  try {
    base = await listen(server, options.port ?? 0, options.host);
  } catch (err) {
    opened?.journal.close();
    throw err;
  }
  return {
    endpoint: base,
    queueUrl(name) {
      if (!queues.has(name)) throw new Error(`No local queue named ${name}`);
      return urlOf(name);
    },
    queue(name) {
      const queue = queues.get(name);
      if (!queue) throw new Error(`No local queue named ${name}`);
      return queue;
    },
    restored: { messages: opened?.restored ?? {}, deadLettered: opened?.deadLettered ?? 0, skipped: opened?.skipped ?? 0 },
    async close() {
      // Memory only: the journal keeps every message for the next start.
      opened?.journal.close();
      for (const queue of queues.values()) queue.close();
      await closeServer(server);
    },
  };
}

function sendOne(queue: Queue, input: Record<string, unknown>, request: RequestInfo): SentMessage {
  const body = requiredString(input, 'MessageBody');
  if (body.length === 0) throw invalidParameter('The request must contain a non-empty MessageBody.');
  checkCharacters(body, 'the message body');
  const delaySeconds = optionalInteger(input, 'DelaySeconds', 0, MAX_DELAY_SECONDS);
  const user = parseAttributes(input.MessageAttributes, 'message');
  const system = parseAttributes(input.MessageSystemAttributes, 'system');
  const size = Buffer.byteLength(body) + user.bytes;
  if (size > queue.settings.maximumMessageSize) {
    throw invalidParameter(`One or more parameters are invalid. Reason: Message must be shorter than ${queue.settings.maximumMessageSize} bytes (this one is ${size} bytes with its attributes).`);
  }
  return queue.send({ body, attributes: user.attributes, systemAttributes: system.attributes, delaySeconds, senderId: request.accessKeyId });
}

function sentToWire(sent: SentMessage): Record<string, string> {
  return {
    MessageId: sent.messageId,
    MD5OfMessageBody: sent.md5OfBody,
    ...(sent.md5OfAttributes ? { MD5OfMessageAttributes: sent.md5OfAttributes } : {}),
    ...(sent.md5OfSystemAttributes ? { MD5OfMessageSystemAttributes: sent.md5OfSystemAttributes } : {}),
  };
}

/** The system attributes SQS reports for a delivery (all of them; callers pick). */
export function systemAttributesOf(d: Delivery): Record<string, string> {
  const all: Record<string, string> = {
    SenderId: d.senderId,
    SentTimestamp: String(d.sentTimestamp),
    ApproximateReceiveCount: String(d.receiveCount),
    ApproximateFirstReceiveTimestamp: String(d.firstReceiveTimestamp),
  };
  if (d.systemAttributes.AWSTraceHeader?.StringValue) all.AWSTraceHeader = d.systemAttributes.AWSTraceHeader.StringValue;
  if (d.deadLetterQueueSourceArn) all.DeadLetterQueueSourceArn = d.deadLetterQueueSourceArn;
  return all;
}

function deliveryToWire(d: Delivery, systemNames: string[], attributeFilter: string[]): Record<string, unknown> {
  const message: Record<string, unknown> = { MessageId: d.messageId, ReceiptHandle: d.receiptHandle, MD5OfBody: d.md5OfBody, Body: d.body };
  if (systemNames.length > 0) {
    const all = systemAttributesOf(d);
    const wanted = systemNames.includes('All') ? Object.keys(all) : systemNames;
    const Attributes: Record<string, string> = {};
    for (const name of wanted) if (all[name] !== undefined) Attributes[name] = all[name];
    message.Attributes = Attributes;
  }
  const selected = selectAttributes(d.attributes, attributeFilter);
  if (Object.keys(selected).length > 0) {
    // The digest covers the attributes returned, which is what SDKs that verify it compute.
    message.MD5OfMessageAttributes = md5OfAttributes(selected);
    message.MessageAttributes = attributesToWire(selected);
  }
  return message;
}

/** `All` / `.*` select everything, `prefix.*` a prefix, anything else an exact name. */
export function selectAttributes(attributes: Record<string, AttributeValue>, filter: string[]): Record<string, AttributeValue> {
  const selected: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    const wanted = filter.some((f) => f === 'All' || f === '.*' || f === name || (f.endsWith('.*') && name.startsWith(f.slice(0, -1))));
    if (wanted) selected[name] = value;
  }
  return selected;
}

function queueAttributes(queue: Queue): Record<string, string | undefined> {
  const counts = queue.counts();
  const s = queue.settings;
  const created = String(Math.floor(queue.createdTimestamp / 1000));
  return {
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
    CreatedTimestamp: created,
    LastModifiedTimestamp: created,
    DelaySeconds: String(s.delaySeconds),
    MaximumMessageSize: String(s.maximumMessageSize),
    MessageRetentionPeriod: String(s.messageRetentionPeriod),
    QueueArn: queue.arn,
    ReceiveMessageWaitTimeSeconds: String(s.receiveMessageWaitTimeSeconds),
    VisibilityTimeout: String(s.visibilityTimeoutSeconds),
    RedrivePolicy: queue.redrive
      ? JSON.stringify({ deadLetterTargetArn: queue.redrive.deadLetterQueue.arn, maxReceiveCount: queue.redrive.maxReceiveCount })
      : undefined,
    SqsManagedSseEnabled: 'false',
  };
}

/** Run each batch entry on its own: one bad entry fails alone, as in SQS. */
function perEntry(entries: Record<string, unknown>[], run: (entry: Record<string, unknown>) => Record<string, unknown>) {
  const Successful: Record<string, unknown>[] = [];
  const Failed: Record<string, unknown>[] = [];
  for (const entry of entries) {
    try {
      Successful.push(run(entry));
    } catch (err) {
      if (!(err instanceof AwsServiceError)) throw err;
      Failed.push({ Id: entry.Id, SenderFault: err.fault === 'Sender', Code: err.queryCode ?? err.code, Message: err.message });
    }
  }
  return { Successful, Failed };
}

function visibilityTimeout(input: Record<string, unknown>): number {
  const seconds = optionalInteger(input, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS);
  if (seconds === undefined) throw new AwsServiceError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
  return seconds;
}

function queueDoesNotExist(): AwsServiceError {
  return new AwsServiceError('QueueDoesNotExist', 'The specified queue does not exist.', { queryCode: 'AWS.SimpleQueueService.NonExistentQueue' });
}

function unknownAttribute(name: string): AwsServiceError {
  return new AwsServiceError('InvalidAttributeName', `Unknown Attribute ${name}.`);
}
