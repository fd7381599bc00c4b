/**
 * The demo HTTP server (contract 6): the static page of local/demo/, `GET /config.json` with the
 * outputs, `GET /health` (local/health.ts), and `POST /publish` taking a publish envelope onto
 * the local queue — the same path a backend's SendMessage takes. Only the demo page itself and other trusted origins
 * (origin-policy.ts) may call it from a browser; other pages get 403.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { envelopeSchema } from '../protocol/envelope';
import { BodyTooLargeError, closeServer, listen, readBody } from './http-server';
import { loopbackOrigins, OriginPolicy } from './origin-policy';

export interface DemoServerOptions {
  staticDir: string;
  outputs(): unknown;
  /** Put the envelope (as JSON text) on the publish queue; returns the message id. An error with a `status` is answered with it. */
  publish(body: string): string;
  /** `GET /health`: the status code and JSON body to answer with; 404 without it. */
  health?(): Promise<{ status: number; body: unknown }>;
  /** Largest POST /publish body; default 1 MiB (the queue's limit). */
  maxBodyBytes?: number;
  port?: number;
  host?: string;
  /** Pages allowed to call it from a browser; its own origins are added once it listens. Default: its own only. */
  originPolicy?: OriginPolicy;
}

export interface DemoServer {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const root = resolve(options.staticDir);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const policy = options.originPolicy ?? new OriginPolicy();
  /** Host names the server answers to (`host:port`), set once it listens: a DNS-rebinding page names another. */
  const hosts = new Set<string>();
  const server = createServer((req, res) => {
    route(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: `internal error: ${(err as Error).message}` });
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://local').pathname);
    } catch {
      return json(res, 400, { error: 'malformed URL' });
    }
    // A page elsewhere (any site the developer visits) must neither publish nor read the config.
    const host = req.headers.host;
    if (host !== undefined && !hosts.has(host.toLowerCase())) return json(res, 403, { error: 'unknown host name: open the demo at 127.0.0.1 or localhost' });
    const origin = req.headers.origin;
    if (!policy.allows(origin)) return json(res, 403, { error: 'requests from this page are not allowed (npm start -- --allow-origin ORIGIN trusts a page)' });
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type' });
      return void res.end();
    }
    if (path === '/config.json') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'config.json takes GET' });
      return json(res, 200, options.outputs());
    }
    if (path === '/health' && options.health) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'health takes GET' });
      const { status, body } = await options.health();
      return json(res, status, body);
    }
    if (path === '/publish') {
      if (req.method !== 'POST') return json(res, 405, { error: 'publish takes POST with a publish envelope {"topic":…,"data":…}' });
      return publish(req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: `${req.method} is not supported here` });
    return serveFile(path, req, res);
  }

  async function publish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text: string;
    try {
      text = (await readBody(req, maxBodyBytes)).toString('utf8');
    } catch (err) {
      if (err instanceof BodyTooLargeError) return json(res, 413, { error: `the envelope is larger than ${maxBodyBytes} bytes` });
      throw err;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return json(res, 400, { error: `the body is not JSON: ${(err as Error).message}` });
    }
    const parsed = envelopeSchema().safeParse(value);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
      return json(res, 400, { error: `not a publish envelope: ${problems.join('; ')}` });
    }
    try {
      return json(res, 200, { messageId: options.publish(text) });
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      return json(res, typeof status === 'number' ? status : 400, { error: (err as Error).message });
    }
  }

  async function serveFile(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const relative = normalize(path === '/' ? '/index.html' : path).replace(/^([/\\])+/, '');
    const file = join(root, relative);
    if (file !== root && !file.startsWith(root + sep)) return json(res, 404, { error: 'not found' });
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      return json(res, 404, { error: `not found: ${path}` });
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': content.length, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : content);
  }

  const base = await listen(server, options.port ?? 0, options.host);
  for (const origin of loopbackOrigins(base)) hosts.add(new URL(origin).host);
  policy.trust(...loopbackOrigins(base));
  return { url: `${base}/`, close: () => closeServer(server) };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
