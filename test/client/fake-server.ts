/**
 * A tiny in-test server speaking the client protocol, with knobs the real gateway doesn't have
 * (delay replies, withhold pongs, inspect handshakes). Listens on 127.0.0.1, port 0.
 *
 * It keeps each topic's stream as the real server does (DESIGN.md, "Message continuity"): publish
 * gives the next seq (a redelivered id keeps its seq), retains the message (up to `retain` per
 * topic) and fans it out; a subscribe subscribes first, then for each topic of `since` replays
 * the retained messages after it (a few at a time, so they may arrive slightly out of order, and
 * live messages may interleave), then replies with `positions` and `recovered`. Tests can also
 * give a seq out without using it (a hole), hold a message in flight, drop retained messages, or
 * reset a topic's epoch.
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
  /** Refuse a handshake with this HTTP status (as the $connect authorizer does), or accept it (undefined). */
  refuseHandshake?: (request: IncomingMessage) => number | undefined;
  /** false: an older server, without seq, epoch, positions, recovered or replay. Default true. */
  continuity?: boolean;
  /** Messages retained per topic (older ones are dropped, as retention does). Default 1000. */
  retain?: number;
  /** Replayed messages posted at once (their order on the wire is shuffled within each batch). Default 4. */
  replayConcurrency?: number;
  /** Most messages one subscribe replays per topic (the server's deadline); positions then name the last one replayed. */
  replayLimit?: number;
  /** Answers on one connection may overtake each other (a replay's reply comes after a later request's answer), as Lambdas do. Default false: in turn. */
  concurrentAnswers?: boolean;
  /** Called with each subscribed reply just before it goes out. */
  onReply?: (conn: FakeConnection, reply: SubscribedFrame) => void;
  /**
   * Answers a client publish (`answer` sends a frame, whenever the test likes). Default: at once,
   * `published` with the id the relay would give (`c.<16 characters>.<the request's id>`).
   */
  onPublish?: (conn: FakeConnection, request: PublishRequest, answer: (frame: Record<string, unknown>) => void) => void;
}

export interface PublishRequest {
  action: 'publish';
  topic: string;
  data: unknown;
  id?: string;
}

/** The id the relay gives a client publish (the principal's hash is a fixed stand-in here). */
export const fakeClientMessageId = (id: string) => `c.FAKEprincipal000.${id}`;

export interface SubscribedFrame {
  type: 'subscribed';
  topics: string[];
  positions?: Record<string, { epoch: string; seq: number }>;
  recovered?: Record<string, boolean>;
}

interface Since {
  epoch?: string;
  seq: number;
}

/** One topic's stream: head (the last seq given out), retained frames, the seq each id got. */
interface Stream {
  epoch: string;
  head: number;
  retained: Map<number, string>;
  /** The highest seq retention has dropped. */
  droppedThrough: number;
  claims: Map<string, number>;
}

/** A message given a seq but not yet written or sent (see FakeServer.reserve). */
export interface InFlight {
  seq: number;
  /** Writes it to history and sends it to the subscribers (as the publish that held it would). */
  land(options?: PublishOptions): number;
}

export interface PublishOptions {
  /** Only to these connections (the others lose it on the way). Default: every subscriber. */
  to?: (conn: FakeConnection) => boolean;
}

let epochs = 0;

export class FakeServer {
  readonly connections: FakeConnection[] = [];
  /** Handshakes refused by `refuseHandshake`. */
  refusals = 0;
  private readonly streams = new Map<string, Stream>();
  private readonly queues = new Map<FakeConnection, ((done: () => void) => void)[]>();
  private wss!: WebSocketServer;
  url = '';

  constructor(private readonly options: FakeServerOptions = {}) {}

  async start(): Promise<this> {
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (offered) => (this.options.protocol && offered.has(this.options.protocol) ? this.options.protocol : false),
      verifyClient: (info, done) => {
        const status = this.options.refuseHandshake?.(info.req);
        if (status === undefined) return done(true);
        this.refusals++;
        done(false, status);
      },
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
    const body = JSON.parse(text) as { action: string; topics?: string[]; since?: Record<string, Since> };
    conn.received.push(body);
    const reply = (frame: { type: string; topics?: string[]; [field: string]: unknown }) => {
      if (frame.type !== 'pong') conn.log.push(`send ${frame.type} ${frame.topics?.join(',') ?? ''}`.trimEnd());
      if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(JSON.stringify(frame));
    };
    if (body.action === 'ping') {
      if (this.options.pong !== false) reply({ type: 'pong' });
      return;
    }
    if (body.action === 'publish') {
      const request = body as unknown as PublishRequest;
      conn.log.push(`recv publish ${request.topic} ${request.id ?? ''}`.trimEnd());
      if (this.options.onPublish) return this.options.onPublish(conn, request, (frame) => reply(frame as { type: string }));
      return reply({ type: 'published', topic: request.topic, id: fakeClientMessageId(request.id ?? 'none') });
    }
    const topics = body.topics ?? [];
    if (body.action !== 'subscribe' && body.action !== 'unsubscribe') {
      return reply({ type: 'error', code: 'UNKNOWN_ACTION', message: `no route for ${body.action}` });
    }
    const action = body.action;
    conn.log.push(`recv ${action} ${topics.join(',')}`);
    // Each answer calls `done` once it has all gone out (a replay takes a few turns of the event loop).
    const answer = (done: () => void) => {
      if (action === 'unsubscribe') {
        topics.forEach((t) => conn.topics.delete(t));
        reply({ type: 'unsubscribed', topics });
        return done();
      }
      const refused = topics.filter((t) => this.options.refuse?.(t));
      if (refused.length > 0) {
        reply({ type: 'error', code: 'INVALID_TOPIC', message: 'bad topic', topics: refused });
        return done();
      }
      // Subscribe first, then replay: nothing published meanwhile falls between the two.
      topics.forEach((t) => conn.topics.add(t));
      if (this.options.continuity === false) {
        this.options.onSubscribe?.(conn, topics);
        reply({ type: 'subscribed', topics });
        return done();
      }
      const { answer, batches } = this.replay(topics, body.since ?? {});
      const finish = () => {
        this.options.onSubscribe?.(conn, topics);
        const frame: SubscribedFrame = { type: 'subscribed', topics, ...answer };
        this.options.onReply?.(conn, frame);
        reply(frame as unknown as { type: string; topics: string[] });
        done();
      };
      // Posted concurrently: replayed frames land in any order within a batch, live messages may come between batches.
      const post = (i: number): void => {
        if (i === batches.length) return finish();
        for (const frame of shuffle(batches[i])) if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(frame);
        setImmediate(() => post(i + 1));
      };
      post(0);
    };
    const how = this.options.answer?.(conn, { action, topics }) ?? (action === 'subscribe' ? { delayMs: this.options.delayFor?.(topics) ?? 0 } : 'reply');
    if (how === 'withhold') return void conn.log.push(`withhold ${action} ${topics.join(',')}`);
    if (how === 'gateway-error') {
      return this.inTurn(conn, (done) => {
        conn.log.push(`send gateway-error`);
        // API Gateway's answer when the route's integration fails; it names no request.
        conn.socket.send(JSON.stringify({ message: 'Internal server error', connectionId: 'fake-connection=', requestId: 'fake-request=' }));
        done();
      });
    }
    if (how === 'internal') {
      return this.inTurn(conn, (done) => {
        reply({ type: 'error', code: 'INTERNAL', message: 'the server could not complete this request; it is safe to retry' });
        done();
      });
    }
    if (how === 'reply' || how.delayMs <= 0) return this.inTurn(conn, answer);
    setTimeout(() => this.inTurn(conn, answer), how.delayMs);
  }

  /**
   * Runs an answer once the connection's earlier answers have gone out (unless
   * `concurrentAnswers`): a replay then holds back the answers after it, so which reply comes
   * first is up to the test, not to the event loop.
   */
  private inTurn(conn: FakeConnection, task: (done: () => void) => void): void {
    if (this.options.concurrentAnswers) return task(() => undefined);
    const queue = (this.queues.get(conn) ?? this.queues.set(conn, []).get(conn))!;
    queue.push(task);
    if (queue.length > 1) return;
    const next = (): void => {
      const head = queue[0];
      if (!head) return;
      let finished = false;
      head(() => {
        if (finished) return;
        finished = true;
        queue.shift();
        next();
      });
    };
    next();
  }

  /**
   * What each topic of `since` missed (frames in batches, to post before the reply), and where
   * every topic stands: the real server's rules (recovered only when the epoch matches, the
   * position is not ahead of the head and nothing after it was dropped; else nothing is replayed).
   */
  private replay(topics: string[], since: Record<string, Since>): { answer: Omit<SubscribedFrame, 'type' | 'topics'>; batches: string[][] } {
    const positions: Record<string, { epoch: string; seq: number }> = {};
    const recovered: Record<string, boolean> = {};
    const batches: string[][] = [];
    const size = this.options.replayConcurrency ?? 4;
    for (const topic of topics) {
      const stream = this.stream(topic);
      positions[topic] = { epoch: stream.epoch, seq: stream.head };
      const from = since[topic];
      if (!from) continue;
      const ok = (from.epoch === undefined || from.epoch === stream.epoch) && from.seq <= stream.head && from.seq >= stream.droppedThrough;
      recovered[topic] = ok;
      if (!ok) continue;
      let seqs = [...stream.retained.keys()].filter((seq) => seq > from.seq).sort((a, b) => a - b);
      if (this.options.replayLimit !== undefined && seqs.length > this.options.replayLimit) {
        seqs = seqs.slice(0, this.options.replayLimit);
        positions[topic] = { epoch: stream.epoch, seq: seqs[seqs.length - 1] ?? from.seq };
      }
      for (let i = 0; i < seqs.length; i += size) batches.push(seqs.slice(i, i + size).map((seq) => stream.retained.get(seq)!));
    }
    return { answer: { positions, recovered }, batches };
  }

  private stream(topic: string): Stream {
    let stream = this.streams.get(topic);
    if (!stream) this.streams.set(topic, (stream = { epoch: `e${++epochs}`, head: 0, retained: new Map(), droppedThrough: 0, claims: new Map() }));
    return stream;
  }

  /** Where `topic` stands: its epoch and head. */
  position(topic: string): { epoch: string; seq: number } {
    const stream = this.stream(topic);
    return { epoch: stream.epoch, seq: stream.head };
  }

  /** Gives `id` on `topic` its seq (a redelivered id keeps its first one) without writing or sending it yet: a message in flight. */
  reserve(topic: string, id: string, data: unknown): InFlight {
    const stream = this.stream(topic);
    const claimed = stream.claims.get(id);
    const seq = claimed ?? ++stream.head;
    stream.claims.set(id, seq);
    const epoch = stream.epoch;
    return {
      seq,
      land: (options = {}) => {
        const message = this.options.continuity === false ? { type: 'message', topic, id, data } : { type: 'message', topic, id, seq, epoch, data };
        const frame = JSON.stringify({ ...message, publishedAt: new Date().toISOString() });
        if (this.options.continuity !== false && this.streams.get(topic) === stream) this.retain(stream, seq, frame);
        const targets = this.open().filter((c) => c.topics.has(topic) && (options.to?.(c) ?? true));
        targets.forEach((c) => c.socket.send(frame));
        return targets.length;
      },
    };
  }

  /** Publishes to `topic` (next seq, retained, sent to every open connection subscribed); returns how many it was sent to. */
  publish(topic: string, id: string, data: unknown, options: PublishOptions = {}): number {
    return this.reserve(topic, id, data).land(options);
  }

  /** Gives a seq out and never uses it: a hole in the stream. */
  skip(topic: string): number {
    return ++this.stream(topic).head;
  }

  /** Retention drops the messages of `topic` up to `seq`. */
  expire(topic: string, seq: number): void {
    const stream = this.stream(topic);
    for (const s of [...stream.retained.keys()]) if (s <= seq) stream.retained.delete(s);
    stream.droppedThrough = Math.max(stream.droppedThrough, seq);
  }

  /** The topic's position is lost: a new epoch, seqs from 1 again, no history. */
  resetEpoch(topic: string): string {
    this.streams.delete(topic);
    return this.stream(topic).epoch;
  }

  private retain(stream: Stream, seq: number, frame: string): void {
    if (stream.retained.has(seq)) return;
    stream.retained.set(seq, frame);
    const limit = this.options.retain ?? 1000;
    while (stream.retained.size > limit) this.expire([...this.streams.entries()].find(([, s]) => s === stream)![0], Math.min(...stream.retained.keys()));
  }

  open(): FakeConnection[] {
    return this.connections.filter((c) => c.socket.readyState === c.socket.OPEN);
  }

  /** Sends a raw frame to one connection. */
  send(conn: FakeConnection, frame: unknown): void {
    conn.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
