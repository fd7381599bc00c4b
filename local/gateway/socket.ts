/**
 * Real WebSockets: the HTTP `upgrade` is held open while the authorizer and $connect run (ws's
 * async verifyClient), so a refusal reaches the client as an HTTP status; the $connect result's
 * headers (Sec-WebSocket-Protocol included) go on the 101 response.
 * A handshake from a page whose Origin is not allowed is refused (403) before anything runs, and
 * a client that stops reading is closed once its send buffer passes a bound, instead of the
 * gateway buffering for it without end.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ConnectionInfo, HeaderPairs } from './events';
import { CLOSE, type Engine, type Transport } from './engine';
import type { CloseInfo } from './types';

interface Admitted {
  info: ConnectionInfo;
  /** The subprotocol $connect echoed, if any. */
  protocol: string | undefined;
  /** Every other header of the $connect result. */
  extraHeaders: Array<[string, string]>;
}

export function headerPairsOf(rawHeaders: string[]): HeaderPairs {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i], rawHeaders[i + 1]]);
  return pairs;
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function sourceIpOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** The close code and reason $disconnect reports when ws refuses what the client sent (too big, bad UTF-8, ...). */
function closeInfoOfError(error: Error): CloseInfo {
  if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return CLOSE.tooBig;
  const status = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code');
  const code = status ? (error as unknown as Record<symbol, unknown>)[status] : undefined;
  return { code: typeof code === 'number' ? code : CLOSE.abnormal.code, reason: error.message };
}

/**
 * What a connection may have waiting to be sent before the gateway gives up on it: 32 frames of
 * API Gateway's largest message. Beyond the kernel's socket buffers (a few MB on loopback), so a
 * client that reads at all, even slowly, never meets it. API Gateway documents no such bound.
 */
export const SEND_BUFFER_LIMIT_BYTES = 4 * 1024 * 1024;

/** How $disconnect reports a connection closed for not reading. */
export const SLOW_CONSUMER_CLOSE: CloseInfo = { code: 1008, reason: 'Slow consumer: too much data waiting to be sent' };

class SocketTransport implements Transport {
  constructor(
    private readonly ws: WebSocket,
    private readonly maxBufferedBytes: number,
    private readonly overflow: () => void,
  ) {}

  deliver(data: string | Buffer): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (this.ws.bufferedAmount + size > this.maxBufferedBytes) {
      this.overflow();
      return false;
    }
    this.ws.send(data, { binary: false });
    return true;
  }

  terminate(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  ended(): void {}
}

export interface SocketLayer {
  /** Sends the remaining sockets' close handshakes up to `graceMs`, then cuts them. */
  closeAll(graceMs: number): Promise<void>;
}

export interface SocketOptions {
  allowOrigin?: (origin: string | undefined) => boolean;
  maxBufferedBytes?: number;
}

export function attachWebSockets(server: Server, engine: Engine, stage: string, options: SocketOptions = {}): SocketLayer {
  const maxBufferedBytes = options.maxBufferedBytes ?? SEND_BUFFER_LIMIT_BYTES;
  if (!Number.isFinite(maxBufferedBytes) || maxBufferedBytes <= 0) throw new RangeError(`maxBufferedBytes must be > 0, got ${maxBufferedBytes}`);
  const admitted = new WeakMap<IncomingMessage, Admitted>();
  const sockets = new Set<WebSocket>();
  const stagePaths = new Set([`/${stage}`, `/${stage}/`]);

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: engine.maxMessageBytes,
    // ws waits this long for the client's answer to a server close frame before cutting the socket.
    ...({ closeTimeout: 2000 } as object),
    verifyClient: (info, callback) => {
      const req = info.req;
      const query = req.url?.indexOf('?') ?? -1;
      engine
        .admit({ headerPairs: headerPairsOf(req.rawHeaders), rawQuery: query >= 0 ? req.url!.slice(query + 1) : '', sourceIp: sourceIpOf(req) })
        .then((admission) => {
          if (!admission.ok) return callback(false, admission.status, admission.body, { 'Content-Type': admission.contentType });
          const socket = req.socket;
          // ws destroys a socket that is no longer readable and writable without calling back: account for it here.
          if (engine.closing || socket.destroyed || !socket.readable || !socket.writable) {
            void engine.abandon(admission.info, engine.closing ? CLOSE.goingAway : CLOSE.abnormal);
            return callback(false, 503);
          }
          const protocolHeader = admission.responseHeaders.find(([name]) => name.toLowerCase() === 'sec-websocket-protocol');
          const offered = req.headers['sec-websocket-protocol'] !== undefined;
          admitted.set(req, {
            info: admission.info,
            protocol: offered ? protocolHeader?.[1] : undefined,
            // Not offered but echoed anyway: it still goes out, and the client decides (ws and browsers fail).
            extraHeaders: admission.responseHeaders.filter((h) => h !== protocolHeader || !offered),
          });
          callback(true);
        })
        .catch((error: unknown) => {
          process.stderr.write(`[gateway] handshake failed: ${error instanceof Error ? error.stack : String(error)}\n`);
          callback(false, 500);
        });
    },
    // Only what $connect echoed: ws would otherwise pick the first protocol offered.
    handleProtocols: (_offered, req) => admitted.get(req)?.protocol ?? false,
  });

  wss.on('headers', (headers, req) => {
    for (const [name, value] of admitted.get(req)?.extraHeaders ?? []) headers.push(`${name}: ${value}`);
  });

  const onOpen = (ws: WebSocket, req: IncomingMessage) => {
    const entry = admitted.get(req)!;
    admitted.delete(req);
    sockets.add(ws);
    // Called only once frames flow, after `conn` exists.
    const transport = new SocketTransport(ws, maxBufferedBytes, () => void engine.serverClose(conn, SLOW_CONSUMER_CLOSE));
    const conn = engine.open(entry.info, transport);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (conn.ended) return;
      if (isBinary) {
        void engine.serverClose(conn, CLOSE.binary);
        return;
      }
      void engine.receive(conn, data.toString('utf8'));
    });
    ws.on('error', (error) => void engine.end(conn, closeInfoOfError(error)));
    ws.on('close', (code: number, reason: Buffer) => {
      sockets.delete(ws);
      const why =
        code === CLOSE.noStatus.code ? CLOSE.noStatus : code === CLOSE.abnormal.code ? CLOSE.abnormal : { code, reason: reason.toString('utf8') };
      void engine.end(conn, why);
    });
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?', 1)[0];
    if (!stagePaths.has(path)) return refuseUpgrade(socket, 403, '{"message":"Forbidden"}');
    if (options.allowOrigin && !options.allowOrigin(req.headers.origin)) {
      engine.observe({ type: 'refused', status: 403, sourceIp: sourceIpOf(req), by: 'origin' });
      return refuseUpgrade(socket, 403, '{"message":"Forbidden"}');
    }
    if (engine.closing) return refuseUpgrade(socket, 503, '{"message":"Service Unavailable"}');
    wss.handleUpgrade(req, socket, head, (ws) => onOpen(ws, req));
  });

  return {
    async closeAll(graceMs) {
      await Promise.all(
        [...sockets].map(
          (ws) =>
            new Promise<void>((resolve) => {
              const cut = setTimeout(() => ws.terminate(), graceMs);
              ws.once('close', () => {
                clearTimeout(cut);
                resolve();
              });
              if (ws.readyState === ws.OPEN) ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
            }),
        ),
      );
      wss.close();
    },
  };
}
