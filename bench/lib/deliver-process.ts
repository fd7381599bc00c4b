/**
 * One execution environment of the delivery function, in a process of its own (started by
 * deliver-side.ts), for the large-topic benchmark: it long-polls the delivery queue through the
 * SQS API as Lambda's event source mapping does, invokes functions/handlers/deliver.ts with a
 * batch of jobs, and deletes the records that succeeded (ReportBatchItemFailures). One invocation
 * at a time, clients kept between invocations (warm), as a Lambda environment.
 *
 * A process per environment, not a thread of the local system: each invocation gets its own
 * clients, sockets and event loop, as in AWS, and the CPU it spends (process.cpuUsage(), every
 * thread) is its own, so the benchmark can add it up per delivery.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { makeHandler } from '../../functions/handlers/deliver';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../local/constants';
import { lambdaContext } from '../../local/gateway';
import { serveOperations } from './child-serve';

export interface DeliverProcessInit {
  /** The delivery function's env map (the stack's settings, pointed at the local system and the bench's delivery queue). */
  env: Record<string, string>;
  queueUrl: string;
  queueArn: string;
  /** Records per invocation (the mapping's batch size). */
  batchSize: number;
  /** The function timeout its context reports. */
  timeoutMs: number;
}

/** What the environment did since `start`. */
export interface DeliverProcessReport {
  cpuUs: number;
  invocations: number;
  records: number;
  failedRecords: number;
}


let init: DeliverProcessInit | undefined;
let handler: ReturnType<typeof makeHandler> | undefined;
let sqs: SQSClient | undefined;
let running: Promise<void> | undefined;
let stopping = false;
let cpuAtStart = process.cpuUsage();
let counts = { invocations: 0, records: 0, failedRecords: 0 };

function recordOf(message: Message, setup: DeliverProcessInit): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: setup.queueArn,
    awsRegion: LOCAL_REGION,
  };
}

async function poll(setup: DeliverProcessInit, client: SQSClient, deliver: ReturnType<typeof makeHandler>): Promise<void> {
  while (!stopping) {
    const out = await client.send(
      new ReceiveMessageCommand({ QueueUrl: setup.queueUrl, MaxNumberOfMessages: setup.batchSize, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) continue;
    const event: SQSEvent = { Records: messages.map((m) => recordOf(m, setup)) };
    counts.invocations++;
    counts.records += messages.length;
    let failed = new Set<string>();
    try {
      const response = await deliver(event, lambdaContext({ functionName: 'bench-deliver', timeoutMs: setup.timeoutMs, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT }));
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      failed = new Set(messages.map((m) => m.MessageId ?? ''));
    }
    counts.failedRecords += failed.size;
    // What failed stays in flight and comes back after the visibility timeout, as with the real mapping.
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length > 0) {
      await client.send(new DeleteMessageBatchCommand({ QueueUrl: setup.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
  }
}

const operations = {
  init: (setup: DeliverProcessInit) => {
    init = setup;
    handler = makeHandler(setup.env);
    sqs = new SQSClient({
      region: LOCAL_REGION,
      endpoint: setup.env.AWS_ENDPOINT_URL_SQS,
      credentials: { accessKeyId: setup.env.AWS_ACCESS_KEY_ID, secretAccessKey: setup.env.AWS_SECRET_ACCESS_KEY },
    });
  },
  /** Starts polling; the CPU and the counts are measured from here. */
  start: () => {
    if (!init || !handler || !sqs) throw new Error('the deliver process was not initialised');
    if (running) throw new Error('already polling');
    stopping = false;
    counts = { invocations: 0, records: 0, failedRecords: 0 };
    cpuAtStart = process.cpuUsage();
    running = poll(init, sqs, handler);
  },
  /** Stops polling once the invocation in progress is done; answers what was done since start. */
  stop: async (): Promise<DeliverProcessReport> => {
    stopping = true;
    try {
      await running;
    } finally {
      running = undefined;
    }
    const cpu = process.cpuUsage(cpuAtStart);
    return { cpuUs: cpu.user + cpu.system, ...counts };
  },
};

serveOperations(operations);
