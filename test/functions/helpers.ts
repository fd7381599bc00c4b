/** Env maps, events and management API errors shared by the handler tests. */
import type { EventBridgeEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { ENV } from '../../protocol/env';
import { ManagementApiError } from '../../functions/lib/delivery/management-api';

/** The delivery queue and its DLQ in testEnv (fake-queue.ts answers for them). */
export const DELIVERY_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/realtime-delivery';
export const DELIVERY_DLQ_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/realtime-delivery-dlq';

/**
 * A quiet env map: no logs, no EMF output. No shared rate budget (its ledger has its own tests)
 * and no history table (history runs against dynalite in history.test.ts and subscribe-since.test.ts).
 */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    [ENV.tableName]: 'connections',
    [ENV.managementEndpoint]: 'https://abc123defg.execute-api.us-east-1.amazonaws.com/prod',
    [ENV.deliveryQueueUrl]: DELIVERY_QUEUE_URL,
    [ENV.deliveryDlqUrl]: DELIVERY_DLQ_URL,
    [ENV.rateBudget]: '0',
    AWS_REGION: 'us-east-1',
    [ENV.logLevel]: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...overrides,
  };
}

export function messageEvent(connectionId: string, body: string | undefined, routeKey = 'subscribe') {
  return {
    body,
    isBase64Encoded: false,
    requestContext: { connectionId, routeKey, eventType: 'MESSAGE', messageId: 'm-1', stage: 'prod', domainName: 'x', apiId: 'abc' },
  };
}

export function sqsRecord(messageId: string, body: unknown, sentTimestamp = '1700000000000'): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: sentTimestamp,
      SenderId: 'AIDA',
      ApproximateFirstReceiveTimestamp: sentTimestamp,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:publish',
    awsRegion: 'us-east-1',
  };
}

/** A raw EventBridge event (as EventBridge invokes the publish function directly). */
export function eventBridgeEvent(detail: unknown, id = 'eb-1234'): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id,
    'detail-type': 'OrderCreated',
    source: 'shop.orders',
    account: '000000000000',
    time: '2025-05-06T07:08:09Z',
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** What the management API client raises for these answers (as clients.test.ts checks over real HTTP). */
export const gone = () => new ManagementApiError('GoneException', 'Gone', 410);
export const throttled = () => new ManagementApiError('LimitExceededException', 'Limit exceeded', 429);
export function serverError() {
  return new ManagementApiError('InternalServerErrorException', 'Internal', 500);
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Run `fn` while collecting what it writes to stdout and stderr (Powertools logs and EMF go there). */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write);
  let text = '';
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    }) as typeof stream.write;
  }
  try {
    const result = await fn();
    return { result, lines: text.split('\n').filter((l) => l.trim() !== '') };
  } finally {
    streams.forEach((s, i) => (s.write = originals[i]));
  }
}
