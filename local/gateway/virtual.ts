/**
 * Socket-less connections for benchmarks with tens of thousands of subscribers: the same
 * authorizer, $connect, routes, management API and $disconnect as a socket, with the frames the
 * client would receive kept in memory. Kept small: one object and one array per connection.
 */
import { randomBytes } from 'node:crypto';
import { CLOSE, type Connection, type Engine, type Transport } from './engine';
import { ConnectRejectedError, type CloseInfo, type ConnectVirtualOptions, type VirtualConnection } from './types';

class VirtualClient implements VirtualConnection, Transport {
  readonly received: string[] = [];
  closed: CloseInfo | undefined;
  private conn!: Connection;
  private messageListeners: Array<(data: string) => void> | undefined;
  private closeListeners: Array<(info: CloseInfo) => void> | undefined;

  constructor(
    private readonly engine: Engine,
    readonly connectionId: string,
  ) {}

  attach(conn: Connection): void {
    this.conn = conn;
  }

  // ---- Transport: the gateway talking to this client ----

  deliver(data: string | Buffer): boolean {
    if (this.closed) return false;
    const text = typeof data === 'string' ? data : data.toString('utf8');
    this.received.push(text);
    if (this.messageListeners) for (const cb of this.messageListeners) cb(text);
    return true;
  }

  terminate(): void {
    // Nothing to send a close frame over; ended() records the close.
  }

  ended(info: CloseInfo): void {
    this.closed = info;
    if (this.closeListeners) for (const cb of this.closeListeners) cb(info);
  }

  // ---- VirtualConnection: the client's side ----

  onMessage(cb: (data: string) => void): void {
    (this.messageListeners ??= []).push(cb);
  }

  onClose(cb: (info: CloseInfo) => void): void {
    (this.closeListeners ??= []).push(cb);
  }

  async send(text: string): Promise<string | undefined> {
    if (typeof text !== 'string') throw new TypeError('a virtual connection sends text messages only');
    if (this.closed) throw new Error(`virtual connection ${this.connectionId} is closed (${this.closed.code} ${this.closed.reason})`);
    if (Buffer.byteLength(text) > this.engine.maxMessageBytes) {
      await this.engine.serverClose(this.conn, CLOSE.tooBig);
      return undefined;
    }
    return this.engine.receive(this.conn, text);
  }

  close(code = 1000, reason = ''): Promise<void> {
    // The codes a client may put in a close frame (RFC 6455 7.4), as ws and browsers enforce.
    if (code !== 1000 && (code < 3000 || code > 4999)) throw new RangeError(`invalid close code ${code}: use 1000 or 3000-4999`);
    if (Buffer.byteLength(reason) > 123) throw new RangeError('close reasons are at most 123 bytes');
    return this.engine.end(this.conn, { code, reason });
  }
}

export async function connectVirtual(engine: Engine, opts: ConnectVirtualOptions = {}): Promise<VirtualConnection> {
  if (engine.closing) throw new Error('the gateway is closing');
  // The handshake headers a WebSocket client sends, then the caller's own.
  const headerPairs: Array<[string, string]> = [
    ['Host', engine.api.domainName],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Sec-WebSocket-Version', '13'],
    ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
    ...Object.entries(opts.headers ?? {}),
  ];
  const admission = await engine.admit({
    headerPairs,
    rawQuery: new URLSearchParams(opts.query ?? {}).toString(),
    sourceIp: opts.sourceIp ?? '127.0.0.1',
  });
  if (!admission.ok) throw new ConnectRejectedError(admission.status, admission.body);
  if (engine.closing) {
    await engine.abandon(admission.info, CLOSE.goingAway);
    throw new Error('the gateway is closing');
  }
  // Subprotocol negotiation fails as it does for ws and browsers: offered but not echoed, or echoed but not offered.
  const offered = headerPairs.find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];
  const echoed = admission.responseHeaders.find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];
  const offeredSet = new Set((offered ?? '').split(',').map((p) => p.trim()).filter(Boolean));
  if ((offeredSet.size > 0 && echoed === undefined) || (echoed !== undefined && !offeredSet.has(echoed))) {
    await engine.abandon(admission.info, CLOSE.abnormal);
    throw new Error(echoed === undefined ? 'Server sent no subprotocol' : `Server sent an invalid subprotocol: ${echoed}`);
  }
  const client = new VirtualClient(engine, admission.info.connectionId);
  client.attach(engine.open(admission.info, client));
  return client;
}
