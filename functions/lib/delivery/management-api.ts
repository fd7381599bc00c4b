/**
 * The `@connections` management API (PostToConnection, GetConnection, DeleteConnection) as
 * signed HTTP requests over a keep-alive agent, instead of @aws-sdk/client-apigatewaymanagementapi.
 *
 * Why: the publish function is CPU-bound, and the SDK client spent about 85 % of the CPU of a
 * delivery (middleware stack, promise-based signer, serde). This client does one synchronous
 * signature (sigv4.ts) and one `http(s).request` per call: several times less CPU per delivery
 * (bench/post-path.ts measures it against the SDK).
 *
 * What it keeps from the SDK client as we configured it: credentials read from the env map at
 * every request (so replaced credentials are used), the endpoint's stage path, ids escaped as
 * the SDK escapes them, errors named from `x-amzn-ErrorType` with `$fault` and
 * `$metadata.httpStatusCode` (post-errors.ts classifies them unchanged), network errors with
 * their `code`, a connect timeout and a whole-request timeout that destroy the request
 * (`TimeoutError`), no retries (the fan-out owns them), sockets kept alive and sized to the
 * fan-out's concurrency, every response body read to its end so its socket is reused.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { escapeUri, SigV4Signer, type Credentials, type SignableRequest } from './sigv4';

/** The operations this client sends: the IAM check (test/infra/iam.test.ts) grants their action. */
export const MANAGEMENT_OPERATIONS = ['PostToConnection', 'GetConnection', 'DeleteConnection'] as const;
export type ManagementOperation = (typeof MANAGEMENT_OPERATIONS)[number];

/** What the fan-out needs: one delivery. */
export interface Poster {
  post(connectionId: string, data: Uint8Array): Promise<void>;
}

/** GetConnection's answer. */
export interface ConnectionInfo {
  connectedAt: Date;
  identity: { sourceIp: string; userAgent?: string };
  lastActiveAt: Date;
}

/** Signs one request: the headers to add. */
export interface RequestSigner {
  sign(request: SignableRequest, credentials: Credentials): Record<string, string>;
}

export interface ManagementApiOptions {
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` (or the local gateway's `http://127.0.0.1:PORT/local`). */
  endpoint: string;
  region: string;
  /** Called at every request; the signing key is derived again only when the secret or the day changes. */
  credentials: () => Credentials;
  /** Longest wait for a new socket to connect. */
  connectTimeoutMs: number;
  /** Longest time for a whole call, from sending it to the response's last byte. */
  requestTimeoutMs: number;
  /** Sockets kept per host: the fan-out's concurrency. */
  maxSockets: number;
  /** Default: SigV4Signer (sigv4.ts). bench/post-path.ts plugs other signers in to compare them on this transport. */
  signer?: RequestSigner;
}

/** An error answer of the API, shaped like the SDK's service exceptions. */
export class ManagementApiError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId?: string };

  constructor(name: string, message: string, httpStatusCode: number, requestId?: string) {
    super(message);
    this.name = name;
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
    this.$metadata = requestId === undefined ? { httpStatusCode } : { httpStatusCode, requestId };
  }
}

/** A timed-out call: named as the SDK's NodeHttpHandler names it. */
export class ManagementTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** Most of an error body kept for its message; error bodies are small JSON documents. */
const MAX_ERROR_BODY_BYTES = 4096;
/** Longest error message kept from a response (never echo more of what a server sent). */
const MAX_MESSAGE_CHARS = 200;
/** A GetConnection answer is a few hundred bytes; anything far larger is not one. */
const MAX_INFO_BODY_BYTES = 64 * 1024;

const SERVICE = 'execute-api';

/** `GoneException:http://internal.amazon.com/...` or `aws#GoneException` → `GoneException`, as the SDK reads it. */
export function errorName(raw: string): string {
  let name = raw;
  const colon = name.indexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  const hash = name.indexOf('#');
  if (hash >= 0) name = name.slice(hash + 1);
  return name.trim();
}

interface Call {
  method: 'POST' | 'GET' | 'DELETE';
  connectionId: string;
  body?: Uint8Array;
  /** Keep the success body (GetConnection), else drain it. */
  readBody: boolean;
}

export class ManagementApi implements Poster {
  private readonly secure: boolean;
  private readonly hostname: string;
  private readonly port?: number;
  /** The Host header: `host[:port]`, as signed. */
  private readonly host: string;
  /** `/{stage}/@connections/` as sent. */
  private readonly prefix: string;
  private readonly agent: HttpAgent;
  private readonly signer: RequestSigner;
  private readonly send: typeof httpRequest;

  constructor(private readonly options: ManagementApiOptions) {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`management endpoint must be http(s), got ${url.protocol}`);
    if (url.search !== '' || url.hash !== '') throw new Error('management endpoint must not carry a query or fragment');
    this.secure = url.protocol === 'https:';
    // URL keeps the brackets of an IPv6 literal; the socket wants the address alone.
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = url.port === '' ? undefined : Number(url.port);
    this.host = url.host;
    this.prefix = `${url.pathname.replace(/\/+$/, '')}/@connections/`;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.agent = this.secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = this.secure ? httpsRequest : httpRequest;
    this.signer = options.signer ?? new SigV4Signer(options.region, SERVICE);
  }

  /** PostToConnection: resolves once API Gateway accepted the frame. */
  async post(connectionId: string, data: Uint8Array): Promise<void> {
    await this.callOperation('PostToConnection', { method: 'POST', connectionId, body: data, readBody: false });
  }

  /** GetConnection: when the connection opened and was last active, and who it is. */
  async get(connectionId: string): Promise<ConnectionInfo> {
    const body = await this.callOperation('GetConnection', { method: 'GET', connectionId, readBody: true });
    return parseConnectionInfo(body);
  }

  /** DeleteConnection: API Gateway closes the connection. */
  async delete(connectionId: string): Promise<void> {
    await this.callOperation('DeleteConnection', { method: 'DELETE', connectionId, readBody: false });
  }

  /** Closes the kept-alive sockets (tests, benchmarks; a Lambda keeps them for the next invocation). */
  destroy(): void {
    this.agent.destroy();
  }

  private callOperation(operation: ManagementOperation, call: Call): Promise<Buffer> {
    const { connectionId } = call;
    // The SDK refuses an empty label too; `.` and `..` would be resolved away by the signer's path rules.
    if (connectionId === '' || connectionId === '.' || connectionId === '..') {
      return Promise.reject(new TypeError(`${operation}: invalid connection id ${JSON.stringify(connectionId.slice(0, 64))}`));
    }
    const path = this.prefix + escapeUri(connectionId);
    const { body } = call;
    let credentials: Credentials;
    try {
      credentials = this.options.credentials();
    } catch (error) {
      return Promise.reject(error);
    }
    const signed = this.signer.sign({ method: call.method, host: this.host, path, body }, credentials);
    const headers: Record<string, string | number> = { host: this.host, ...signed };
    if (body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = body.byteLength;
    }
    const { connectTimeoutMs, requestTimeoutMs } = this.options;

    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const finish = (error: unknown, result?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(requestTimer);
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        if (error === undefined) resolve(result ?? EMPTY);
        else reject(error);
      };
      let req: ClientRequest;
      try {
        req = this.send({ method: call.method, hostname: this.hostname, port: this.port, path, headers, agent: this.agent }, (res) =>
          readResponse(res, call.readBody, finish),
        );
      } catch (error) {
        // Refused before anything was sent (a header value Node will not send, such as a token with a line break).
        return reject(error);
      }
      // Settle with the timeout first: destroying the request may also raise ECONNRESET, which must not win.
      // A timer that fires after the event loop was busy runs before the I/O that waited meanwhile
      // (timers come first in each turn): one turn later, a response that had already arrived wins,
      // rather than being thrown away and its post sent twice.
      const timeOut = (message: string) =>
        setImmediate(() => {
          if (settled) return;
          finish(new ManagementTimeoutError(message));
          req.destroy();
        });
      // Runs from the moment the call is made, queueing for a socket included: it bounds the whole call.
      const requestTimer = setTimeout(() => timeOut(`${operation} exceeded the configured ${requestTimeoutMs} ms request timeout`), requestTimeoutMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) return; // a kept-alive socket: nothing to connect
        connectTimer = setTimeout(() => timeOut(`${operation}: no connection within the configured ${connectTimeoutMs} ms connect timeout`), connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      // Network errors keep their code (ECONNRESET, ECONNREFUSED…).
      req.on('error', (error) => finish(error));
      req.end(body);
    });
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Read a response to its end (so the socket goes back to the pool): a success resolves (with the
 * body when asked for), anything else rejects with a ManagementApiError named from
 * `x-amzn-ErrorType`, else from the body's `__type`/`code`, else `Unknown` (as the SDK does).
 */
function readResponse(res: IncomingMessage, readBody: boolean, done: (error: unknown, body?: Buffer) => void): void {
  const status = res.statusCode ?? 0;
  const success = status >= 200 && status < 300;
  const keep = success ? (readBody ? MAX_INFO_BODY_BYTES : 0) : MAX_ERROR_BODY_BYTES;
  const chunks: Buffer[] = [];
  let kept = 0;
  res.on('data', (chunk: Buffer) => {
    if (kept >= keep) return;
    chunks.push(chunk);
    kept += chunk.length;
  });
  // The response stream fails when the socket dies mid-body (the request's error handler also sees it).
  res.on('error', (error) => done(error));
  res.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (success) return done(undefined, body);
    const requestId = headerValue(res, 'x-amzn-requestid');
    const parsed = parseJsonObject(body);
    const typeHeader = headerValue(res, 'x-amzn-errortype');
    const rawName = typeHeader ?? stringField(parsed, '__type') ?? stringField(parsed, 'code');
    const name = rawName === undefined || errorName(rawName) === '' ? 'Unknown' : errorName(rawName);
    const message = stringField(parsed, 'message') ?? stringField(parsed, 'Message') ?? `${name} (HTTP ${status})`;
    done(new ManagementApiError(name, message.slice(0, MAX_MESSAGE_CHARS), status, requestId));
  });
}

function headerValue(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function stringField(object: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = object?.[key];
  return typeof value === 'string' ? value : undefined;
}

function parseConnectionInfo(body: Buffer): ConnectionInfo {
  const answer = parseJsonObject(body);
  const connectedAt = new Date(String(answer?.connectedAt));
  const lastActiveAt = new Date(String(answer?.lastActiveAt));
  const identity = answer?.identity as Record<string, unknown> | undefined;
  const sourceIp = stringField(identity, 'sourceIp');
  if (Number.isNaN(connectedAt.getTime()) || Number.isNaN(lastActiveAt.getTime()) || sourceIp === undefined) {
    throw new Error(`GetConnection: unexpected answer ${JSON.stringify(body.toString('utf8').slice(0, 100))}`);
  }
  const userAgent = stringField(identity, 'userAgent');
  return { connectedAt, identity: userAgent === undefined ? { sourceIp } : { sourceIp, userAgent }, lastActiveAt };
}
