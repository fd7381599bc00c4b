/**
 * A TCP proxy in front of the local gateway whose "network" can vanish: while blackholed, every
 * byte either way is dropped and new connections are held, but no socket is closed — what a
 * phone entering a tunnel looks like to both ends. The gateway keeps the old connection and its
 * posts "succeed"; the client only notices through its heartbeat.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface BlackholeProxy {
  /** ws://127.0.0.1:PORT/<stage>: the gateway's URL through the proxy. */
  url: string;
  /** Drop everything for `ms`, then let traffic through again. */
  blackhole(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBlackholeProxy(target: string): Promise<BlackholeProxy> {
  const upstream = new URL(target.replace(/^ws/, 'http'));
  let dark = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    const open = () => {
      const gateway = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
      sockets.add(gateway);
      client.on('data', (chunk) => dark || gateway.write(chunk));
      gateway.on('data', (chunk) => dark || client.write(chunk));
      for (const [a, b] of [
        [client, gateway],
        [gateway, client],
      ] as const) {
        a.on('close', () => b.destroy());
        a.on('error', () => b.destroy());
      }
    };
    // A connection made while the network is gone gets nowhere until it is back.
    if (!dark) open();
    else {
      client.pause();
      const wait = setInterval(() => {
        if (dark) return;
        clearInterval(wait);
        client.resume();
        open();
      }, 20);
      client.on('close', () => clearInterval(wait));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}${upstream.pathname}`,
    async blackhole(ms) {
      dark = true;
      await new Promise((r) => setTimeout(r, ms));
      dark = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
