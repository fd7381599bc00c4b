/**
 * The gateway's core, independent of sockets: admission (authorizer + $connect), the connection
 * registry, route selection and invocation, route responses, the idle / maximum-duration sweep
 * and $disconnect. Real sockets (socket.ts) and virtual connections (virtual.ts) both drive it.
 */
import { IDLE_TIMEOUT_MS, MAX_CONNECTION_MS, MAX_MESSAGE_BYTES } from '../../protocol/limits';
import type { MockRoute } from '../../protocol/routes';
import { judgeAuthorizerResult } from './authorizer';
import {
  type ApiInfo,
  type ConnectionInfo,
  type HeaderPairs,
  authorizerEvent,
  connectEvent,
  connectMethodArn,
  CONNECT_SKIPPED,
  disconnectEvent,
  handshakeHeaderPairs,
  headerMaps,
  messageEvent,
  queryMaps,
} from './events';
import { awsId } from './ids';
import { lambdaContext } from './lambda-context';
import { gatewayErrorFrame, HANDLER_FAILED_MESSAGE, NO_ROUTE_MESSAGE, selectRouteKey } from './routing';
import type { CloseInfo, GatewayActivity, GatewayOptions, LambdaLike } from './types';

/** How the engine reaches the client, whatever carries the frames. */
export interface Transport {
  /** Sends one text frame; false when the client can no longer receive it. */
  deliver(data: string | Buffer): boolean;
  /** Server-side close: sends a close frame with this code and reason. */
  terminate(code: number, reason: string): void;
  /** Told once when the connection has ended, whoever ended it. */
  ended(info: CloseInfo): void;
}

export interface Connection extends ConnectionInfo {
  lastActiveAt: number;
  transport: Transport;
  ended: boolean;
}

/** What a client's handshake carries. */
export interface Handshake {
  headerPairs: HeaderPairs;
  /** The query string without `?`. */
  rawQuery: string;
  sourceIp: string;
}

export type Admission =
  | { ok: true; info: ConnectionInfo; responseHeaders: Array<[string, string]> }
  | { ok: false; status: number; body: string; contentType: string; by: 'authorizer' | '$connect' };

/** Close codes and reasons as $disconnect reports them. */
export const CLOSE = {
  normal: { code: 1000, reason: 'Connection Closed Normally' },
  goingAway: { code: 1001, reason: 'Going away' },
  binary: { code: 1003, reason: 'Binary frames are not supported' },
  noStatus: { code: 1005, reason: 'Client-side close frame status not set' },
  abnormal: { code: 1006, reason: 'Connection closed abnormally' },
  tooBig: { code: 1009, reason: 'Message too big' },
} as const satisfies Record<string, CloseInfo>;

const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function statusOf(result: unknown): number | undefined {
  if (result === undefined || result === null || typeof result !== 'object') return 200;
  const raw = (result as { statusCode?: unknown }).statusCode;
  if (raw === undefined) return 200;
  const status = typeof raw === 'string' ? Number(raw) : raw;
  return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599 ? status : undefined;
}

/** The $connect result's headers, or a description of what is wrong with them. */
function responseHeadersOf(result: unknown): Array<[string, string]> | string {
  const headers = (result as { headers?: unknown } | null | undefined)?.headers;
  if (headers === undefined || headers === null) return [];
  if (typeof headers !== 'object') return '$connect returned headers that are not an object';
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    const text = String(value);
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(text)) return `$connect returned an invalid header ${JSON.stringify(name)}`;
    pairs.push([name, text]);
  }
  return pairs;
}

/** The limits in force, API Gateway's by default; throws a RangeError on a nonsensical one. */
export function resolveLimits(options: GatewayOptions): { idleTimeoutMs: number; maxConnectionMs: number; maxMessageBytes: number } {
  const limits = {
    idleTimeoutMs: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    maxConnectionMs: options.maxConnectionMs ?? MAX_CONNECTION_MS,
    maxMessageBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a number > 0, got ${String(value)}`);
  }
  return limits;
}

const jsonMessage = (message: string) => `{"message":${JSON.stringify(message)}}`;

export class Engine {
  readonly connections = new Map<string, Connection>();
  readonly idleTimeoutMs: number;
  readonly maxConnectionMs: number;
  readonly maxMessageBytes: number;
  closing = false;

  private readonly routes: Record<string, LambdaLike>;
  private readonly twoWay: ReadonlySet<string>;
  private readonly mocks: Map<string, MockRoute>;
  private readonly functionNames = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly reportError: (error: unknown, routeKey: string, connectionId: string) => void;

  constructor(
    readonly api: ApiInfo,
    private readonly port: number,
    private readonly options: GatewayOptions,
  ) {
    this.routes = options.routes;
    this.twoWay = options.twoWayRoutes;
    this.mocks = new Map((options.mockRoutes ?? []).map((m) => [m.routeKey, m]));
    ({ idleTimeoutMs: this.idleTimeoutMs, maxConnectionMs: this.maxConnectionMs, maxMessageBytes: this.maxMessageBytes } = resolveLimits(options));
    this.reportError =
      options.onHandlerError ??
      ((error, routeKey, connectionId) => {
        const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.stderr.write(`[gateway] ${routeKey} failed for connection ${connectionId}: ${detail}\n`);
      });
  }

  private functionName(routeKey: string): string {
    let name = this.functionNames.get(routeKey);
    if (name === undefined) {
      name = this.options.functionNames?.[routeKey] ?? `${this.api.apiId}-${routeKey.replace(/^\$/, '')}`;
      this.functionNames.set(routeKey, name);
    }
    return name;
  }

  /** Remembers a promise until it settles, so close() can wait for it. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    const forget = () => this.inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Calls a handler with a fresh Lambda context; a synchronous throw becomes a rejection. */
  invoke(routeKey: string, handler: LambdaLike, event: unknown): Promise<unknown> {
    const context = lambdaContext({
      functionName: this.functionName(routeKey),
      timeoutMs: this.options.functionTimeoutMs ?? 29_000,
      region: this.api.region,
      accountId: this.api.accountId,
    });
    return this.track(Promise.resolve().then(() => handler(event, context)));
  }

  /** Tells the onActivity observer, if any; an observer that throws never stops the gateway. */
  observe(activity: GatewayActivity): void {
    if (!this.options.onActivity) return;
    try {
      this.options.onActivity(activity);
    } catch (error) {
      this.reportError(error, 'onActivity', 'connectionId' in activity ? activity.connectionId : '-');
    }
  }

  /** Runs the authorizer and $connect for a handshake. Nothing is registered yet. */
  admit(handshake: Handshake): Promise<Admission> {
    return this.track(
      this.runAdmission(handshake).then((admission) => {
        if (!admission.ok) this.observe({ type: 'refused', status: admission.status, sourceIp: handshake.sourceIp, by: admission.by });
        return admission;
      }),
    );
  }

  private async runAdmission(handshake: Handshake): Promise<Admission> {
    const now = Date.now();
    const userAgent = handshake.headerPairs.find(([name]) => name.toLowerCase() === 'user-agent')?.[1];
    const info: ConnectionInfo = { connectionId: awsId(), connectedAt: now, sourceIp: handshake.sourceIp, ...(userAgent !== undefined ? { userAgent } : {}) };
    const pairs = handshakeHeaderPairs(handshake.headerPairs, handshake.sourceIp, this.port, now);
    const query = queryMaps(handshake.rawQuery);
    let by: 'authorizer' | '$connect' = 'authorizer';
    const reject = (status: number, body: string, contentType = 'application/json'): Admission => ({ ok: false, status, body, contentType, by });

    if (this.options.authorizer) {
      const event = authorizerEvent(this.api, info, headerMaps(pairs), query);
      let outcome: { result?: unknown; error?: unknown };
      try {
        outcome = { result: await this.invoke('authorizer', this.options.authorizer, event) };
      } catch (error) {
        outcome = { error: error ?? new Error('authorizer rejected with no reason') };
      }
      const verdict = judgeAuthorizerResult(outcome, connectMethodArn(this.api));
      if (!verdict.allowed) {
        if (verdict.problem) this.reportError(new Error(verdict.problem), 'authorizer', info.connectionId);
        return reject(verdict.status, jsonMessage(verdict.message));
      }
      info.authorizer = verdict.authorizer;
    }

    by = '$connect';
    const connect = this.routes.$connect;
    if (!connect) return { ok: true, info, responseHeaders: [] };
    let result: unknown;
    try {
      result = await this.invoke('$connect', connect, connectEvent(this.api, info, headerMaps(pairs, CONNECT_SKIPPED), query));
    } catch (error) {
      this.reportError(error, '$connect', info.connectionId);
      return reject(502, jsonMessage(HANDLER_FAILED_MESSAGE));
    }
    const status = statusOf(result);
    if (status === undefined) {
      this.reportError(new Error(`$connect returned an invalid statusCode: ${JSON.stringify((result as { statusCode?: unknown }).statusCode)}`), '$connect', info.connectionId);
      return reject(502, jsonMessage(HANDLER_FAILED_MESSAGE));
    }
    if (status < 200 || status > 299) {
      const body = (result as { body?: unknown } | undefined)?.body;
      return reject(status, typeof body === 'string' ? body : '', 'text/plain');
    }
    const headers = responseHeadersOf(result);
    if (typeof headers === 'string') {
      this.reportError(new Error(headers), '$connect', info.connectionId);
      return reject(502, jsonMessage(HANDLER_FAILED_MESSAGE));
    }
    return { ok: true, info, responseHeaders: headers };
  }

  /** Registers an admitted connection; from now on the management API can reach it. */
  open(info: ConnectionInfo, transport: Transport): Connection {
    const conn: Connection = { ...info, lastActiveAt: Date.now(), transport, ended: false };
    this.connections.set(conn.connectionId, conn);
    this.observe({ type: 'connect', connectionId: conn.connectionId, sourceIp: conn.sourceIp, ...(conn.authorizer ? { authorizer: conn.authorizer } : {}) });
    if (this.closing) this.serverClose(conn, CLOSE.goingAway);
    return conn;
  }

  /**
   * $connect accepted a client that then could not be upgraded (it went away, or the gateway is
   * closing). Its $connect may have stored rows, so $disconnect still runs, once.
   */
  abandon(info: ConnectionInfo, why: CloseInfo): Promise<void> {
    const conn: Connection = { ...info, lastActiveAt: info.connectedAt, transport: NO_TRANSPORT, ended: false };
    return this.end(conn, why);
  }

  /**
   * The connection is over (client close, dead socket, server close). Idempotent: the first call
   * wins. The connection leaves the registry before $disconnect runs, so posts to it answer 410.
   */
  end(conn: Connection, why: CloseInfo): Promise<void> {
    if (conn.ended) return Promise.resolve();
    conn.ended = true;
    this.connections.delete(conn.connectionId);
    conn.transport.ended(why);
    this.observe({ type: 'disconnect', connectionId: conn.connectionId, code: why.code, reason: why.reason, connectedAt: conn.connectedAt });
    const disconnect = this.routes.$disconnect;
    if (!disconnect) return Promise.resolve();
    return this.invoke('$disconnect', disconnect, disconnectEvent(this.api, conn, why.code, why.reason)).then(
      () => undefined,
      (error) => this.reportError(error, '$disconnect', conn.connectionId),
    );
  }

  /** The gateway closes the connection: close frame first, then $disconnect. */
  serverClose(conn: Connection, why: CloseInfo): Promise<void> {
    if (conn.ended) return Promise.resolve();
    conn.transport.terminate(why.code, why.reason);
    return this.end(conn, why);
  }

  /** Sends a frame the gateway itself produced (route response, error frame) unless the connection ended. */
  private reply(conn: Connection, frame: string): string | undefined {
    if (conn.ended) return undefined;
    conn.transport.deliver(frame);
    return frame;
  }

  /**
   * A text message from the client: route selection, then the mock answer, the handler's route
   * response, or API Gateway's own error frame. Resolves with the frame sent back, if any.
   */
  async receive(conn: Connection, body: string): Promise<string | undefined> {
    conn.lastActiveAt = Date.now();
    // Own keys only: an action named `toString` or `__proto__` is no route (it goes to $default).
    const routeKey = selectRouteKey(body, (key) => Object.hasOwn(this.routes, key) || this.mocks.has(key));
    const mock = this.mocks.get(routeKey);
    if (mock) return this.reply(conn, mock.responseTemplate);
    const handler = Object.hasOwn(this.routes, routeKey) ? this.routes[routeKey] : undefined;
    if (!handler) return this.reply(conn, gatewayErrorFrame(NO_ROUTE_MESSAGE, conn.connectionId, awsId()));
    const event = messageEvent(this.api, conn, routeKey, body);
    let result: unknown;
    try {
      result = await this.invoke(routeKey, handler, event);
    } catch (error) {
      this.reportError(error, routeKey, conn.connectionId);
      const sent = this.reply(conn, gatewayErrorFrame(HANDLER_FAILED_MESSAGE, conn.connectionId, event.requestContext.requestId));
      this.observe({ type: 'route', connectionId: conn.connectionId, routeKey, body, ...(sent !== undefined ? { reply: sent } : {}), failed: true });
      return sent;
    }
    const responseBody = (result as { body?: unknown } | null | undefined)?.body;
    const sent = this.twoWay.has(routeKey) && typeof responseBody === 'string' ? this.reply(conn, responseBody) : undefined;
    this.observe({ type: 'route', connectionId: conn.connectionId, routeKey, body, ...(sent !== undefined ? { reply: sent } : {}), failed: false });
    return sent;
  }

  /** PostToConnection: false when the client can no longer receive (answer 410). */
  post(conn: Connection, data: Buffer): boolean {
    if (!conn.transport.deliver(data)) return false;
    conn.lastActiveAt = Date.now();
    return true;
  }

  /** Closes (1001) every connection idle too long or open too long. */
  sweep(now = Date.now()): void {
    for (const conn of this.connections.values()) {
      if (now - conn.lastActiveAt >= this.idleTimeoutMs || now - conn.connectedAt >= this.maxConnectionMs) {
        this.serverClose(conn, CLOSE.goingAway);
      }
    }
  }

  /** A timer close() can cut short (management API latency). */
  sleep(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleepers.add(sleeper);
    });
  }

  /** Ends every sleep now (used by close()). */
  wakeSleepers(): void {
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.wake();
    }
    this.sleepers.clear();
  }

  /** Waits until no handler, admission or $disconnect is running. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}

const NO_TRANSPORT: Transport = {
  deliver: () => false,
  terminate: () => undefined,
  ended: () => undefined,
};
