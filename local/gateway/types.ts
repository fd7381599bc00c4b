/**
 * Public types of the local WebSocket gateway (contract 5 of the brief, plus the additions marked
 * "added").
 */
import type { MockRoute } from '../../protocol/routes';

/** A Lambda handler as the gateway calls it: `(event, context) => Promise<result>`. */
export type LambdaLike = (event: any, context: any) => Promise<any>;

/** Faults applied to management API (`@connections`) calls only. */
export interface FaultOptions {
  /** Milliseconds added to every call before it is answered. */
  latencyMs?: number;
  /** Probabilities (0..1) of answering 410 GoneException, 429 LimitExceededException, 500. */
  goneRate?: number;
  throttleRate?: number;
  errorRate?: number;
  /** Token bucket: `perSecond` tokens a second, at most `burst` (default: perSecond) at once; 429 when empty. */
  rateLimit?: { perSecond: number; burst?: number };
}

export interface GatewayOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Default 'local'. */
  stage?: string;
  /** Default: 10 random lowercase letters and digits. */
  apiId?: string;
  /** routeKey -> handler, e.g. built from LAMBDA_ROUTES. */
  routes: Record<string, LambdaLike>;
  /** Route keys whose result `body` goes back to the sender. */
  twoWayRoutes: ReadonlySet<string>;
  /** Routes answered by a MOCK integration (ping -> pong), no handler call. */
  mockRoutes?: readonly MockRoute[];
  /** REQUEST authorizer run before $connect. */
  authorizer?: LambdaLike;
  /** Close a connection idle this long (1001). Default IDLE_TIMEOUT_MS (10 min). */
  idleTimeoutMs?: number;
  /** Close every connection after this long (1001). Default MAX_CONNECTION_MS (2 h). */
  maxConnectionMs?: number;
  /** Largest client message and PostToConnection body. Default MAX_MESSAGE_BYTES (128 KB). */
  maxMessageBytes?: number;
  faults?: FaultOptions;
  /** (added) Region and account used in ARNs (authorizer methodArn, Lambda context). */
  region?: string;
  accountId?: string;
  /** (added) Lambda timeout the handlers' context reports through getRemainingTimeInMillis. Default 29 000. */
  functionTimeoutMs?: number;
  /** (added) Function names for the Lambda context, by route key (and 'authorizer'). Default `<apiId>-<route>`. */
  functionNames?: Record<string, string>;
  /**
   * (added) Which pages may open a connection, by their `Origin` header (undefined when the client
   * sent none: not a browser). Refused handshakes get 403 before the authorizer runs. Default:
   * every origin, as API Gateway (which checks none).
   */
  allowOrigin?: (origin: string | undefined) => boolean;
  /**
   * (added) The most bytes a connection may have waiting to be sent (a client that stopped
   * reading): a frame beyond it closes the connection (1008, $disconnect runs) and its post
   * answers 410. Default SEND_BUFFER_LIMIT_BYTES (4 MiB).
   */
  maxBufferedBytes?: number;
  /**
   * (added) Where handler failures are reported (a thrown $connect, message route or $disconnect
   * handler, a malformed authorizer answer). Default: one line on stderr.
   */
  onHandlerError?: (error: unknown, routeKey: string, connectionId: string) => void;
  /**
   * (added) Told what the gateway did: connections admitted, refused and ended, and each message a
   * route function answered (the local mode's terminal lines). What it throws is reported as a
   * handler error; the gateway goes on.
   */
  onActivity?: (activity: GatewayActivity) => void;
}

/** (added) One thing the gateway did, as onActivity hears of it. */
export type GatewayActivity =
  | { type: 'connect'; connectionId: string; sourceIp: string; authorizer?: Record<string, string> }
  /** A handshake refused with this HTTP status: by the origin check, the authorizer, or $connect. */
  | { type: 'refused'; status: number; sourceIp: string; by: 'origin' | 'authorizer' | '$connect' }
  | { type: 'disconnect'; connectionId: string; code: number; reason: string; connectedAt: number }
  /**
   * A message a route function ran for (mock routes such as ping are left out): the client's
   * body (untrusted), the frame sent back if any, and whether the function failed.
   */
  | { type: 'route'; connectionId: string; routeKey: string; body: string; reply?: string; failed: boolean };

export interface GatewayStats {
  /** POST /@connections calls received, whatever their answer. */
  posts: number;
  /** POSTs answered 200 (the frame went to the client). */
  delivered: number;
  /** Management calls answered 410 (injected or real). */
  gone: number;
  /** Management calls answered 429 (rate limit or injected). */
  throttled: number;
  /** Management calls answered 500 (injected). */
  errors: number;
  /** Connections open now (sockets and virtual). */
  connections: number;
  /** (added) POSTs answered 413. */
  tooLarge: number;
  /** (added) DELETEs answered 204. */
  deletes: number;
}

/** (added) Why a connection ended, as its $disconnect event reports it. */
export interface CloseInfo {
  code: number;
  reason: string;
}

export interface VirtualConnection {
  connectionId: string;
  /** Every frame the gateway sent to this connection: route responses, error frames and posts. */
  received: string[];
  onMessage(cb: (data: string) => void): void;
  /** Sends a text message through route selection; resolves with the frame sent back for it, if any. */
  send(text: string): Promise<string | undefined>;
  /** Client-side close (default 1000, ''); resolves once $disconnect has run. */
  close(code?: number, reason?: string): Promise<void>;
  /** (added) Called once when the connection ends, whoever ended it. */
  onClose(cb: (info: CloseInfo) => void): void;
  /** (added) Set once the connection has ended. */
  readonly closed: CloseInfo | undefined;
}

export interface ConnectVirtualOptions {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** (added) Default 127.0.0.1. */
  sourceIp?: string;
}

export interface Gateway {
  /** ws://127.0.0.1:PORT/STAGE */
  url: string;
  /** http://127.0.0.1:PORT/STAGE (same HTTP server) */
  managementEndpoint: string;
  port: number;
  stage: string;
  apiId: string;
  /** Replaces the fault options (an empty object turns every fault off). Throws RangeError on bad values. */
  setFaults(f: FaultOptions): void;
  stats(): GatewayStats;
  /**
   * A socket-less connection that goes through the authorizer, $connect, routes, the management
   * API and $disconnect exactly like a real one. Rejects with a ConnectRejectedError (statusCode)
   * when the authorizer or $connect refuses it.
   */
  connectVirtual(opts?: ConnectVirtualOptions): Promise<VirtualConnection>;
  /** Closes every connection (1001, running $disconnect), the HTTP server and every timer. */
  close(): Promise<void>;
}

/** A refused handshake (authorizer deny, non-2xx $connect, ...) of a virtual connection. */
export class ConnectRejectedError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`Unexpected server response: ${statusCode}`);
    this.name = 'ConnectRejectedError';
  }
}
