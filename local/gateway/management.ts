/**
 * The `@connections` management API at `/{stage}/@connections/{id}` (restJson1, as
 * @aws-sdk/client-apigatewaymanagementapi speaks it). Errors carry `x-amzn-ErrorType` so the SDK
 * raises GoneException & co. by name. SigV4 signatures are accepted without being checked.
 * This path is hot in benchmarks: no logging and no work beyond parsing.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLOSE, type Engine } from './engine';
import type { FaultInjector } from './faults';
import type { GatewayStats } from './types';

export type ManagementCounters = Omit<GatewayStats, 'connections'>;

export function newCounters(): ManagementCounters {
  return { posts: 0, delivered: 0, gone: 0, throttled: 0, errors: 0, tooLarge: 0, deletes: 0 };
}

function answer(res: ServerResponse, status: number, body?: string, errorType?: string): void {
  const headers: Record<string, string | number> = {
    'x-amzn-RequestId': randomUUID(),
    'Content-Length': body === undefined ? 0 : Buffer.byteLength(body),
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType;
  res.writeHead(status, headers);
  res.end(body);
}

const failure = (res: ServerResponse, status: number, errorType: string, message: string) =>
  answer(res, status, JSON.stringify({ message }), errorType);

export function managementHandler(engine: Engine, faults: FaultInjector, counters: ManagementCounters, stage: string) {
  const prefix = `/${stage}/@connections/`;
  const maxBytes = engine.maxMessageBytes;

  const respond = (req: IncomingMessage, res: ServerResponse, rawId: string, body: Buffer | undefined, bodyBytes: number) => {
    const method = req.method;
    const fault = faults.decide();
    if (fault === 'throttled') {
      counters.throttled++;
      return failure(res, 429, 'LimitExceededException', 'Rate exceeded');
    }
    if (fault === 'error') {
      counters.errors++;
      return failure(res, 500, 'InternalServerErrorException', 'Internal server error');
    }
    if (fault === 'gone') {
      counters.gone++;
      return failure(res, 410, 'GoneException', `Connection ${rawId} is gone (injected fault)`);
    }
    if (method === 'POST' && bodyBytes > maxBytes) {
      counters.tooLarge++;
      return failure(res, 413, 'PayloadTooLargeException', `Message of ${bodyBytes} bytes exceeds the ${maxBytes}-byte limit`);
    }
    let id = rawId;
    if (id.includes('%')) {
      try {
        id = decodeURIComponent(id);
      } catch {
        counters.gone++;
        return failure(res, 410, 'GoneException', `Invalid connectionId: ${rawId}`);
      }
    }
    const conn = engine.connections.get(id);
    if (conn === undefined) {
      counters.gone++;
      return failure(res, 410, 'GoneException', `Connection ${id} is gone`);
    }
    switch (method) {
      case 'POST':
        if (!engine.post(conn, body ?? Buffer.alloc(0))) {
          counters.gone++;
          return failure(res, 410, 'GoneException', `Connection ${id} is gone`);
        }
        counters.delivered++;
        return answer(res, 200);
      case 'GET':
        return answer(
          res,
          200,
          JSON.stringify({
            connectedAt: new Date(conn.connectedAt).toISOString(),
            identity: conn.userAgent === undefined ? { sourceIp: conn.sourceIp } : { sourceIp: conn.sourceIp, userAgent: conn.userAgent },
            lastActiveAt: new Date(conn.lastActiveAt).toISOString(),
          }),
        );
      case 'DELETE':
        counters.deletes++;
        // Out of the registry (so later calls answer 410) before the 204 goes out; $disconnect follows.
        void engine.serverClose(conn, CLOSE.normal);
        return answer(res, 204);
      default:
        return failure(res, 403, 'ForbiddenException', `Method ${String(method)} is not allowed on @connections`);
    }
  };

  const afterLatency = (req: IncomingMessage, res: ServerResponse, rawId: string, body: Buffer | undefined, bodyBytes: number) => {
    const latency = faults.latencyMs;
    if (latency > 0) void engine.sleep(latency).then(() => respond(req, res, rawId, body, bodyBytes));
    else respond(req, res, rawId, body, bodyBytes);
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query >= 0 ? url.slice(0, query) : url;
    const rawId = path.startsWith(prefix) ? path.slice(prefix.length) : '';
    if (rawId === '' || rawId.includes('/')) {
      req.resume();
      return failure(res, 403, 'ForbiddenException', 'Forbidden');
    }
    if (req.method !== 'POST') {
      req.resume();
      return afterLatency(req, res, rawId, undefined, 0);
    }
    counters.posts++;
    // Keep at most maxBytes + 1 bytes: enough to know a body is too large without holding it all.
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      if (bytes <= maxBytes) chunks.push(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      const body = bytes > maxBytes ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
      afterLatency(req, res, rawId, body, bytes);
    });
  };
}
