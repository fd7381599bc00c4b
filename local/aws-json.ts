/**
 * A minimal AWS JSON-RPC server (the protocol of SQS — JSON 1.0 — and EventBridge — JSON 1.1):
 * every call is `POST /` with `X-Amz-Target: <Prefix>.<Operation>` and a JSON body; errors are
 * `{"__type": …, "message": …}` with a 4xx/5xx status. Signatures are not checked: any
 * credentials work locally.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { describeJsonError, preview } from '../functions/lib/untrusted';
import { BodyTooLargeError, readBody } from './http-server';

/** An error the way AWS reports it. `queryCode` feeds the `x-amzn-query-error` header (SQS). */
export class AwsServiceError extends Error {
  readonly status: number;
  readonly queryCode?: string;
  readonly fault: 'Sender' | 'Receiver';
  constructor(
    readonly code: string,
    message: string,
    options: { status?: number; queryCode?: string; fault?: 'Sender' | 'Receiver' } = {},
  ) {
    super(message);
    this.name = code;
    this.status = options.status ?? 400;
    this.queryCode = options.queryCode;
    this.fault = options.fault ?? (this.status >= 500 ? 'Receiver' : 'Sender');
  }
}

export interface RequestInfo {
  /** Aborted when the caller goes away (a long poll must then give its messages back). */
  signal: AbortSignal;
  /** The access key id from the SigV4 Authorization header, if any. */
  accessKeyId?: string;
}

export type Operation = (input: Record<string, unknown>, request: RequestInfo) => unknown | Promise<unknown>;

export interface JsonRpcService {
  /** `AmazonSQS`, `AWSEvents`: the part of X-Amz-Target before the dot. */
  targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`. */
  contentType: string;
  /** Prefix of `__type` (`com.amazonaws.sqs#Code`); none gives a bare code. */
  errorNamespace?: string;
  /** Send `x-amzn-query-error: <queryCode>;<Sender|Receiver>` like awsQueryCompatible services. */
  queryCompatible?: boolean;
  maxBodyBytes: number;
  /** The error for a target this endpoint does not implement. */
  unsupported: { code: string; queryCode?: string };
  operations: Record<string, Operation>;
  /** Called with unexpected (non-AwsServiceError) failures; they answer 500 InternalFailure. */
  onInternalError?: (err: unknown) => void;
}

const CREDENTIAL = /Credential=([^/,\s]+)\//;

export function createJsonRpcServer(service: JsonRpcService): Server {
  return createServer((req, res) => {
    handle(service, req, res).catch((err) => {
      service.onInternalError?.(err);
      if (!res.headersSent) sendError(service, res, new AwsServiceError('InternalFailure', 'Internal failure', { status: 500 }));
    });
  });
}

const NOT_AN_OBJECT = 'the body is not a JSON object';

async function handle(service: JsonRpcService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  if (req.method !== 'POST') {
    return sendError(service, res, new AwsServiceError(service.unsupported.code, `${req.method} is not supported: AWS JSON calls are POST requests`, { status: 405, queryCode: service.unsupported.queryCode }));
  }
  const target = String(req.headers['x-amz-target'] ?? '');
  const [prefix, operationName] = target.split('.', 2);
  // Own keys only: `X-Amz-Target: AWSEvents.toString` names no operation.
  const operation = prefix === service.targetPrefix && operationName && Object.hasOwn(service.operations, operationName) ? service.operations[operationName] : undefined;
  if (!operation) {
    const supported = Object.keys(service.operations).join(', ');
    return sendError(
      service,
      res,
      new AwsServiceError(service.unsupported.code, `Unknown or unsupported operation ${preview(target)}; this local endpoint supports ${service.targetPrefix}.{${supported}}`, {
        queryCode: service.unsupported.queryCode,
      }),
    );
  }
  let input: Record<string, unknown>;
  try {
    const raw = (await readBody(req, service.maxBodyBytes)).toString('utf8');
    const parsed: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError(NOT_AN_OBJECT);
    input = parsed as Record<string, unknown>;
  } catch (err) {
    // JSON.parse's own message quotes the body: say only where it failed.
    const message = err instanceof BodyTooLargeError ? err.message : `Malformed request body: ${(err as Error).message === NOT_AN_OBJECT ? NOT_AN_OBJECT : describeJsonError(err)}`;
    return sendError(service, res, new AwsServiceError(err instanceof BodyTooLargeError ? 'RequestEntityTooLarge' : 'SerializationException', message, { status: err instanceof BodyTooLargeError ? 413 : 400 }));
  }
  const accessKeyId = CREDENTIAL.exec(String(req.headers.authorization ?? ''))?.[1];
  try {
    const output = await operation(input, { signal: controller.signal, accessKeyId });
    if (res.destroyed) return;
    send(service, res, 200, output ?? {});
  } catch (err) {
    if (!(err instanceof AwsServiceError)) throw err;
    sendError(service, res, err);
  }
}

function send(service: JsonRpcService, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': service.contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function sendError(service: JsonRpcService, res: ServerResponse, err: AwsServiceError): void {
  const type = service.errorNamespace ? `${service.errorNamespace}#${err.code}` : err.code;
  const headers: Record<string, string> = {};
  if (service.queryCompatible) headers['x-amzn-query-error'] = `${err.queryCode ?? err.code};${err.fault}`;
  send(service, res, err.status, { __type: type, message: err.message }, headers);
}
