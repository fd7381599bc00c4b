/** Small helpers shared by the local HTTP endpoints (SQS, EventBridge, demo). */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_HOST } from './constants';

/** Listen on host:port (0 = any free port) and resolve with the `http://host:port` base URL. */
export function listen(server: Server, port = 0, host = LOCAL_HOST): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve(`http://${host}:${address.port}`);
    });
  });
}

/** Close a server and every keep-alive connection it still holds. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body is larger than ${limit} bytes`);
  }
}

/** The whole request body; rejects past `limit` bytes rather than buffering without end. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError(limit));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
