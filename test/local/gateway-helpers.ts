/** Shared helpers of the gateway tests: recording handlers, real ws clients, the real management SDK client. */
import { ApiGatewayManagementApiClient, type ApiGatewayManagementApiServiceException } from '@aws-sdk/client-apigatewaymanagementapi';
import WebSocket, { type ClientOptions } from 'ws';
import type { Gateway, GatewayOptions, LambdaLike } from '../../local/gateway';
import { startGateway } from '../../local/gateway';

export type AnyEvent = any;

/** Polls until `check` returns a value other than undefined/false (5 s at most). */
export async function waitFor<T>(check: () => T | undefined | false, what: string, limitMs = 5000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Handlers that record every event they get; each returns what `reply` says (default 200, no body). */
export class Recorder {
  readonly events: Array<{ routeKey: string; event: AnyEvent; context: AnyEvent }> = [];

  handler(routeKey: string, reply: (event: AnyEvent) => unknown = () => ({ statusCode: 200 })): LambdaLike {
    return async (event, context) => {
      this.events.push({ routeKey, event, context });
      return reply(event);
    };
  }

  of(routeKey: string): AnyEvent[] {
    return this.events.filter((e) => e.routeKey === routeKey).map((e) => e.event);
  }

  /** The $disconnect events of one connection. */
  disconnects(connectionId: string): AnyEvent[] {
    return this.of('$disconnect').filter((e) => e.requestContext.connectionId === connectionId);
  }

  waitForDisconnect(connectionId: string): Promise<AnyEvent> {
    return waitFor(() => this.disconnects(connectionId)[0], `$disconnect of ${connectionId}`);
  }
}

/** A gateway with $connect, $disconnect and an echoing two-way $default, all recorded. */
export function echoRoutes(rec: Recorder): Pick<GatewayOptions, 'routes' | 'twoWayRoutes'> {
  return {
    routes: {
      $connect: rec.handler('$connect'),
      $disconnect: rec.handler('$disconnect'),
      $default: rec.handler('$default', (e) => ({ statusCode: 200, body: `echo:${e.body}` })),
    },
    twoWayRoutes: new Set(['$default']),
  };
}

/** Starts a gateway and remembers it so `closeAll` can close it in an after hook. */
export class Gateways {
  private readonly open: Gateway[] = [];

  async start(options: GatewayOptions): Promise<Gateway> {
    const gw = await startGateway({ onHandlerError: () => undefined, ...options });
    this.open.push(gw);
    return gw;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((gw) => gw.close()));
  }
}

/** A real ws client that collects what it receives. */
export class Client {
  readonly messages: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(
    readonly ws: WebSocket,
  ) {
    ws.on('message', (data) => this.messages.push(data.toString()));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
  }

  static async connect(url: string, protocols?: string[], options?: ClientOptions): Promise<Client> {
    const client = new Client(new WebSocket(url, protocols, options));
    await client.opened;
    return client;
  }

  /** The next message after the `n` already received. */
  nth(n: number): Promise<string> {
    return waitFor(() => this.messages[n], `message #${n + 1}`);
  }
}

/** Tries a handshake that should fail; resolves with the HTTP status and body the client saw. */
export function refusedHandshake(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols, { headers: options.headers });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the handshake succeeded'));
    });
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
  });
}

export function managementClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // One attempt: the tests look at each answer, not at the SDK's retries.
    maxAttempts: 1,
  });
}

/** The connection id of the most recent $connect. */
export function lastConnectionId(rec: Recorder): string {
  const connects = rec.of('$connect');
  return connects[connects.length - 1].requestContext.connectionId;
}

/** The error a management API call fails with (fails the test if the call succeeds). */
export async function sdkFailure(promise: Promise<unknown>): Promise<ApiGatewayManagementApiServiceException> {
  try {
    await promise;
  } catch (error) {
    return error as ApiGatewayManagementApiServiceException;
  }
  throw new Error('the call succeeded');
}
