/** startGateway: one node:http server on 127.0.0.1 carrying the WebSocket API and its management API. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT, LOCAL_HOST, LOCAL_REGION } from '../constants';
import { CLOSE, Engine, resolveLimits } from './engine';
import { FaultInjector } from './faults';
import { randomApiId } from './ids';
import { managementHandler, newCounters } from './management';
import { attachWebSockets } from './socket';
import { ConnectRejectedError, type Gateway, type GatewayOptions } from './types';
import { connectVirtual } from './virtual';

/**
 * Handshakes the kernel holds until the gateway accepts them. Node's default (511) overflows when
 * a burst of connects (API Gateway admits 500 a second) meets an event loop busy with handlers:
 * the kernel then drops them and the clients see resets. Linux caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

/** How long close() waits for clients to answer the close frame before cutting their sockets. */
const CLOSE_GRACE_MS = 500;

/** The sweep runs often enough to close a timed-out connection within about a quarter of its timeout. */
function sweepIntervalMs(engine: Engine): number {
  return Math.min(1000, Math.max(5, Math.floor(Math.min(engine.idleTimeoutMs, engine.maxConnectionMs) / 4)));
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? LOCAL_HOST;
  const stage = options.stage ?? 'local';
  const apiId = options.apiId ?? randomApiId();
  if (!/^[A-Za-z0-9_-]+$/.test(stage)) throw new RangeError(`stage must be letters, digits, _ or -, got "${stage}"`);
  if (!options.routes || typeof options.routes !== 'object') throw new TypeError('startGateway needs a routes map (routeKey -> handler)');
  if (typeof options.twoWayRoutes?.has !== 'function') throw new TypeError('startGateway needs twoWayRoutes, a Set of route keys');
  for (const [routeKey, handler] of Object.entries(options.routes)) {
    if (typeof handler !== 'function') throw new TypeError(`the handler of route ${routeKey} is not a function`);
  }
  // Every option is checked before anything listens: a bad one leaves nothing open.
  resolveLimits(options);
  const faults = new FaultInjector(options.faults ?? {});
  const counters = newCounters();

  const server = createServer();
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const engine = new Engine(
    { apiId, stage, domainName: `${host}:${port}`, region: options.region ?? LOCAL_REGION, accountId: options.accountId ?? LOCAL_ACCOUNT },
    port,
    options,
  );
  server.on('request', managementHandler(engine, faults, counters, stage));
  const sockets = attachWebSockets(server, engine, stage, { allowOrigin: options.allowOrigin, maxBufferedBytes: options.maxBufferedBytes });
  // Referenced on purpose: a gateway nobody closed keeps the process up, visibly, instead of leaking quietly.
  const sweeper = setInterval(() => engine.sweep(), sweepIntervalMs(engine));

  let closed: Promise<void> | undefined;
  const close = async () => {
    engine.closing = true;
    clearInterval(sweeper);
    for (const conn of [...engine.connections.values()]) void engine.serverClose(conn, CLOSE.goingAway);
    engine.wakeSleepers();
    await engine.drain();
    await sockets.closeAll(CLOSE_GRACE_MS);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    url: `ws://${host}:${port}/${stage}`,
    managementEndpoint: `http://${host}:${port}/${stage}`,
    port,
    stage,
    apiId,
    setFaults: (f) => faults.set(f),
    stats: () => ({ ...counters, connections: engine.connections.size }),
    connectVirtual: async (opts) => {
      if (options.allowOrigin) {
        const origin = Object.entries(opts?.headers ?? {}).find(([name]) => name.toLowerCase() === 'origin')?.[1];
        if (!options.allowOrigin(origin)) throw new ConnectRejectedError(403, '{"message":"Forbidden"}');
      }
      return connectVirtual(engine, opts);
    },
    close: () => (closed ??= close()),
  };
}
