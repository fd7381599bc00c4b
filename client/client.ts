/**
 * RealtimeClient: a WebSocket client for the realtime pub/sub service that survives what API
 * Gateway does to long-lived sockets (10-minute idle timeout, 2-hour cap, dropped connections),
 * and resumes each topic's stream where it left off (stream.ts).
 */
import { SUBPROTOCOL, TOKEN_QUERY_PARAMETER, TOKEN_SUBPROTOCOL_PREFIX } from '../protocol/auth.js';
import { CLIENT_MESSAGE_ID_PATTERN, ownIdOf } from '../protocol/client-message-id.js';
import { IDLE_TIMEOUT_MS, MAX_CONNECTION_MS } from '../protocol/limits.js';
import { backoffDelay } from './backoff.js';
import { TypedEmitter } from './emitter.js';
import { RealtimeError } from './errors.js';
import { parseServerFrame, type DeliveredMessage, type ErrorReply, type SincePosition, type StreamPosition } from './frames.js';
import { judgeHandshakeFailure } from './handshake.js';
import { PresenceRoom } from './presence.js';
import { RecentIds } from './recent-ids.js';
import { TopicStreams, type Gap } from './stream.js';
import { OPEN, describeSocketError, resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type MessageHandler = (message: DeliveredMessage) => void;
export type TokenSource = string | (() => string | Promise<string>);

export interface RealtimeClientOptions {
  /** The stack's `websocketUrl`, e.g. wss://abc123.execute-api.eu-west-1.amazonaws.com/prod. */
  url: string;
  /** A JWT, or a function returning one (called before every connection, so it can refresh). */
  token?: TokenSource;
  /**
   * How the token travels: offered as the `bearer.<jwt>` subprotocol (default: it stays out of
   * URLs, so out of access logs, proxies and browser history), or as the `token` query parameter.
   */
  tokenTransport?: 'query' | 'subprotocol';
  /** Time between `ping` heartbeats; must stay under API Gateway's 10-minute idle timeout. Default 5 min. */
  heartbeatIntervalMs?: number;
  /** Age at which the client replaces its socket, ahead of API Gateway's 2-hour cap. Default 1 h 50 min. */
  maxConnectionAgeMs?: number;
  /** Reconnect delays: full jitter over [0, min(maxDelayMs, baseDelayMs * 2^attempt)]. Defaults 500 ms / 30 s. */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number };
  /** How long to wait for a subscribe/unsubscribe reply. Default 30 s (API Gateway's integration timeout is 29 s). */
  requestTimeoutMs?: number;
  /** How many recent message ids to remember for de-duplication. Default 1000. */
  dedupSize?: number;
  /** How long a message after a gap in a topic's `seq` waits for the gap to fill before the client asks the server for it. Default 1000 ms. */
  gapWaitMs?: number;
  /** Positions to resume topics from (e.g. `client.positions()` saved before a page reload), used when each topic is first subscribed. */
  positions?: Record<string, SincePosition>;
  /** A WebSocket implementation; default the global one, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
}

export interface RealtimeClientEvents {
  state: (state: ConnectionState) => void;
  error: (error: RealtimeError) => void;
  /** Every delivered message (after de-duplication, in `seq` order per topic) for a topic this client is subscribed to. */
  message: (message: DeliveredMessage) => void;
  /** Messages of a topic that can no longer be delivered (`recovered: false`): reload the topic's state. */
  gap: (gap: Gap) => void;
  /** A topic's position advanced (a message delivered, a hole skipped, a gap's new start): what to store to resume from. */
  position: (topic: string, position: StreamPosition) => void;
}

export interface PublishOptions {
  /**
   * Makes the publish idempotent: sending the same id again (a retry after a lost reply) is
   * delivered once. 1-64 characters of A-Z a-z 0-9 _ . : -; default a random one.
   */
  id?: string;
}

export interface SubscribeOptions {
  /** Resume the topic from this position (unless it is already subscribed): what was published after it is replayed. */
  since?: SincePosition;
}

export const CLIENT_DEFAULTS = {
  heartbeatIntervalMs: IDLE_TIMEOUT_MS / 2,
  maxConnectionAgeMs: MAX_CONNECTION_MS - 10 * 60 * 1000,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  requestTimeoutMs: 30_000,
  dedupSize: 1000,
  gapWaitMs: 1000,
} as const;

/** Subscribe requests are split so no frame gets near API Gateway's 32 KB frame limit. */
const MAX_REQUEST_CHARS = 16 * 1024;

/** One socket and what the server has confirmed on it. */
interface Connection {
  socket: WebSocketLike;
  openedAt: number;
  topics: Set<string>;
  pending: PendingRequest[];
  /** A ping went out and nothing has come back since. */
  awaitingPong: boolean;
  closed: boolean;
  /** A request on it failed without a refusal: it is being replaced and gets no new subscriptions. */
  condemned: boolean;
  /** Client publishes waiting for their reply, oldest first; replies are matched by `id`. */
  publishes: PendingPublish[];
}

interface PendingPublish {
  topic: string;
  /** The id sent (the app's or a random one): the server's reply names it. */
  id: string;
  resolve(id: string): void;
  reject(error: RealtimeError): void;
}

interface PendingRequest {
  action: 'subscribe' | 'unsubscribe';
  topics: string[];
  /** The `since` a subscribe carried, per topic. */
  since?: Record<string, SincePosition>;
  timer: ReturnType<typeof setTimeout>;
  /** Called once with the reply, or with the client-side error that ended the request. */
  settle(outcome: Outcome): void;
  /** Resolves (never rejects) once the outcome has been applied. */
  settled: Promise<void>;
}

/** A success reply, the server's error reply, or the client-side error that ended a request. */
type Outcome = { topics: string[]; positions?: Record<string, StreamPosition>; recovered?: Record<string, boolean> } | ErrorReply | RealtimeError;

interface Waiter {
  resolve(): void;
  reject(error: RealtimeError): void;
}

export class RealtimeClient extends TypedEmitter<RealtimeClientEvents> {
  private readonly options: Required<Omit<RealtimeClientOptions, 'token' | 'WebSocket' | 'reconnect' | 'positions'>> &
    Pick<RealtimeClientOptions, 'token' | 'WebSocket'> & { baseDelayMs: number; maxDelayMs: number };
  private currentState: ConnectionState = 'closed';
  /** Topics the application wants, with their handlers. */
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  /** Presence rooms the app follows, by topic. */
  private readonly rooms = new Map<string, Set<PresenceRoom>>();
  /** The last known state of each presence topic held (from replies and events), to seed rooms opened later. */
  private readonly presenceStates = new Map<string, PresenceRoom>();
  /** subscribe() calls waiting for the server to confirm (or refuse) a topic. */
  private readonly topicWaiters = new Map<string, Waiter[]>();
  private readonly recent: RecentIds;
  private readonly streams: TopicStreams;
  /** Positions given in the options, each used once: when its topic is first subscribed. */
  private readonly initialPositions = new Map<string, SincePosition>();
  private current?: Connection;
  /** The replacement socket being prepared ahead of the connection cap. */
  private next?: Connection;
  private wantOpen = false;
  /** Bumped by close(), so a connection attempt started before it is discarded. */
  private generation = 0;
  /** Consecutive failures; reset only once a connection proves healthy (see onFrame's pong). */
  private attempt = 0;
  /** Handshakes in a row that failed before the socket opened. */
  private handshakeFailures = 0;
  /** Wanted topics whose last subscribe failed without a refusal: always sent alone, never awaited by a switch-over. */
  private readonly suspect = new Set<string>();
  private openWaiters: Waiter[] = [];
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private rotationTimer?: ReturnType<typeof setTimeout>;

  constructor(options: RealtimeClientOptions) {
    super();
    if (typeof options?.url !== 'string' || options.url === '') throw new TypeError('RealtimeClient: `url` is required');
    const positive = (name: string, value: number | undefined, fallback: number): number => {
      if (value === undefined) return fallback;
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`RealtimeClient: ${name} must be a positive number, got ${value}`);
      return value;
    };
    this.options = {
      url: options.url,
      token: options.token,
      tokenTransport: options.tokenTransport ?? 'subprotocol',
      heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs, CLIENT_DEFAULTS.heartbeatIntervalMs),
      maxConnectionAgeMs: positive('maxConnectionAgeMs', options.maxConnectionAgeMs, CLIENT_DEFAULTS.maxConnectionAgeMs),
      baseDelayMs: positive('reconnect.baseDelayMs', options.reconnect?.baseDelayMs, CLIENT_DEFAULTS.baseDelayMs),
      maxDelayMs: positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, CLIENT_DEFAULTS.maxDelayMs),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, CLIENT_DEFAULTS.requestTimeoutMs),
      dedupSize: positive('dedupSize', options.dedupSize, CLIENT_DEFAULTS.dedupSize),
      gapWaitMs: positive('gapWaitMs', options.gapWaitMs, CLIENT_DEFAULTS.gapWaitMs),
      WebSocket: options.WebSocket,
    };
    for (const [topic, position] of Object.entries(options.positions ?? {})) this.initialPositions.set(topic, checkPosition(`positions.${topic}`, position));
    this.recent = new RecentIds(Math.ceil(this.options.dedupSize));
    this.streams = new TopicStreams(this.options.gapWaitMs, {
      deliver: (message) => this.handOver(message),
      position: (topic, position) => this.report(this.emit('position', topic, position), 'a position listener', topic),
      gap: (gap) => this.report(this.emit('gap', gap), 'a gap listener', gap.topic),
      // Later, not from inside the stream's own bookkeeping.
      recoveryDue: () => queueMicrotask(() => this.syncAll()),
    });
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Topics this client holds (confirmed or being confirmed). */
  get topics(): string[] {
    return [...this.handlers.keys()];
  }

  /**
   * Where each subscribed topic stands in its stream (the last message delivered): store it
   * (e.g. in sessionStorage) and pass it back as the `positions` option to resume after a reload.
   */
  positions(): Record<string, StreamPosition> {
    return this.streams.positions();
  }

  /** Opens the connection (idempotent). Resolves once open; keeps retrying with backoff until then. */
  connect(): Promise<void> {
    this.wantOpen = true;
    if (this.currentState === 'open') return Promise.resolve();
    const opened = new Promise<void>((resolve, reject) => this.openWaiters.push({ resolve, reject }));
    if (this.currentState === 'closed') this.attemptConnect('connecting');
    return opened;
  }

  /**
   * Subscribes `handler` to `topic` (connecting if needed). Resolves, with a function that removes
   * this handler, once the server confirms; rejects with a RealtimeError (e.g. INVALID_TOPIC,
   * FORBIDDEN, TOO_MANY_TOPICS) if it refuses. A request that fails without a refusal (TIMEOUT,
   * INTERNAL, a lost connection) is retried on a new connection, and the call keeps waiting.
   * `options.since` resumes a topic not yet subscribed from a stored position.
   */
  async subscribe(topic: string, handler: MessageHandler, options: SubscribeOptions = {}): Promise<() => Promise<void>> {
    if (typeof handler !== 'function') throw new TypeError('subscribe: handler must be a function');
    const since = options.since === undefined ? undefined : checkPosition('since', options.since);
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      this.streams.track(topic, since ?? this.initialPositions.get(topic));
      this.initialPositions.delete(topic);
    }
    set.add(handler);
    const remove = () => this.removeHandler(topic, handler);
    if (this.isConfirmed(topic)) return remove;
    const confirmed = new Promise<void>((resolve, reject) => {
      const waiters = this.topicWaiters.get(topic) ?? [];
      waiters.push({ resolve, reject });
      this.topicWaiters.set(topic, waiters);
    });
    if (this.currentState === 'closed') void this.connect().catch(() => undefined);
    else this.syncAll();
    try {
      await confirmed;
    } catch (err) {
      if (this.handlers.get(topic) === set && set.delete(handler) && set.size === 0) this.forget(topic);
      throw err;
    }
    return remove;
  }

  /**
   * Publishes `data` to `topic` from this client (the token's `publish` claim must allow the
   * topic). Resolves with the message's id once the server's queue accepted it; rejects with a
   * RealtimeError: FORBIDDEN, RATE_LIMITED (wait and send again), PAYLOAD_TOO_LARGE, INVALID_TOPIC,
   * or CLOSED / TIMEOUT when the reply never came (sending again with the same `id` is safe).
   * Subscribers, this client too if subscribed, receive it with `from` set to this principal.
   */
  async publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<{ id: string }> {
    if (data === undefined) throw new TypeError('publish: data is required (use null for no data)');
    if (options.id !== undefined && (typeof options.id !== 'string' || !CLIENT_MESSAGE_ID_PATTERN.test(options.id))) {
      throw new TypeError('publish: id is 1-64 characters of A-Z a-z 0-9 _ . : -');
    }
    // Always an id: it is how the reply (or the refusal) is told apart from other publishes' replies.
    const id = options.id ?? randomId();
    await this.connect();
    const conn = this.current;
    if (!conn || conn.closed) throw new RealtimeError('CLOSED', 'the connection closed before the publish was sent', [topic]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(new RealtimeError('TIMEOUT', `no reply to publish within ${this.options.requestTimeoutMs} ms`, [topic])), this.options.requestTimeoutMs);
      const settle = (outcome: string | RealtimeError) => {
        clearTimeout(timer);
        conn.publishes = conn.publishes.filter((p) => p !== pending);
        if (typeof outcome === 'string') resolve({ id: outcome });
        else reject(outcome);
      };
      const pending: PendingPublish = { topic, id, resolve: settle, reject: settle };
      conn.publishes.push(pending);
      this.send(conn, { action: 'publish', topic, data, id });
    });
  }

  /**
   * Follows a presence topic: subscribes to it (with `handler` for its messages, if given) and
   * resolves, once the server confirms, with a PresenceRoom holding its members and telling
   * joins and leaves. `room.close()` stops following it.
   */
  async presence(topic: string, handler: MessageHandler = () => undefined): Promise<PresenceRoom> {
    let remove: (() => Promise<void>) | undefined;
    const room = new PresenceRoom(
      topic,
      async () => {
        this.rooms.get(topic)?.delete(room);
        await remove?.();
      },
      (thrown) => this.report(thrown, 'a presence listener', topic),
    );
    // A topic already held gets no new subscribed reply: start from what the last one and the events since said.
    const known = this.presenceStates.get(topic);
    if (known) room.seed(known);
    const set = this.rooms.get(topic) ?? new Set();
    this.rooms.set(topic, set.add(room));
    try {
      remove = await this.subscribe(topic, handler);
    } catch (err) {
      set.delete(room);
      throw err;
    }
    // A presence topic's subscribed reply always lists its members (or counts them): none means it is an ordinary topic.
    if (!this.presenceStates.has(topic)) {
      await room.close();
      throw new RealtimeError('NOT_PRESENCE', `${topic} is not a presence topic: the server keeps no members for it (the stack's realtime:presenceTopics)`, [topic]);
    }
    return room;
  }

  /**
   * Drops every handler of `topic` and unsubscribes on the server. Resolves once no socket holds
   * the topic any more (a socket that closed, or was replaced after a failed request, counts).
   */
  async unsubscribe(topic: string): Promise<void> {
    if (!this.forget(topic)) return;
    this.suspect.delete(topic);
    this.settleWaiters(topic, new RealtimeError('CANCELLED', `unsubscribed from ${topic} before the subscription was confirmed`, [topic]));
    const conns = [this.current, this.next].filter((conn): conn is Connection => !!conn && !conn.closed);
    conns.forEach((conn) => this.sync(conn));
    await Promise.all(conns.map((conn) => this.released(conn, topic)));
  }

  /** Closes the connection and stops reconnecting. Subscriptions are kept: connect() restores them. */
  close(): void {
    this.wantOpen = false;
    this.generation++;
    this.stopTimers();
    this.streams.pause();
    const closed = new RealtimeError('CLOSED', 'the client was closed');
    for (const conn of [this.current, this.next]) if (conn) this.retire(conn, 'client closed');
    this.current = this.next = undefined;
    for (const topic of [...this.topicWaiters.keys()]) this.settleWaiters(topic, closed);
    const openWaiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of openWaiters) w.reject(closed);
    this.setState('closed');
  }

  // ---- connections ----

  private attemptConnect(state: 'connecting' | 'reconnecting'): void {
    this.setState(state);
    const generation = this.generation;
    this.openConnection().then(
      (conn) => {
        if (generation !== this.generation || !this.wantOpen) return this.retire(conn, 'client closed');
        this.adopt(conn);
        const waiters = this.openWaiters;
        this.openWaiters = [];
        for (const w of waiters) w.resolve();
      },
      (err: RealtimeError) => {
        if (generation !== this.generation || !this.wantOpen) return;
        this.report(err);
        // An 'error' listener may have called close() (e.g. on UNAUTHORIZED): then no retry.
        if (generation !== this.generation || !this.wantOpen) return;
        this.scheduleReconnect(err);
      },
    );
  }

  private scheduleReconnect(cause?: RealtimeError): void {
    this.setState('reconnecting');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.attemptConnect('reconnecting'), this.nextDelay(cause));
  }

  /** The usual backoff; the longest delay (jittered over its upper half) after a handshake that will likely fail again. */
  private nextDelay(cause?: RealtimeError): number {
    const attempt = this.attempt++;
    if (cause && longWait.has(cause)) return this.options.maxDelayMs / 2 + Math.floor((Math.random() * this.options.maxDelayMs) / 2);
    return backoffDelay(attempt, this.options.baseDelayMs, this.options.maxDelayMs);
  }

  /** Makes `conn` the connection in use: heartbeat, rotation timer, resubscribe. */
  private adopt(conn: Connection): void {
    this.current = conn;
    this.handshakeFailures = 0;
    this.setState('open');
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs);
    clearTimeout(this.rotationTimer);
    const age = Date.now() - conn.openedAt;
    this.rotationTimer = setTimeout(() => void this.rotate(), Math.max(0, this.options.maxConnectionAgeMs - age));
    this.sync(conn);
    this.checkCaughtUp(conn);
  }

  private async openConnection(): Promise<Connection> {
    let socket: WebSocketLike;
    let token: string | undefined;
    try {
      const Ctor = await resolveWebSocket(this.options.WebSocket);
      token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
      const { url, protocols } = connectionTarget(this.options.url, token, this.options.tokenTransport);
      socket = protocols ? new Ctor(url, protocols) : new Ctor(url);
    } catch (err) {
      throw new RealtimeError('CONNECTION_FAILED', `cannot connect to ${this.options.url}: ${(err as Error).message}`, [], { cause: err });
    }
    const conn: Connection = { socket, openedAt: 0, topics: new Set(), pending: [], awaitingPong: false, closed: false, condemned: false, publishes: [] };
    return new Promise<Connection>((resolve, reject) => {
      let opened = false;
      let lastError: string | undefined;
      socket.onopen = () => {
        opened = true;
        conn.openedAt = Date.now();
        this.handshakeFailures = 0;
        resolve(conn);
      };
      socket.onerror = (event) => {
        lastError = describeSocketError(event) ?? lastError;
      };
      socket.onmessage = (event) => this.onFrame(conn, event.data);
      socket.onclose = (event) => {
        if (opened) return this.onClosed(conn, event.code, event.reason);
        conn.closed = true;
        const failure = { detail: lastError, closeCode: event.code, closeReason: event.reason, token, consecutive: ++this.handshakeFailures, now: Date.now() };
        const verdict = judgeHandshakeFailure(this.options.url, failure);
        if (verdict.delay === 'max') longWait.add(verdict.error);
        reject(verdict.error);
      };
    });
  }

  /** The server (or the network) closed `conn`. */
  private onClosed(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    this.detach(conn);
    if (conn === this.next) {
      this.next = undefined;
      this.scheduleRotationRetry();
      return;
    }
    if (conn !== this.current) return;
    this.current = undefined;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.rotationTimer);
    if (!this.wantOpen) return;
    if (this.next) {
      // The replacement is already open: switch to it now rather than reconnect.
      const next = this.next;
      this.next = undefined;
      this.adopt(next);
      return;
    }
    this.report(new RealtimeError('CONNECTION_FAILED', `connection closed (${code}${reason ? ` ${reason}` : ''}); reconnecting`));
    this.scheduleReconnect();
  }

  /** Stops listening to `conn` and ends its requests; safe to call twice. */
  private detach(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.socket.onmessage = null;
    conn.socket.onopen = null;
    const pending = conn.pending;
    conn.pending = [];
    // Its subscriptions died with it; the topics stay wanted and are resubscribed elsewhere.
    for (const request of pending) {
      clearTimeout(request.timer);
      request.settle(new RealtimeError('CLOSED', 'the connection closed before the reply arrived', request.topics));
    }
    for (const p of conn.publishes) p.reject(new RealtimeError('CLOSED', 'the connection closed before the publish was answered; sending it again with the same id is safe', [p.topic]));
  }

  /** Closes a connection we no longer want, without triggering a reconnect. */
  private retire(conn: Connection, reason: string): void {
    this.detach(conn);
    conn.socket.onclose = null;
    conn.socket.onerror = () => undefined;
    try {
      conn.socket.close(1000, reason);
    } catch {
      // already closing
    }
  }

  /** Drops a connection that stopped answering; the usual reconnect path takes over. */
  private drop(conn: Connection, reason: string): void {
    conn.socket.onclose = null;
    conn.socket.onerror = () => undefined;
    try {
      conn.socket.close(1000, reason);
    } catch {
      // already closing
    }
    this.onClosed(conn, 1006, reason);
  }

  private heartbeat(): void {
    const conn = this.current;
    if (!conn || conn.closed) return;
    if (conn.awaitingPong) return this.drop(conn, 'no reply to the last heartbeat');
    conn.awaitingPong = true;
    this.send(conn, { action: 'ping' });
  }

  /**
   * Replaces the socket ahead of the connection cap without a gap: open the new one, subscribe it
   * to everything, and only then close the old one. Messages that arrive on both are de-duplicated.
   */
  private async rotate(): Promise<void> {
    const old = this.current;
    if (!old || this.next || !this.wantOpen) return;
    const generation = this.generation;
    let next: Connection;
    try {
      next = await this.openConnection();
    } catch (err) {
      this.report(err as RealtimeError);
      if (generation === this.generation) this.scheduleRotationRetry(err as RealtimeError);
      return;
    }
    if (generation !== this.generation || this.current !== old || !this.wantOpen) return this.retire(next, 'superseded');
    this.next = next;
    this.sync(next);
    this.checkCaughtUp(next);
  }

  private scheduleRotationRetry(cause?: RealtimeError): void {
    if (!this.current || !this.wantOpen) return;
    clearTimeout(this.rotationTimer);
    this.rotationTimer = setTimeout(() => void this.rotate(), this.nextDelay(cause));
  }

  /**
   * When a replacement holds every wanted topic that is not suspect, switch to it. Suspect topics
   * (whose last request failed) stay in flight on it, so one failing topic cannot hold the others
   * on an old socket, nor keep them off the new one.
   */
  private checkCaughtUp(conn: Connection): void {
    if (!this.caughtUp(conn)) return;
    if (conn === this.next && this.current) {
      const old = this.current;
      this.next = undefined;
      this.retire(old, 'replaced ahead of the connection cap');
      this.adopt(conn);
    }
  }

  private caughtUp(conn: Connection): boolean {
    if (conn.closed || conn.condemned) return false;
    const good = (t: string) => !this.suspect.has(t);
    if (conn.pending.some((r) => r.action === 'subscribe' && r.topics.some(good))) return false;
    return [...this.handlers.keys()].filter(good).every((t) => conn.topics.has(t));
  }

  // ---- requests ----

  private syncAll(): void {
    for (const conn of [this.current, this.next]) if (conn && !conn.closed) this.sync(conn);
  }

  /**
   * Brings what `conn` holds on the server to the wanted topics: subscribes the wanted ones it
   * lacks, unsubscribes the unwanted ones it holds. A topic with a request in flight is left alone
   * until that request settles (which syncs again): two requests for one topic sent together run
   * as two Lambda invocations, in either order, so the server could end up with the wrong one.
   */
  private sync(conn: Connection): void {
    if (conn.closed) return;
    const busy = new Set(conn.pending.flatMap((r) => r.topics));
    // A condemned socket only sheds topics: its replacement takes the new ones.
    const subscribe = conn.condemned ? [] : [...this.handlers.keys()].filter((t) => !conn.topics.has(t) && !busy.has(t));
    const unsubscribe = [...conn.topics].filter((t) => !this.handlers.has(t) && !busy.has(t));
    // A topic held here whose stream has a gap the wait did not fill: resubscribe it with `since`
    // (idempotent on the server, which replays what came after).
    const recover = conn.condemned ? [] : [...conn.topics].filter((t) => this.handlers.has(t) && !busy.has(t) && this.streams.isDue(t) && this.recoveryConnection(t) === conn);
    // Subscriptions are all-or-nothing, so a topic that failed goes alone and cannot fail the good ones.
    for (const chunk of this.chunk(subscribe.filter((t) => !this.suspect.has(t)))) this.request(conn, 'subscribe', chunk);
    for (const topic of subscribe.filter((t) => this.suspect.has(t))) this.request(conn, 'subscribe', [topic]);
    for (const chunk of this.chunk(recover)) this.request(conn, 'subscribe', chunk);
    for (const chunk of this.chunk(unsubscribe)) this.request(conn, 'unsubscribe', chunk);
  }

  /** The socket to ask for a topic's missing messages: the current one if it holds the topic, else the replacement. */
  private recoveryConnection(topic: string): Connection | undefined {
    return [this.current, this.next].find((conn) => !!conn && !conn.closed && !conn.condemned && conn.topics.has(topic));
  }

  private chunk(topics: string[]): string[][] {
    return chunkTopics(topics, (t) => {
      const since = this.streams.since(t);
      return since ? 2 * t.length + (since.epoch?.length ?? 0) + 48 : t.length + 3;
    });
  }

  /** Held on the current socket with nothing in flight for it (an unsubscribe may be about to remove it). */
  private isConfirmed(topic: string): boolean {
    const conn = this.current;
    return !!conn && !conn.closed && conn.topics.has(topic) && !conn.pending.some((r) => r.topics.includes(topic));
  }

  /** Waits until `conn` neither holds `topic` nor has a request for it in flight, is gone, or the topic is wanted again. */
  private async released(conn: Connection, topic: string): Promise<void> {
    while (!conn.closed && !this.handlers.has(topic)) {
      const request = conn.pending.find((r) => r.topics.includes(topic));
      if (!request) return;
      await request.settled;
    }
  }

  private request(conn: Connection, action: 'subscribe' | 'unsubscribe', topics: string[]): void {
    let settled!: () => void;
    // Every subscribe resumes the topics that have a position: reconnects, rotations, retries and recoveries alike.
    const since = action === 'subscribe' ? sinceOf(topics, (t) => this.streams.since(t)) : undefined;
    const request: PendingRequest = {
      action,
      topics,
      since,
      settled: new Promise<void>((resolve) => (settled = resolve)),
      timer: setTimeout(() => {
        conn.pending = conn.pending.filter((r) => r !== request);
        request.settle(new RealtimeError('TIMEOUT', `no reply to ${action} within ${this.options.requestTimeoutMs} ms`, topics));
      }, this.options.requestTimeoutMs),
      settle: (outcome) => {
        clearTimeout(request.timer);
        this.onOutcome(conn, request, outcome);
        settled();
      },
    };
    if (conn.socket.readyState !== OPEN) return request.settle(new RealtimeError('CLOSED', 'the connection is not open', topics));
    conn.pending.push(request);
    for (const t of Object.keys(since ?? {})) this.streams.markSent(t);
    this.send(conn, since ? { action, topics, since } : { action, topics });
  }

  private onOutcome(conn: Connection, request: PendingRequest, outcome: Outcome): void {
    if (!(outcome instanceof RealtimeError) && !('code' in outcome)) {
      for (const t of request.topics) {
        if (request.action === 'unsubscribe') conn.topics.delete(t);
        else {
          conn.topics.add(t);
          this.suspect.delete(t);
        }
      }
      // Only now (the bookkeeping done) may handlers run: they can subscribe and unsubscribe.
      if (request.action === 'subscribe') {
        for (const t of request.topics) {
          // Its replayed messages came before this reply: the stream can now tell what is missing.
          this.streams.onSubscribed(t, request.since?.[t], outcome.positions?.[t], outcome.recovered?.[t]);
          this.settleWaiters(t);
        }
      }
      this.sync(conn); // a topic wanted again, or no longer wanted, meanwhile
      return this.checkCaughtUp(conn);
    }
    if (outcome instanceof RealtimeError) {
      if (outcome.code === 'CLOSED') return; // the socket is gone; its replacement is synced from scratch
      return this.retry(conn, request, outcome);
    }
    if (outcome.code === 'INTERNAL') return this.retry(conn, request, RealtimeError.fromReply(outcome));
    if (request.action === 'unsubscribe') {
      // The server never refuses to unsubscribe a topic it confirmed; if it does, sending the same
      // request again would loop, so start over on a socket that never held the topic.
      return this.retry(conn, request, RealtimeError.fromReply(outcome));
    }
    // The server refused (subscriptions are all-or-nothing): the topics it names are refused, the
    // others were collateral and are sent again by sync(). A reply naming none refuses them all.
    const error = RealtimeError.fromReply(outcome);
    const refused = error.topics.length > 0 ? request.topics.filter((t) => error.topics.includes(t)) : request.topics;
    const background: string[] = [];
    for (const t of refused) {
      this.suspect.delete(t);
      if (!this.forget(t)) continue; // no longer wanted anyway
      if (this.topicWaiters.has(t)) this.settleWaiters(t, error); // the caller learns through the rejected subscribe()
      else background.push(t); // refused on resubscribe (e.g. permissions changed): tell the app
    }
    if (background.length > 0) this.report(new RealtimeError(error.code, `resubscribe refused: ${error.message}`, background));
    this.sync(conn);
    this.checkCaughtUp(conn);
  }

  /**
   * A request failed without a refusal: no reply in time, API Gateway's own error, or the server's
   * INTERNAL. What the server now holds for those topics is unknown, so rather than guess, replace
   * the socket (after the reconnect backoff) with one that gets exactly the wanted topics. The
   * replacement is made before the break, as in rotate(): the failed socket keeps delivering its
   * confirmed topics until the new one holds them. The failed topics become suspect and are sent
   * alone from then on. Handlers are kept and waiting subscribe() calls keep waiting; the app
   * hears of it as an error.
   */
  private retry(conn: Connection, request: PendingRequest, error: RealtimeError): void {
    this.report(new RealtimeError(error.code, `${request.action} ${request.topics.join(', ')} failed (${error.message}); retrying on a new connection`, request.topics, { cause: error }));
    if (request.action === 'subscribe') for (const t of request.topics) if (this.handlers.has(t)) this.suspect.add(t);
    if (conn.condemned || conn.closed) return; // already being replaced
    conn.condemned = true;
    if (conn === this.next) {
      // The replacement failed too: give it up, the current socket keeps serving meanwhile.
      this.next = undefined;
      this.retire(conn, `${request.action} failed`);
      this.scheduleRotationRetry();
    } else if (conn === this.current && !this.next) {
      this.scheduleRotationRetry();
    }
    // Some topics may now be complete on a replacement already in flight.
    if (this.next) this.checkCaughtUp(this.next);
  }

  private settleWaiters(topic: string, error?: RealtimeError): void {
    const waiters = this.topicWaiters.get(topic);
    if (!waiters) return;
    this.topicWaiters.delete(topic);
    for (const w of waiters) (error ? w.reject(error) : w.resolve());
  }

  /** The topic is no longer wanted: drop its handlers, its stream and its presence state. Returns whether it was wanted. */
  private forget(topic: string): boolean {
    this.streams.untrack(topic);
    this.presenceStates.delete(topic);
    return this.handlers.delete(topic);
  }

  /** The topic's presence state holder (a room nobody listens to). */
  private presenceState(topic: string): PresenceRoom {
    let state = this.presenceStates.get(topic);
    if (!state) this.presenceStates.set(topic, (state = new PresenceRoom(topic, async () => undefined, () => undefined)));
    return state;
  }

  private async removeHandler(topic: string, handler: MessageHandler): Promise<void> {
    const set = this.handlers.get(topic);
    if (!set?.delete(handler)) return;
    if (set.size === 0) await this.unsubscribe(topic);
  }

  private send(conn: Connection, body: unknown): void {
    if (conn.socket.readyState === OPEN) conn.socket.send(JSON.stringify(body));
  }

  // ---- incoming frames ----

  private onFrame(conn: Connection, data: unknown): void {
    conn.awaitingPong = false;
    if (typeof data !== 'string') return this.report(new RealtimeError('PROTOCOL', 'received a binary frame; the protocol is JSON text'));
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return this.report(new RealtimeError('PROTOCOL', `received a frame that is not JSON: ${preview(data)}`));
    }
    const frame = parseServerFrame(json);
    if (!frame) {
      // API Gateway's own answer when an integration fails: {"message":"Internal server error",...}
      const gatewayMessage = (json as { message?: unknown } | null)?.message;
      if (typeof gatewayMessage === 'string') {
        const error = new RealtimeError('INTERNAL', `the gateway answered: ${gatewayMessage}`);
        // The frame does not say which request failed, and replies are not ordered, so it settles
        // the oldest one: the likeliest culprit (an integration timeout ends the longest-waiting
        // request first), and a wrong pick costs nothing, because the outcome is a retry that
        // replaces the socket and so re-sends every request that was in flight on it.
        const oldest = conn.pending.shift();
        return oldest ? oldest.settle(error) : this.report(error);
      }
      return this.report(new RealtimeError('PROTOCOL', `received an unknown frame: ${preview(data)}`));
    }
    switch (frame.type) {
      case 'message':
        return this.deliver(frame);
      case 'pong':
        // A connection that holds what is wanted and still answers after a heartbeat interval is
        // healthy: only now does the backoff start over, so a server that confirms and then closes
        // at once (or a client with no topics) cannot make it reconnect every few hundred ms.
        if (conn === this.current && this.suspect.size === 0 && this.caughtUp(conn)) this.attempt = 0;
        return;
      case 'presence':
        this.presenceStates.get(frame.topic)?.apply(frame);
        for (const room of this.rooms.get(frame.topic) ?? []) room.apply(frame);
        return;
      case 'published': {
        // Its id is `c.<principal's hash>.<the id sent>`: the id sent says which publish it was.
        const own = ownIdOf(frame.id);
        return conn.publishes.find((p) => p.id === own && p.topic === frame.topic)?.resolve(frame.id);
      }
      case 'subscribed':
      case 'unsubscribed': {
        // Who is in each presence topic, before the subscribe resolves.
        for (const [topic, state] of Object.entries(frame.type === 'subscribed' ? (frame.presence ?? {}) : {})) {
          if (!this.handlers.has(topic)) continue; // no longer wanted
          this.presenceState(topic).snapshot(state);
          for (const room of this.rooms.get(topic) ?? []) room.snapshot(state);
        }
        const action = frame.type === 'subscribed' ? 'subscribe' : 'unsubscribe';
        const request =
          this.takePending(conn, (r) => r.action === action && sameTopics(r.topics, frame.topics)) ??
          this.takePending(conn, (r) => r.action === action && frame.topics.every((t) => r.topics.includes(t)));
        return request?.settle(frame.type === 'subscribed' ? { topics: frame.topics, positions: frame.positions, recovered: frame.recovered } : { topics: frame.topics });
      }
      case 'error': {
        const named = frame.topics ?? [];
        // A publish's refusal names the id it was sent with; nothing else does.
        if (frame.id !== undefined) {
          const publish = conn.publishes.find((p) => p.id === frame.id && (named.length === 0 || named.includes(p.topic)));
          return publish ? publish.reject(RealtimeError.fromReply(frame)) : this.report(RealtimeError.fromReply(frame));
        }
        const request =
          named.length > 0 ? this.takePending(conn, (r) => named.every((t) => r.topics.includes(t))) : this.takePending(conn, () => true);
        if (request) return request.settle(frame);
        return this.report(RealtimeError.fromReply(frame));
      }
    }
  }

  /** Replies are not guaranteed in order, so they are matched by their topics, oldest request first. */
  private takePending(conn: Connection, match: (r: PendingRequest) => boolean): PendingRequest | undefined {
    const index = conn.pending.findIndex(match);
    if (index < 0) return undefined;
    return conn.pending.splice(index, 1)[0];
  }

  private deliver(message: DeliveredMessage): void {
    if (!this.handlers.has(message.topic)) return; // a late delivery after unsubscribe
    // Ordered and de-duplicated by seq when the server numbers its messages (an older one doesn't).
    if (message.seq !== undefined && message.epoch !== undefined) return this.streams.onMessage(message as DeliveredMessage & { seq: number; epoch: string });
    this.handOver(message);
  }

  /** Calls the topic's handlers and the `message` listeners. */
  private handOver(message: DeliveredMessage): void {
    const handlers = this.handlers.get(message.topic);
    if (!handlers) return;
    // Keyed by topic too: one publish to several topics legitimately arrives once per topic.
    if (!this.recent.add(`${message.topic}\n${message.id}`)) return;
    const thrown = [...handlers].flatMap((handler) => {
      try {
        handler(message);
        return [];
      } catch (err) {
        return [err];
      }
    });
    thrown.push(...this.emit('message', message));
    this.report(thrown, 'a handler', message.topic);
  }

  // ---- state and errors ----

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  /** Emits an error event; given what listeners threw, one HANDLER error each. */
  private report(error: RealtimeError): void;
  private report(thrown: unknown[], who: string, topic: string): void;
  private report(error: RealtimeError | unknown[], who?: string, topic?: string): void {
    if (!Array.isArray(error)) return void this.emit('error', error);
    for (const err of error) this.emit('error', new RealtimeError('HANDLER', `${who} for ${topic} threw: ${(err as Error)?.message ?? err}`, [topic!], { cause: err }));
  }

  private stopTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.rotationTimer);
  }
}

/** The URL and subprotocols to open, with the token placed as `tokenTransport` says. */
/** A random client message id (for idempotent publishes). */
function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function connectionTarget(url: string, token: string | undefined, transport: 'query' | 'subprotocol'): { url: string; protocols?: string[] } {
  if (!token) return { url };
  if (transport === 'subprotocol') return { url, protocols: [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`] };
  const withToken = new URL(url);
  withToken.searchParams.set(TOKEN_QUERY_PARAMETER, token);
  return { url: withToken.toString() };
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((t) => set.has(t));
}

/** Splits topics into requests that stay well under the frame limit (`cost`: a topic's characters in the request). */
function chunkTopics(topics: string[], cost: (topic: string) => number): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let size = 0;
  for (const topic of topics) {
    if (chunk.length > 0 && size + cost(topic) > MAX_REQUEST_CHARS) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(topic);
    size += cost(topic);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** The `since` of a subscribe for `topics`, or undefined when none has a position. */
function sinceOf(topics: string[], position: (topic: string) => SincePosition | undefined): Record<string, SincePosition> | undefined {
  const entries = topics.flatMap((t) => {
    const p = position(t);
    return p ? [[t, p] as const] : [];
  });
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** A position given by the app: a seq (a non-negative integer) and optionally the epoch it belongs to. */
function checkPosition(name: string, position: SincePosition): SincePosition {
  const p = position as { epoch?: unknown; seq?: unknown } | null;
  if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.seq) || (p.seq as number) < 0 || (p.epoch !== undefined && (typeof p.epoch !== 'string' || p.epoch === ''))) {
    throw new TypeError(`RealtimeClient: ${name} must be { seq: a non-negative integer, epoch?: a non-empty string }`);
  }
  return p.epoch === undefined ? { seq: p.seq as number } : { epoch: p.epoch as string, seq: p.seq as number };
}

/** Errors after which the next attempt waits the longest delay (see handshake.ts). */
const longWait = new WeakSet<RealtimeError>();

function preview(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
