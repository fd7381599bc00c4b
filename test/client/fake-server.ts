/**
 * A tiny in-test server speaking the client protocol, with knobs the real gateway doesn't have
 * (delay replies, withhold pongs, inspect handshakes). Listens on 127.0.0.1, port 0.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeConnection {
  socket: WebSocket;
  request: IncomingMessage;
  topics: Set<string>;
  received: unknown[];
  /** What happened, in order: `recv <action> <topics>` and `send <type> <topics>`. */
  log: string[];
}

/**
 * How to answer one subscribe/unsubscribe: at once (`reply`), never (`withhold`, a lost reply),
 * with API Gateway's own error frame (`gateway-error`, what a failed integration produces), with
 * the handlers' INTERNAL error reply (`internal`), or
 * later (`{ delayMs }`; the change is applied when the answer goes out, as a Lambda would).
 */
export type Answer = 'reply' | 'withhold' | 'gateway-error' | 'internal' | { delayMs: number };

export interface FakeServerOptions {
  /** Topics refused with INVALID_TOPIC. */
  refuse?: (topic: string) => boolean;
  /** Milliseconds to hold the reply to a subscribe request for these topics. */
  delayFor?: (topics: string[]) => number;
  /** Answer pings? */
  pong?: boolean;
  /** Called for each subscribe before the reply is sent. */
  onSubscribe?: (conn: FakeConnection, topics: string[]) => void;
  /** Pick a subprotocol (echo) when the client offers some. */
  protocol?: string;
  /** Decides how each subscribe/unsubscribe is answered (default `reply`, or `delayFor`'s delay). */
  answer?: (conn: FakeConnection, request: { action: 'subscribe' | 'unsubscribe'; topics: string[] }) => Answer;
  /** Called when a client connects (e.g. to close it at once). */
  onConnection?: (conn: FakeConnection) => void;
}

export class FakeServer {
  readonly connections: FakeConnection[] = [];
  private wss!: WebSocketServer;
  url = '';

  constructor(private readonly options: FakeServerOptions = {}) {}

  async start(): Promise<this> {
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (offered) => (this.options.protocol && offered.has(this.options.protocol) ? this.options.protocol : false),
    });
    await new Promise<void>((resolve) => this.wss.once('listening', () => resolve()));
    this.url = `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/local`;
    this.wss.on('connection', (socket, request) => {
      const conn: FakeConnection = { socket, request, topics: new Set(), received: [], log: [] };
      this.connections.push(conn);
      socket.on('message', (raw) => this.onMessage(conn, raw.toString()));
      this.options.onConnection?.(conn);
    });
    return this;
  }

  private onMessage(conn: FakeConnection, text: string): void {
    const body = JSON.parse(text) as { action: string; topics?: string[] };
    conn.received.push(body);
    const reply = (frame: { type: string; topics?: string[]; [field: string]: unknown }) => {
      if (frame.type !== 'pong') conn.log.push(`send ${frame.type} ${frame.topics?.join(',') ?? ''}`.trimEnd());
      if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(JSON.stringify(frame));
    };
    if (body.action === 'ping') {
      if (this.options.pong !== false) reply({ type: 'pong' });
      return;
    }
    const topics = body.topics ?? [];
    if (body.action !== 'subscribe' && body.action !== 'unsubscribe') {
      return reply({ type: 'error', code: 'UNKNOWN_ACTION', message: `no route for ${body.action}` });
    }
    const action = body.action;
    conn.log.push(`recv ${action} ${topics.join(',')}`);
    const answer = () => {
      if (action === 'unsubscribe') {
        topics.forEach((t) => conn.topics.delete(t));
        return reply({ type: 'unsubscribed', topics });
      }
      const refused = topics.filter((t) => this.options.refuse?.(t));
      if (refused.length > 0) return reply({ type: 'error', code: 'INVALID_TOPIC', message: 'bad topic', topics: refused });
      topics.forEach((t) => conn.topics.add(t));
      this.options.onSubscribe?.(conn, topics);
      reply({ type: 'subscribed', topics });
    };
    const how = this.options.answer?.(conn, { action, topics }) ?? (action === 'subscribe' ? { delayMs: this.options.delayFor?.(topics) ?? 0 } : 'reply');
    if (how === 'withhold') return void conn.log.push(`withhold ${action} ${topics.join(',')}`);
    if (how === 'gateway-error') {
      conn.log.push(`send gateway-error`);
      // API Gateway's answer when the route's integration fails; it names no request.
      return conn.socket.send(JSON.stringify({ message: 'Internal server error', connectionId: 'fake-connection=', requestId: 'fake-request=' }));
    }
    if (how === 'internal') return reply({ type: 'error', code: 'INTERNAL', message: 'the server could not complete this request; it is safe to retry' });
    if (how === 'reply' || how.delayMs <= 0) return answer();
    setTimeout(answer, how.delayMs);
  }

  /** Sends a delivered message to every open connection subscribed to `topic`; returns how many. */
  publish(topic: string, id: string, data: unknown): number {
    const frame = JSON.stringify({ type: 'message', topic, id, data, publishedAt: new Date().toISOString() });
    const targets = this.open().filter((c) => c.topics.has(topic));
    targets.forEach((c) => c.socket.send(frame));
    return targets.length;
  }

  open(): FakeConnection[] {
    return this.connections.filter((c) => c.socket.readyState === c.socket.OPEN);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
